// One tab per machine; a templated machine's instances share one tab with their count.

import { clear, el } from "./dom.js";

export class TabBar {
  /**
   * @param {HTMLElement} container
   * @param {(key: string) => void} onSelect
   */
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    container.addEventListener("click", (event) => {
      const tab = event.target.closest("[data-tab]");
      if (tab) this.onSelect(tab.dataset.tab);
    });
  }

  /** Draw the tabs of `groups` (from MachineStore.groups()) with `selected` active. */
  render(groups, selected) {
    clear(this.container);
    for (const group of groups.values()) {
      const active = group.key === selected;
      const count = group.members.length;
      const tab = el(
        "button",
        {
          className: active ? "tab active" : "tab",
          data: { tab: group.key },
          attrs: { type: "button", role: "tab", "aria-selected": active },
          title: count > 1 ? `${group.key}: ${count} instances` : group.members[0]?.machine_name,
        },
        el("span", { className: "tab-label", text: group.key }),
        group.templated || count > 1 ? el("span", { className: "count", text: count }) : null,
      );
      this.container.append(tab);
    }
  }
}
