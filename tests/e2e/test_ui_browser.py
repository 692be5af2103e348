"""The monitor UI in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

The monitor runs in-process on free ports, in a thread of its own (Playwright's sync API
owns this one), and the tests publish machine events straight into its hub. Screenshots of
the diagram and Kanban views go to test-artifacts/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page

from .browser_support import TIMEOUT_MS, MonitorThread

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

WORKER_YAML = """\
name: Worker
template: true
initial_state: waiting
state_groups:
  INTAKE: [waiting, claiming]
  WORK: [processing, reporting]
  DONE: [completed]
states: [waiting, claiming, processing, reporting, completed]
transitions:
  - {from: waiting, to: claiming, event: new_job}
  - {from: claiming, to: processing, event: claimed}
  - {from: processing, to: reporting, event: processed}
  - {from: reporting, to: completed, event: reported}
  - {from: "*", to: completed, event: stop}
"""

CONTROLLER_YAML = """\
name: Controller
initial_state: idle
states:
  # === MAIN LOOP ===
  - idle
  - dispatching
  # === SHUTDOWN ===
  - stopped
transitions:
  - {from: idle, to: dispatching, event: dispatch}
  - {from: dispatching, to: idle, event: dispatched}
  - {from: "*", to: stopped, event: stop}
"""


class PageWatch:
    """Console errors, uncaught exceptions and dialogs of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[MonitorThread]:
    (tmp_path / "worker.yaml").write_text(WORKER_YAML)
    (tmp_path / "controller.yaml").write_text(CONTROLLER_YAML)
    with MonitorThread(tmp_path) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, PageWatch]]:
    # The page's Content-Security-Policy stays on: waits below are functions, never strings
    # to evaluate (which the policy forbids, as it does for any injected script).
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = PageWatch(page)
    yield page, watch
    context.close()
    assert watch.errors == []
    assert watch.dialogs == []


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def open_monitor(page: Page, monitor: MonitorThread) -> None:
    page.goto(monitor.url)
    page.wait_for_selector("#connection[data-state='connected']")


def kanban_state_of(page: Page, machine: str) -> str | None:
    result = page.evaluate(
        """(name) => {
            const card = document.querySelector(`#kanban .kanban-card[data-machine="${name}"]`);
            return card ? card.closest(".kanban-state").dataset.state : null;
        }""",
        machine,
    )
    return result if isinstance(result, str) else None


def counts(page: Page) -> dict[str, str]:
    """The instance counts of the header, the worker tab and the active filter chip."""
    return {
        "header": page.locator("#stat-machines").inner_text(),
        "tab": page.locator("#tabs [data-tab='worker'] .count").inner_text(),
        "chip": page.locator("#filters .chip.active .count").inner_text(),
    }


