"""Which arrow and label the UI's diagram marks as the last transition, in headless Chromium.

The monitor runs in-process in a thread of its own (browser_support.py); the tests publish
state changes into its hub, as a runtime would, and read back from the
page what is marked: each marked path by the state nodes its two ends touch, each marked
label by its text and whether that text fits the box Mermaid drew for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from .browser_support import TIMEOUT_MS, MonitorThread

pytestmark = pytest.mark.slow

#: the README's machine: one self-loop among ordinary and wildcard transitions
HELLO_YAML = """\
initial_state: waiting
final_states: [stopped]
states: [waiting, greeting, stopped]
events: [greet, job_done, stop]
transitions:
  - {from: waiting, to: greeting, event: greet}
  - {from: greeting, to: waiting, event: job_done}
  - {from: waiting, to: waiting, event: timeout(10)}
  - {from: "*", to: stopped, event: stop}
"""

#: two self-loops on one state (Mermaid draws one loop per node) around an ordinary arrow
LOOPS_YAML = """\
initial_state: waiting
states: [waiting, working, stopped]
events: [new_job, batch_complete, job_done, stop]
transitions:
  - {from: waiting, to: waiting, event: "timeout(10)"}
  - {from: waiting, to: working, event: new_job}
  - {from: working, to: waiting, event: batch_complete}
  - {from: waiting, to: waiting, event: job_done}
  - {from: "*", to: stopped, event: stop}
"""

# Each marked element of the diagram, as
# ["path", <state at its start>, <state at its end>, <Mermaid edge id>] or
# ["label", <text>, <text fits its box>, <Mermaid edge id>].
MARKED = """() => {
    const diagram = document.querySelector("#diagram");
    const nodes = [...diagram.querySelectorAll("g.node[data-state-id]")];
    const touching = (point) => {
        const hits = nodes.filter((node) => {
            const box = node.getBoundingClientRect();
            return point.x >= box.left - 4 && point.x <= box.right + 4
                && point.y >= box.top - 4 && point.y <= box.bottom + 4;
        });
        return hits.length === 1 ? hits[0].dataset.stateId : null;
    };
    const onScreen = (path, length) => {
        const point = path.getPointAtLength(length);
        return new DOMPoint(point.x, point.y).matrixTransform(path.getScreenCTM());
    };
    return [...diagram.querySelectorAll(".sm-last-transition")].map((element) => {
        if (element.tagName.toLowerCase() === "path") {
            const length = element.getTotalLength();
            return ["path", touching(onScreen(element, 0)), touching(onScreen(element, length)),
                element.dataset.id];
        }
        const range = document.createRange();
        range.selectNodeContents(element);
        const text = range.getBoundingClientRect();
        const box = element.closest("foreignObject")?.getBoundingClientRect() ?? element
            .querySelector("foreignObject").getBoundingClientRect();
        const fits = text.left >= box.left - 0.5 && text.right <= box.right + 0.5;
        const label = element.closest(".edgeLabel:not(span)").querySelector(".label");
        return ["label", element.textContent.trim(), fits, label.dataset.id];
    });
}"""


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[MonitorThread]:
    (tmp_path / "hello.yaml").write_text(HELLO_YAML)
    (tmp_path / "loops.yaml").write_text(LOOPS_YAML)
    with MonitorThread(tmp_path) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == []


class Diagram:
    """One machine of one config shown in the monitor's diagram view."""

    def __init__(self, monitor: MonitorThread, page: Page, config: str, state: str) -> None:
        self.monitor = monitor
        self.page = page
        self.count = 0
        monitor.publish("m1", "machine_registered", config_type=config, current_state=state)
        page.goto(monitor.url)
        page.wait_for_selector(f"#diagram[data-rendered='true'][data-active-node='{state}']")

    def fire(self, from_state: str, to_state: str, event: str) -> list[list[Any]]:
        """Publish one transition; what the diagram marks once it has taken it in."""
        self.count += 1
        self.monitor.publish(
            "m1", "state_change", from_state=from_state, to_state=to_state, event_trigger=event
        )
        # the activity log lists each transition once the UI has handled it
        self.page.wait_for_function(
            "(count) => document.querySelectorAll('#log .log-entry').length >= count + 1",
            arg=self.count,
        )
        self.page.wait_for_selector(f"#diagram[data-active-node='{to_state}']")
        marked: list[list[Any]] = self.page.evaluate(MARKED)
        return marked

    def label_texts(self) -> list[str]:
        texts: list[str] = self.page.locator("#diagram .edgeLabel p").all_inner_texts()
        return texts


def assert_marks(marked: list[list[Any]], source: str, target: str, event: str) -> None:
    """Exactly the arrow source -> target and the label ``event`` of that same arrow."""
    paths = [m for m in marked if m[0] == "path"]
    labels = [m for m in marked if m[0] == "label"]
    assert [m[1:3] for m in paths] == [[source, target]], marked
    assert [m[1:3] for m in labels] == [[event, True]], marked
    assert paths[0][3] == labels[0][3], marked


@pytest.mark.parametrize("config", ["hello", "loops"])
def test_a_self_loop_marks_its_own_arrow_and_label(
    monitor: MonitorThread, page: Page, config: str
) -> None:
    diagram = Diagram(monitor, page, config, "waiting")
    marked = diagram.fire("waiting", "waiting", "timeout(10)")
    assert_marks(marked, "waiting", "waiting", "timeout(10)")
    assert page.locator("#diagram").get_attribute("data-last-event") == "timeout(10)"


@pytest.mark.parametrize("config", ["hello", "loops"])
def test_a_wildcard_transition_marks_the_arrow_from_any_state(
    monitor: MonitorThread, page: Page, config: str
) -> None:
    diagram = Diagram(monitor, page, config, "waiting")
    diagram.fire("waiting", "waiting", "timeout(10)")
    marked = diagram.fire("waiting", "stopped", "stop")
    assert_marks(marked, "any_state", "stopped", "stop")


def test_an_ordinary_transition_marks_its_arrow_and_the_label_keeps_its_width(
    monitor: MonitorThread, page: Page
) -> None:
    diagram = Diagram(monitor, page, "loops", "waiting")
    assert_marks(diagram.fire("waiting", "working", "new_job"), "waiting", "working", "new_job")
    marked = diagram.fire("working", "waiting", "batch_complete")
    assert_marks(marked, "working", "waiting", "batch_complete")


def test_every_self_loop_of_a_state_is_drawn_and_marked_alone(
    monitor: MonitorThread, page: Page
) -> None:
    diagram = Diagram(monitor, page, "loops", "waiting")
    loop_labels = [t for t in diagram.label_texts() if "timeout(10)" in t or "job_done" in t]
    assert [t.split() for t in loop_labels] == [["timeout(10)", "job_done"]]
    assert_marks(diagram.fire("waiting", "waiting", "job_done"), "waiting", "waiting", "job_done")
    marked = diagram.fire("waiting", "waiting", "timeout(10)")
    assert_marks(marked, "waiting", "waiting", "timeout(10)")
