"""The monitor's history, instance view, jobs view and operator actions, in headless Chromium.

Real ``statemachine`` processes write one SQLite database and publish on one event socket;
the monitor (in a thread of this process) reads that database and relays those events; the
page is driven as an operator would. Screenshots of each view go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from .browser_support import TIMEOUT_MS, MonitorThread, Runtimes

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TOKEN = "operator-token-for-tests"

#: ends on its own: one bash line, then its final state
GREETER_YAML = """\
name: Greeter
initial_state: greeting
final_states: [done]
states: [greeting, done]
events: [greeted]
transitions:
  - {from: greeting, to: done, event: greeted}
actions:
  greeting:
    - {type: bash, command: "echo hello from the greeter", success: greeted}
"""

#: moves only when told: go / done / stop
PIPELINE_YAML = """\
name: Pipeline
template: true
initial_state: waiting
final_states: [stopped]
states: [waiting, working, stopped]
events: [go, done, stop]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: waiting, event: done}
  - {from: "*", to: stopped, event: stop}
"""

#: takes uitask jobs; one fails (for good) until the file ready.flag exists
JOBWORKER_YAML = """\
name: Job worker
initial_state: waiting
final_states: [stopped]
states: [waiting, processing, finishing, failing, stopped]
events: [new_job, no_jobs, job_done, error, job_completed, job_failed, stop]
transitions:
  - {from: waiting, to: processing, event: new_job}
  - {from: waiting, to: waiting, event: no_jobs}
  - {from: processing, to: finishing, event: job_done}
  - {from: processing, to: failing, event: error}
  - {from: finishing, to: waiting, event: job_completed}
  - {from: failing, to: waiting, event: job_failed}
  - {from: "*", to: stopped, event: stop}
actions:
  waiting:
    - {type: check_database_queue, job_type: uitask, machine_type: uitask, wait: 1}
  processing:
    - {type: bash, command: "test -f ready.flag", success: job_done}
  finishing:
    - {type: complete_job, success: job_completed}
  failing:
    - {type: fail_job, retry: false, reason: "ready.flag is missing", success: job_failed}
"""


@pytest.fixture
def runtimes(tmp_path: Path, sock_dir: Path) -> Iterator[Runtimes]:
    for name, text in (
        ("greeter.yaml", GREETER_YAML),
        ("pipeline.yaml", PIPELINE_YAML),
        ("jobworker.yaml", JOBWORKER_YAML),
    ):
        (tmp_path / name).write_text(text)
    with Runtimes(tmp_path, sock_dir) as running:
        yield running


@contextlib.contextmanager
def start_monitor(runtimes: Runtimes, page: Page) -> Iterator[MonitorThread]:
    """The monitor on the runtimes' database and event socket; the page leaves it before it
    stops (a page left open would log its failed reconnects as errors)."""
    with MonitorThread(
        runtimes.root,
        db=runtimes.db,
        event_socket_path=runtimes.event_socket,
        write_token=TOKEN,
    ) as monitor:
        yield monitor
        page.goto("about:blank")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # 1024 px wide: the narrowest screen the monitor is meant to be read on
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console error: {message.text}")

    page.on("console", console)
    yield page
    context.close()
    assert errors == []


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def send_control(runtimes: Runtimes, machine: str, event: str) -> None:
    """Send an event straight to a machine's control socket, as another program would."""
    rows = runtimes.query("SELECT endpoint FROM machine_state WHERE machine_name = ?", machine)
    assert rows and rows[0]["endpoint"], rows
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(rows[0]["endpoint"])
        conn.sendall(json.dumps({"type": event}).encode() + b"\n")
        conn.recv(4096)


def log_lines(page: Page, machine: str, message: str) -> int:
    """How many lines of the activity log are ``message`` of ``machine``."""
    count: int = page.evaluate(
        """([machine, message]) => [...document.querySelectorAll("#log .log-entry")]
            .filter((e) => e.dataset.machine === machine
                && e.querySelector(".log-message").textContent === message).length""",
        [machine, message],
    )
    return count


def card_state(page: Page, machine: str) -> Any:
    return page.evaluate(
        """(name) => document.querySelector(`#kanban .kanban-card[data-machine="${name}"]`)
            ?.closest(".kanban-state")?.dataset.state ?? null""",
        machine,
    )