def test_machine_appears_in_its_diagram_with_the_state_lit(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, _ = page
    monitor.register("controller", "controller", "idle")
    open_monitor(browser_page, monitor)
    browser_page.wait_for_selector("#tabs [data-tab='controller'].active")
    browser_page.wait_for_selector("#diagram[data-rendered='true']")
    active = browser_page.locator("#diagram .sm-active")
    assert active.count() == 1
    assert active.get_attribute("data-state-id") == "idle"
    # the state group is drawn as a composite state around it
    assert browser_page.locator("#diagram g.statediagram-cluster.sm-active-group").count() == 1
    assert browser_page.locator("#stat-machines").inner_text() == "1"
    screenshot(browser_page, "ui-diagram.png")
    # a state group opens its own diagram; the breadcrumb leads back to the overview
    browser_page.click("#diagram g.statediagram-cluster[data-composite='MAINLOOP']")
    browser_page.wait_for_selector(
        "#diagram[data-diagram='MAINLOOP'][data-rendered='true'][data-active-node='idle']"
    )
    assert browser_page.locator("#breadcrumb .crumb.current").inner_text() == "MAIN LOOP"
    browser_page.click("#breadcrumb [data-diagram='main']")
    browser_page.wait_for_selector("#diagram[data-diagram='main'][data-rendered='true']")


def test_transition_moves_the_highlight_and_marks_the_arrow(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, _ = page
    monitor.register("controller", "controller", "idle")
    open_monitor(browser_page, monitor)
    browser_page.wait_for_selector("#diagram[data-rendered='true'][data-active-node='idle']")
    monitor.move("controller", "idle", "dispatching", "dispatch")
    browser_page.wait_for_selector("#diagram[data-active-node='dispatching']")
    assert browser_page.locator("#diagram .sm-active").get_attribute("data-state-id") == (
        "dispatching"
    )
    marked = browser_page.locator("#diagram path.sm-last-transition")
    assert marked.count() == 1
    assert marked.get_attribute("data-event") == "dispatch"
    # a wildcard transition marks the arrow from "any state"
    monitor.move("controller", "dispatching", "stopped", "stop")
    browser_page.wait_for_selector("#diagram[data-active-node='stopped']")
    marked = browser_page.locator("#diagram path.sm-last-transition")
    assert marked.get_attribute("data-event") == "stop"
    screenshot(browser_page, "ui-diagram-transition.png")


def test_five_instances_share_one_tab_and_move_across_kanban_columns(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, _ = page
    names = [f"worker_{i:03d}" for i in range(1, 6)]
    for name in names:
        monitor.register(name, "worker", "waiting")
    monitor.register("controller", "controller", "idle")
    open_monitor(browser_page, monitor)
    tab = browser_page.locator("#tabs [data-tab='worker']")
    tab.wait_for()
    assert tab.locator(".count").inner_text() == "5"
    assert browser_page.locator("#tabs [data-tab^='worker_']").count() == 0
    tab.click()
    browser_page.wait_for_selector("#kanban:not([hidden]) .kanban-board[data-tab='worker']")
    columns = browser_page.locator("#kanban .kanban-column-title").all_inner_texts()
    assert columns == ["INTAKE", "WORK", "DONE"]
    assert all(kanban_state_of(browser_page, name) == "waiting" for name in names)

    monitor.move("worker_002", "waiting", "claiming", "new_job")
    monitor.move("worker_003", "waiting", "claiming", "new_job")
    monitor.move("worker_003", "claiming", "processing", "claimed")
    monitor.move("worker_004", "waiting", "completed", "stop")
    browser_page.wait_for_function(
        """() => {
            const where = (n) => document.querySelector(`.kanban-card[data-machine="${n}"]`)
                ?.closest(".kanban-state")?.dataset.state;
            return where("worker_002") === "claiming" && where("worker_003") === "processing"
                && where("worker_004") === "completed";
        }"""
    )
    count = browser_page.locator(".kanban-state[data-state='waiting'] .count")
    assert count.inner_text() == "2"
    screenshot(browser_page, "ui-kanban.png")

    # an instance that ends stays on the board, marked, and the counts agree everywhere
    monitor.publish(
        "worker_005",
        "machine_terminated",
        config_type="worker",
        final_state="completed",
        reason="final",
    )
    browser_page.wait_for_selector(
        ".kanban-card[data-machine='worker_005'][data-status='finished']"
    )
    # a normal end says where it ended, not a warning
    end = browser_page.locator("#log .log-entry[data-machine='worker_005']").first
    assert end.get_attribute("data-level") == "success"
    assert end.locator(".log-message").inner_text() == "Finished in state completed"
    assert counts(browser_page) == {"header": "6", "tab": "5", "chip": "6"}
    browser_page.click("#filters [data-filter='running']")
    browser_page.wait_for_selector(".kanban-card[data-machine='worker_005']", state="detached")
    assert counts(browser_page) == {"header": "5", "tab": "4", "chip": "5"}
    assert browser_page.locator("#filters [data-filter='finished'] .count").inner_text() == "1"
    browser_page.click("#filters [data-filter='all']")
    browser_page.wait_for_selector(".kanban-card[data-machine='worker_005']")
    # the toggle button and the K key switch a tab between Kanban and diagram
    browser_page.keyboard.press("k")
    browser_page.wait_for_selector("#diagram:not([hidden])[data-rendered='true']")
    # the templated diagram lights the state of the instance that moved last, and says whose
    browser_page.wait_for_selector("#diagram[data-active-node='completed']")
    caption = browser_page.locator("#diagram .diagram-caption").inner_text()
    assert "Showing worker_004 (changed last)" in caption
    assert browser_page.locator("#kanban").is_hidden()
    browser_page.click("#view-toggle")
    browser_page.wait_for_selector("#kanban:not([hidden])")


def test_template_flag_folds_instances_with_any_names(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, _ = page
    for name in ("ingest-east", "ingest-west", "ingest-north"):
        monitor.publish(
            name, "machine_registered", config_type="worker", current_state="waiting", template=True
        )
    open_monitor(browser_page, monitor)
    tab = browser_page.locator("#tabs [data-tab='worker']")
    tab.wait_for()
    assert tab.locator(".count").inner_text() == "3"
    assert browser_page.locator("#tabs .tab").count() == 1
    browser_page.wait_for_selector("#kanban:not([hidden]) .kanban-card[data-machine='ingest-west']")


def test_activity_log_shows_events_as_text(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, watch = page
    monitor.register("controller", "controller", "idle")
    open_monitor(browser_page, monitor)
    payload = "<img src=x onerror=alert(1)>"
    monitor.publish("controller", "activity_log", message=payload, level="info")
    monitor.publish(
        "controller",
        "activity_log",
        message="hello\n<script>alert(2)</script>",
        level="info",
        stream="stdout",
    )
    monitor.publish("controller", "error", error_message="<b>boom</b>", job_id="j1")
    monitor.publish("<i>odd</i>", "activity_log", message="from a strange name")
    log = browser_page.locator("#log")
    browser_page.wait_for_function(
        "() => document.querySelector('#log').textContent.includes('from a strange name')"
    )
    text = log.inner_text()
    assert payload in text
    assert "<script>alert(2)</script>" in text
    assert "<b>boom</b> (job j1)" in text
    assert log.locator(".log-tag").all_inner_texts() == ["stdout"]
    assert "<i>odd</i>" in text
    assert log.locator("img, script, b, i").count() == 0
    assert browser_page.locator("img").count() == 0
    errors = browser_page.locator("#log .log-entry.level-error")
    assert errors.count() == 1
    # filter by machine
    browser_page.select_option("#log-filter", "<i>odd</i>")
    visible = [e for e in log.locator(".log-entry").all() if e.is_visible()]
    assert [e.locator(".log-machine").inner_text() for e in visible] == ["<i>odd</i>"]
    browser_page.wait_for_timeout(300)  # give an injected handler the chance to fire
    assert watch.dialogs == []
    assert browser_page.evaluate("typeof window.__xss") == "undefined"


def test_reconnects_after_the_connection_drops(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, _ = page
    open_monitor(browser_page, monitor)
    assert monitor.server is not None
    monitor.call(monitor.server.hub.close)  # every client is disconnected
    browser_page.wait_for_selector("#connection[data-state='disconnected']")
    monitor.register("controller", "controller", "idle")
    # the first retry comes after 1 s; the new snapshot brings the machine registered meanwhile
    browser_page.wait_for_selector("#connection[data-state='connected']")
    browser_page.wait_for_selector("#tabs [data-tab='controller']")


def test_kanban_of_1000_instances_updates_within_100_ms(
    monitor: MonitorThread, page: tuple[Page, PageWatch]
) -> None:
    browser_page, _ = page
    names = [f"worker_{i:04d}" for i in range(1000)]
    for name in names:
        monitor.register(name, "worker", "waiting")
    open_monitor(browser_page, monitor)
    browser_page.wait_for_function(
        "() => document.querySelectorAll('#kanban .kanban-card').length === 1000"
    )
    browser_page.evaluate(
        """() => {
            window.__moves = [];
            new MutationObserver((records) => {
                const now = Date.now();
                for (const r of records) for (const n of r.addedNodes) {
                    if (n.dataset && n.dataset.machine) {
                        window.__moves.push([n.dataset.machine, n.parentElement
                            .closest('.kanban-state').dataset.state, now]);
                    }
                }
            }).observe(document.querySelector('#kanban'), {childList: true, subtree: true});
        }"""
    )
    sent: dict[str, float] = {}
    for i, name in enumerate(names[:50]):
        sent[name] = monitor.move(name, "waiting", "claiming", "new_job") * 1000
        # background traffic: other instances moving at the same time
        monitor.move(names[500 + i], "waiting", "processing", "claimed")
        time.sleep(0.02)
    browser_page.wait_for_function(
        "() => window.__moves.filter((m) => m[1] === 'claiming').length === 50"
    )
    moves: list[list[Any]] = browser_page.evaluate("window.__moves")
    delays = sorted(at - sent[name] for name, state, at in moves if state == "claiming")
    report = {"median_ms": delays[len(delays) // 2], "max_ms": delays[-1]}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "ui-kanban-1000.json").write_text(json.dumps(report, indent=2))
    assert delays[len(delays) // 2] <= 100, report
    assert delays[int(len(delays) * 0.9)] <= 100, report
