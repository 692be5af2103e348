"""The UI's diagram as a reader meets it, in headless Chromium at 1024 px: labels apart,
text readable, zoom and pan, and a missing diagram that says what finds it.

The monitor runs in-process in a thread of its own (browser_support.py); the tests publish
machine events into its hub, as a runtime would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from .browser_support import TIMEOUT_MS, MonitorThread

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: the README's hello.yaml: its self-loop label covered its neighbour ("timeout(10)one")
HELLO_YAML = """\
metadata: {machine_name: hello}
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

#: every label's text and its box on screen
LABELS = """() => [...document.querySelectorAll("#diagram g.edgeLabel")]
    .filter((g) => g.textContent.trim())
    .map((g) => { const b = g.getBoundingClientRect();
                  return [g.textContent.trim(), b.left, b.top, b.right, b.bottom]; })"""


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[MonitorThread]:
    (tmp_path / "hello.yaml").write_text(HELLO_YAML)
    with MonitorThread(tmp_path) as running:
        yield running


@pytest.fixture
def errors() -> list[str]:
    """The page's uncaught exceptions and console errors (none allowed at the end)."""
    return []


@pytest.fixture
def page(browser: Browser, errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def open_hello(monitor: MonitorThread, page: Page) -> None:
    monitor.register("hello", "hello", "waiting")
    page.goto(monitor.url)
    page.wait_for_selector("#diagram[data-rendered='true'][data-active-node='waiting']")


def scale(page: Page) -> float:
    return float(page.locator("#diagram .diagram-frame").get_attribute("data-scale") or "nan")


def test_hello_labels_do_not_overlap_and_text_is_readable_at_1024_px(
    monitor: MonitorThread, page: Page
) -> None:
    open_hello(monitor, page)
    labels: list[list[Any]] = page.evaluate(LABELS)
    assert sorted(label[0] for label in labels) == [
        "greet",
        "job_done",
        "stop",
        "timeout(10)",
    ]
    for index, (text, left, top, right, bottom) in enumerate(labels):
        for other, o_left, o_top, o_right, o_bottom in labels[index + 1 :]:
            apart = right <= o_left or o_right <= left or bottom <= o_top or o_bottom <= top
            assert apart, f"{text!r} overlaps {other!r}: {labels}"
    # a state's name is drawn at 12 px or more on screen
    heights = page.evaluate(
        """() => [...document.querySelectorAll("#diagram g.node .nodeLabel")]
            .map((n) => n.getBoundingClientRect().height)"""
    )
    assert heights and min(heights) >= 12, heights
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-diagram-1024.png"), full_page=True)


def test_the_diagram_zooms_with_buttons_and_wheel_pans_by_drag_and_resets(
    monitor: MonitorThread, page: Page
) -> None:
    open_hello(monitor, page)
    start = scale(page)
    page.click("#diagram [data-zoom='in']")
    assert scale(page) == pytest.approx(start * 1.25, rel=1e-3)
    page.click("#diagram [data-zoom='out']")
    page.click("#diagram [data-zoom='out']")
    assert scale(page) == pytest.approx(start / 1.25, rel=1e-3)
    frame = page.locator("#diagram .diagram-frame")
    box = frame.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "(s) => Number(document.querySelector('#diagram .diagram-frame').dataset.scale) > s",
        arg=start / 1.25,
    )
    # a drag moves the drawing by as much as the pointer moved
    node = page.locator("#diagram g.node[data-state-id='waiting']")
    before = node.bounding_box()
    assert before is not None
    x, y = box["x"] + 20, box["y"] + 20
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=5)
    page.mouse.up()
    after = node.bounding_box()
    assert after is not None
    assert (after["x"] - before["x"], after["y"] - before["y"]) == (
        pytest.approx(60, abs=1),
        pytest.approx(40, abs=1),
    )
    page.click("#diagram [data-zoom='reset']")
    assert scale(page) == pytest.approx(start, rel=1e-3)


def test_a_missing_diagram_says_why_and_names_the_project_root_flag(
    monitor: MonitorThread, page: Page, errors: list[str]
) -> None:
    monitor.register("elsewhere", "elsewhere", "idle")
    page.goto(monitor.url)
    page.wait_for_selector("#diagram[data-rendered='error']")
    message = page.locator("#diagram .diagram-error").inner_text()
    assert "No diagram for elsewhere" in message
    assert "--project-root" in message
    # the browser logs the 404s of the diagram's requests, and nothing else
    assert errors and all("status of 404" in e for e in errors), errors
    errors.clear()