def test_a_run_that_ended_before_the_page_opened_is_shown_from_the_store(
    runtimes: Runtimes, page: Page
) -> None:
    name = runtimes.name("greeter")
    runtimes.run(runtimes.root / "greeter.yaml", name)
    with start_monitor(runtimes, page) as monitor:
        page.goto(monitor.url)
        page.wait_for_selector("body[data-history='loaded']")
        # the machine, ended, with its final state lit; a normal end is not a warning
        page.wait_for_selector(f"#tabs [data-tab='{name}'].active")
        page.wait_for_selector("#diagram[data-rendered='true'][data-active-node='done']")
        assert page.locator("#filters [data-filter='finished'] .count").inner_text() == "1"
        assert page.locator("#filters [data-filter='running'] .count").inner_text() == "0"
        assert page.locator("#stat-machines").inner_text() == "1"
        # the activity log backfilled from the store, newest first
        log = page.locator("#log .log-entry .log-message").all_inner_texts()
        assert "greeting -> done (greeted)" in log, log
        assert page.locator("#log .level-warning").count() == 0
        screenshot(page, "ui-history.png")
        # its instance view: the path taken and the timeline from the store
        page.click("#open-instance")
        page.wait_for_selector(f"#view-instance[data-machine='{name}']:not([hidden])")
        page.wait_for_selector("#instance-diagram[data-rendered='true'][data-active-node='done']")
        assert page.locator("#instance-status").inner_text() == "finished"
        page.wait_for_selector("#timeline .log-entry[data-kind='transition']")
        assert "greeting -> done (greeted)" in page.locator("#timeline").inner_text()
        page.wait_for_selector("#instance-diagram[data-visited='1']")
        assert page.locator("#instance-diagram path.sm-visited").count() == 1
        # a finished machine cannot be stopped
        assert page.locator("#instance-stop").is_disabled()


def test_a_card_moves_opens_its_instance_and_an_event_sent_from_the_page_moves_it(
    runtimes: Runtimes, page: Page
) -> None:
    first, second = runtimes.name("pipe_01"), runtimes.name("pipe_02")
    config = runtimes.root / "pipeline.yaml"
    with start_monitor(runtimes, page) as monitor:
        runtimes.start(config, first)
        runtimes.start(config, second)
        # before the page opens, the second one moves (and is in the store's history)
        send_control(runtimes, second, "go")
        runtimes.wait(
            f"{second} in working",
            lambda: runtimes.query(
                "SELECT 1 FROM machine_state WHERE machine_name = ? AND current_state = ?",
                second,
                "working",
            ),
        )
        # the write token comes in the link's fragment and leaves the address bar
        page.goto(f"{monitor.url}#token={TOKEN}")
        page.wait_for_selector("body[data-history='loaded']")
        assert "token" not in page.url
        assert log_lines(page, second, "waiting -> working (go)") == 1
        page.wait_for_selector("#tabs [data-tab='pipeline'] .count")
        page.click("#tabs [data-tab='pipeline']")
        page.wait_for_selector(f"#kanban .kanban-card[data-machine='{first}']")
        assert card_state(page, first) == "waiting"
        assert card_state(page, second) == "working"
        assert page.locator("#tabs [data-tab='pipeline'] .count").inner_text() == "2"
        assert page.locator("#stat-machines").inner_text() == "2"

        # a card moves when its machine does
        send_control(runtimes, first, "go")
        page.wait_for_function(
            """(name) => document.querySelector(`.kanban-card[data-machine="${name}"]`)
                ?.closest(".kanban-state")?.dataset.state === "working" """,
            arg=first,
        )
        card = page.locator(f".kanban-card[data-machine='{first}']")
        assert "last: go" in card.inner_text()
        screenshot(page, "ui-kanban-cards.png")

        # ... and opens its instance view: its own state, the path it took, its timeline
        card.click()
        page.wait_for_selector(f"#view-instance[data-machine='{first}']:not([hidden])")
        page.wait_for_selector(
            "#instance-diagram[data-rendered='true'][data-active-node='working']"
        )
        assert first in page.locator("#instance-diagram .diagram-caption").inner_text()
        page.wait_for_selector("#timeline .log-entry[data-kind='transition']")
        assert "waiting -> working (go)" in page.locator("#timeline").inner_text()

        # send `done` from the page: a bad payload is refused in the dialog first
        page.click("#instance-send")
        dialog = page.locator("dialog.modal[open]")
        dialog.locator("[data-role='event-type']").fill("done")
        dialog.locator("[data-role='payload']").fill("{not json")
        dialog.locator("[data-role='ok']").click()
        assert "not valid JSON" in dialog.locator(".dialog-error").inner_text()
        dialog.locator("[data-role='payload']").fill('{"reason": "from the UI"}')
        dialog.locator("[data-role='ok']").click()
        confirm = page.locator("dialog.modal[open]")
        assert "Send done to" in confirm.locator("h2").inner_text()
        confirm.locator("[data-role='ok']").click()
        page.wait_for_selector(".notice-success")
        page.wait_for_selector("#instance-diagram[data-active-node='waiting']")
        page.wait_for_function(
            "() => document.querySelector('#timeline').textContent"
            ".includes('working -> waiting (done)')"
        )
        assert page.locator("#instance-diagram path.sm-visited").count() >= 2
        screenshot(page, "ui-instance.png")

        # back on the board the card is in waiting again; the other stayed where it was
        page.click("#instance-back")
        page.wait_for_function(
            """(name) => document.querySelector(`.kanban-card[data-machine="${name}"]`)
                ?.closest(".kanban-state")?.dataset.state === "waiting" """,
            arg=first,
        )
        assert card_state(page, second) == "working"
        # the activity log has each transition once: history and live events merged
        assert log_lines(page, first, "waiting -> working (go)") == 1
        assert log_lines(page, first, "working -> waiting (done)") == 1
        assert log_lines(page, second, "waiting -> working (go)") == 1


