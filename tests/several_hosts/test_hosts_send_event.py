"""``statemachine-db send-event`` from one host to a machine on another: through the target's
inbox in the database, reported delivered once the target's runtime took it; a target no
runtime takes the event for within ``--timeout`` is reported undelivered (exit 3)."""

from __future__ import annotations

import json

import pytest

from .conftest import STATEMACHINE_DB, Site

pytestmark = pytest.mark.slow

LISTENER = """\
metadata: {name: Listener}
initial_state: waiting
final_states: [stopped]
states: [waiting, pinged, stopped]
transitions:
  - {from: waiting, to: pinged, event: ping}
  - {from: "*", to: stopped, event: stop}
"""


def send_event(site: Site, host: str, target: str, *extra: str) -> tuple[int, dict[str, object]]:
    done = site.run(
        host,
        [
            STATEMACHINE_DB,
            "send-event",
            "--target",
            target,
            "--type",
            "ping",
            "--format",
            "json",
            *extra,
        ],
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_send_event_to_a_machine_on_another_host_reports_its_delivery(site: Site) -> None:
    site.machine("b", site.write("listener.yaml", LISTENER), "listener")
    site.wait(
        "listener registered on host b",
        lambda: site.value("SELECT host FROM machine_state WHERE machine_name = 'listener'") == "b",
    )
    code, report = send_event(site, "a", "listener", "--payload", '{"n": 1}')
    assert code == 0, report
    assert report["delivered"] is True
    assert report["note"] == "taken from its inbox by its runtime on host b"
    site.wait(
        "listener pinged",
        lambda: (
            site.value("SELECT current_state FROM machine_state WHERE machine_name = 'listener'")
            == "pinged"
        ),
    )
    statuses = site.query("SELECT status FROM machine_events WHERE target_machine = 'listener'")
    assert statuses == [{"status": "delivered"}]


def test_send_event_to_a_machine_no_host_runs_is_undelivered_and_waits_in_its_inbox(
    site: Site,
) -> None:
    code, report = send_event(site, "a", "nobody", "--timeout", "0.5")
    assert code == 3
    assert report["delivered"] is False
    assert "no runtime on any host took the event from its inbox within 0.5 s" in str(
        report["note"]
    )
    assert site.query("SELECT status FROM inbox WHERE target_machine = 'nobody'") == [
        {"status": "sent"}
    ]