def test_a_failed_job_retried_from_the_jobs_view_completes_and_the_audit_log_shows_it(
    runtimes: Runtimes, page: Page
) -> None:
    worker = runtimes.name("jobworker")
    with start_monitor(runtimes, page) as monitor:
        runtimes.db_command("add-job", "--type", "uitask", "job-ui-1")
        runtimes.start(runtimes.root / "jobworker.yaml", worker)
        runtimes.wait("job-ui-1 to fail", lambda: runtimes.job_status("job-ui-1") == "failed")
        page.goto(monitor.url)  # no token in the link: the first action asks for it
        page.wait_for_selector("body[data-history='loaded']")
        page.click("#nav [data-view='jobs']")
        row = page.locator("#jobs-body tr[data-job='job-ui-1']")
        row.wait_for()
        assert row.get_attribute("data-status") == "failed"
        assert "ready.flag is missing" in row.inner_text()
        page.wait_for_selector("#job-chips [data-status='failed'] .count:text('1')")
        page.wait_for_selector("#chart-jobs svg")
        screenshot(page, "ui-jobs-failed.png")

        (runtimes.root / "ready.flag").write_text("")
        row.locator("button[data-action='retry']").click()
        confirm = page.locator("dialog.modal[open]")
        assert "Retry job job-ui-1?" in confirm.locator("h2").inner_text()
        confirm.locator("[data-role='ok']").click()
        prompt = page.locator("dialog.modal[open]")
        prompt.locator("[data-role='token']").fill(TOKEN)
        prompt.locator("[data-role='ok']").click()
        page.wait_for_selector(".notice-success")
        # the jobs view refreshes itself: the job runs again and completes
        page.wait_for_selector(
            "#jobs-body tr[data-job='job-ui-1'][data-status='completed']", timeout=30_000
        )
        assert runtimes.job_status("job-ui-1") == "completed"
        screenshot(page, "ui-jobs-completed.png")

        # stop the worker from its instance view (the search box finds it)
        page.fill("#search", worker)
        page.locator(f"#search-results button[data-kind='machine'][data-id='{worker}']").click()
        page.wait_for_selector(f"#view-instance[data-machine='{worker}']:not([hidden])")
        page.click("#instance-stop")
        page.locator("dialog.modal[open] [data-role='ok']").click()
        # `stop` takes it to its final state: a normal end
        page.wait_for_selector("#instance-status[data-status='finished']", timeout=30_000)

        # the audit log has both actions, who did them and their result
        page.click("#nav [data-view='audit']")
        page.wait_for_selector("#audit-body tr[data-action='retry'][data-target='job-ui-1']")
        page.wait_for_selector(f"#audit-body tr[data-action='stop'][data-target='{worker}']")
        results = page.locator("#audit-body tr").evaluate_all(
            "(rows) => rows.map((r) => "
            "[r.dataset.action, r.dataset.result, r.children[1].textContent])"
        )
        assert ["retry", "ok"] in [r[:2] for r in results], results
        assert ["stop", "ok"] in [r[:2] for r in results], results
        assert all(r[2].startswith("ui:") for r in results), results
        screenshot(page, "ui-audit.png")


def test_the_jobs_view_filters_cancels_and_retries_every_failed_job_matching(
    runtimes: Runtimes, page: Page
) -> None:
    worker = runtimes.name("jobworker")
    failing = ["job-a-1", "job-a-2", "job-a-3"]
    with start_monitor(runtimes, page) as monitor:
        for job_id in failing:
            runtimes.db_command("add-job", "--type", "uitask", job_id)
        runtimes.db_command("add-job", "--type", "othertask", "job-other")
        runtimes.start(runtimes.root / "jobworker.yaml", worker)
        for job_id in failing:
            runtimes.wait(f"{job_id} to fail", lambda j=job_id: runtimes.job_status(j) == "failed")
        page.goto(f"{monitor.url}#token={TOKEN}")
        page.wait_for_selector("body[data-history='loaded']")
        page.click("#nav [data-view='jobs']")
        page.wait_for_selector("#jobs-body tr[data-job='job-other'][data-status='pending']")
        assert page.locator("#jobs-body tr").count() == 4

        # filters: type, status chip, job id
        page.fill("#job-type", "uitask")
        page.wait_for_function("() => document.querySelectorAll('#jobs-body tr').length === 3")
        page.click("#job-chips [data-status='failed']")
        page.wait_for_selector("#job-chips [data-status='failed'].active")
        assert {r.get_attribute("data-status") for r in page.locator("#jobs-body tr").all()} == {
            "failed"
        }
        page.fill("#job-type", "")
        page.click("#job-chips [data-status='all']")
        page.fill("#job-q", "job-other")
        page.wait_for_function("() => document.querySelectorAll('#jobs-body tr').length === 1")

        # cancel the pending job
        page.locator("#jobs-body tr[data-job='job-other'] button[data-action='cancel']").click()
        page.locator("dialog.modal[open] [data-role='ok']").click()
        page.wait_for_function(
            "() => document.querySelector(\"#jobs-body tr[data-job='job-other']\")"
            "?.dataset.status !== 'pending'"
        )
        assert runtimes.job_status("job-other") in ("cancelled", "failed")

        # retry every failed uitask job at once: they all complete
        (runtimes.root / "ready.flag").write_text("")
        page.fill("#job-q", "")
        page.fill("#job-type", "uitask")
        page.wait_for_function("() => document.querySelectorAll('#jobs-body tr').length === 3")
        page.click("#jobs-retry-failed")
        confirm = page.locator("dialog.modal[open]")
        assert "3 failed job(s) match: type = uitask" in confirm.inner_text()
        confirm.locator("[data-role='ok']").click()
        page.wait_for_selector(".notice-success:has-text('Retried 3 job(s)')")
        for job_id in failing:
            runtimes.wait(
                f"{job_id} to complete", lambda j=job_id: runtimes.job_status(j) == "completed"
            )
        page.wait_for_function(
            "() => [...document.querySelectorAll('#jobs-body tr')]"
            ".every((r) => r.dataset.status === 'completed')",
            timeout=30_000,
        )
        assert runtimes.job_status("job-other") != "pending"
        screenshot(page, "ui-jobs-bulk.png")


def test_a_long_timeline_is_paged(runtimes: Runtimes, page: Page) -> None:
    name = runtimes.name("pipe_07")
    with start_monitor(runtimes, page) as monitor:
        runtimes.start(runtimes.root / "pipeline.yaml", name)
        for _ in range(60):  # 120 transitions: more than one page of 100
            send_control(runtimes, name, "go")
            send_control(runtimes, name, "done")
        runtimes.wait(
            "120 transitions in the store",
            lambda: (
                runtimes.query(
                    "SELECT COUNT(*) AS n FROM state_transitions WHERE machine_name = ?", name
                )[0]["n"]
                >= 120
            ),
        )
        page.goto(monitor.url)
        page.wait_for_selector("body[data-history='loaded']")
        page.fill("#search", name)
        page.locator(f"#search-results button[data-kind='machine'][data-id='{name}']").click()
        page.wait_for_selector("#view-instance[data-timeline='100']")
        page.click("#timeline-more")
        page.wait_for_function(
            "() => document.querySelectorAll('#timeline .log-entry[data-kind=transition]')"
            ".length === 120"
        )
        assert page.locator("#timeline-more").is_hidden()
        # the oldest is last
        last = page.locator("#timeline .log-entry[data-kind='transition']").last.inner_text()
        assert "waiting -> working (go)" in last


def test_a_page_cut_off_from_the_monitor_catches_up_on_what_it_missed(
    runtimes: Runtimes, page: Page
) -> None:
    name = runtimes.name("pipe_09")
    with start_monitor(runtimes, page) as monitor:
        runtimes.start(runtimes.root / "pipeline.yaml", name)
        page.goto(monitor.url)
        page.wait_for_selector("#connection[data-state='connected']")
        page.wait_for_selector(f"#kanban .kanban-card[data-machine='{name}']")
        assert monitor.server is not None
        monitor.call(monitor.server.hub.close)  # every page is cut off
        page.wait_for_selector("#connection[data-state='disconnected']")
        # meanwhile the machine moves: the page reconnects after 1 s and asks the store
        send_control(runtimes, name, "go")
        page.wait_for_selector("#connection[data-state='connected']")
        page.wait_for_function(
            """(name) => document.querySelector(`.kanban-card[data-machine="${name}"]`)
                ?.closest(".kanban-state")?.dataset.state === "working" """,
            arg=name,
        )
        page.wait_for_function(
            """(name) => [...document.querySelectorAll("#log .log-entry")].some((e) =>
                e.dataset.machine === name && e.textContent.includes("waiting -> working"))""",
            arg=name,
        )
        # and shows it once, also when live events follow
        send_control(runtimes, name, "done")
        page.wait_for_function(
            """(name) => [...document.querySelectorAll("#log .log-entry")].some((e) =>
                e.dataset.machine === name && e.textContent.includes("working -> waiting"))""",
            arg=name,
        )
        assert log_lines(page, name, "waiting -> working (go)") == 1
        assert log_lines(page, name, "working -> waiting (done)") == 1


def test_a_job_is_shown_completed_only_when_the_store_says_so(
    runtimes: Runtimes, page: Page
) -> None:
    runtimes.db_command("add-job", "--type", "uitask", "job-done")
    runtimes.db_command("complete-job", "job-done")
    runtimes.db_command("add-job", "--type", "uitask", "job-lost")
    runtimes.db_command("fail-job", "job-lost", "--reason", "worker stopped")
    with start_monitor(runtimes, page) as monitor:
        page.goto(monitor.url)
        page.wait_for_selector("body[data-history='loaded']")
        # a machine stopped while holding a job reports it "completed": the store knows better
        for job_id in ("job-done", "job-lost"):
            monitor.publish("worker_01", "job_completed", job_id=job_id, status="completed")
        page.wait_for_function(
            """() => [...document.querySelectorAll("#log .log-message")]
                .some((m) => m.textContent === "Job job-lost failed: worker stopped")"""
        )
        lines = page.locator("#log .log-entry").evaluate_all(
            "(rows) => rows.map((r) => [r.dataset.level, "
            "r.querySelector('.log-message').textContent])"
        )
        assert ["success", "Job job-done completed"] in lines, lines
        assert ["error", "Job job-lost failed: worker stopped"] in lines, lines
        assert not any(text == "Job job-lost completed" for _, text in lines), lines
