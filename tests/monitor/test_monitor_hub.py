"""The hub: machine table, snapshot, fan-out with bounded per-subscriber queues."""

from __future__ import annotations

import json

import pytest
import trio

from statemachine_engine.monitor import MonitorHub, Outgoing, SubscriberClosed
from statemachine_engine.monitor._fanout import MAX_PENDING_REPLIES
from statemachine_engine.monitor._outgoing import text_frame
from statemachine_engine.transport import MachineEvent


def event(name: str, kind: str, ts: float = 100.0, **payload: object) -> MachineEvent:
    return MachineEvent(name, kind, payload, ts)


class FakeStore:
    def __init__(self, rows: list[dict[str, object]] | Exception) -> None:
        self.rows = rows

    async def machines(self) -> list[dict[str, object]]:
        if isinstance(self.rows, Exception):
            raise self.rows
        return self.rows


def test_machine_table_follows_events() -> None:
    hub = MonitorHub(wall_time=lambda: 5.0)
    hub.publish(event("w1", "machine_registered", 1.0, config_type="worker", current_state="idle"))
    hub.publish(
        event("w1", "state_change", 2.0, from_state="idle", to_state="busy", event_trigger="go")
    )
    hub.publish(event("w2", "state_change", 3.0, from_state="a", to_state="b", event_trigger="x"))
    snap = hub.snapshot()
    assert snap["type"] == "initial"
    assert snap["timestamp"] == 5.0
    assert [m["machine_name"] for m in snap["machines"]] == ["w1", "w2"]
    w1 = snap["machines"][0]
    assert w1["current_state"] == "busy"
    assert w1["config_type"] == "worker"
    assert w1["last_activity"] == 2.0
    assert w1["last_transition"] == {
        "from_state": "idle",
        "to_state": "busy",
        "event_trigger": "go",
        "timestamp": 2.0,
    }
    hub.publish(event("w1", "machine_terminated", 4.0))
    assert [m["machine_name"] for m in hub.snapshot()["machines"]] == ["w2"]
    # activity from an unknown source (the CLI) never creates a machine
    hub.publish(event("cli", "activity_log", 5.0, message="hello"))
    assert list(hub.machines) == ["w2"]
    assert hub.stats().events_relayed == 5


def test_an_event_nobody_is_subscribed_to_is_not_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    # a monitor with no browser open ingests a draining worker's every event: only its
    # table needs them
    encoded: list[MachineEvent] = []
    to_json = MachineEvent.to_json

    def counted(self: MachineEvent) -> str:
        encoded.append(self)
        return to_json(self)

    monkeypatch.setattr(MachineEvent, "to_json", counted)
    hub = MonitorHub()
    hub.publish(event("w1", "state_change", 2.0, from_state="a", to_state="b", event_trigger="x"))
    assert encoded == []
    assert hub.stats().events_relayed == 1
    with hub.subscribe() as sub:
        (snapshot,) = sub.take()
        assert [m["current_state"] for m in json.loads(snapshot.text)["machines"]] == ["b"]
        hub.publish(event("w1", "state_change", 3.0, from_state="b", to_state="c"))
        assert [e.payload["to_state"] for e in encoded] == ["c"]


def test_registration_keeps_the_template_flag() -> None:
    hub = MonitorHub()
    hub.publish(
        event("w_001", "machine_registered", 1.0, config_type="w", current_state="a", template=True)
    )
    assert hub.snapshot()["machines"][0]["template"] is True


def test_event_without_timestamp_gets_wall_time() -> None:
    hub = MonitorHub(wall_time=lambda: 42.0)
    hub.publish(MachineEvent("m", "machine_registered", {"current_state": "s"}, 0.0))
    assert hub.machines["m"]["last_activity"] == 42.0


async def test_seed_from_store_registry() -> None:
    store = FakeStore(
        [
            {
                "machine_name": "b",
                "current_state": "s2",
                "config_type": "t",
                "last_activity": 1.0,
                "context": {"big": "x" * 100},
                "pid": 7,
            },
            {"machine_name": "a", "current_state": "s1", "config_type": "t", "last_activity": 2.0},
        ]
    )
    hub = MonitorHub(store=store)
    await hub.seed()
    machines = hub.snapshot()["machines"]
    assert [m["machine_name"] for m in machines] == ["a", "b"]
    assert machines[1] == {
        "machine_name": "b",
        "current_state": "s2",
        "config_type": "t",
        "last_activity": 1.0,
        "pid": 7,
    }


async def test_seed_failure_is_reported_in_snapshot() -> None:
    hub = MonitorHub(store=FakeStore(OSError("database is locked")))
    await hub.seed()
    snap = hub.snapshot()
    assert snap["machines"] == []
    assert snap["error"] == "database is locked"


async def test_subscriber_gets_snapshot_then_events_in_order() -> None:
    hub = MonitorHub()
    hub.publish(event("m", "machine_registered", current_state="s0", config_type="c"))
    with hub.subscribe() as sub:
        hub.publish(event("m", "state_change", from_state="s0", to_state="s1", event_trigger="e"))
        first = json.loads(await sub.receive())
        assert first["type"] == "initial"
        assert first["machines"][0]["current_state"] == "s0"
        second = json.loads(await sub.receive())
        assert second == {
            "machine_name": "m",
            "type": "state_change",
            "timestamp": 100.0,
            "seq": 0,
            "payload": {"from_state": "s0", "to_state": "s1", "event_trigger": "e"},
        }
        assert hub.stats().clients == 1
    assert hub.stats().clients == 0


async def test_direct_reply_waits_for_events_published_before_it() -> None:
    hub = MonitorHub()
    with hub.subscribe() as sub:
        hub.publish(event("m", "activity_log", message="one"))
        pong = Outgoing.of({"type": "pong"})
        sub.put(pong)
        hub.publish(event("m", "activity_log", message="two"))
        kinds = [
            json.loads(m.text).get("payload", {}).get("message", json.loads(m.text)["type"])
            for m in sub.take(10)
        ]
        assert kinds == ["initial", "one", "pong", "two"]
        assert pong.text == '{"type":"pong"}'


async def test_take_wait_wakes_on_publish() -> None:
    hub = MonitorHub()
    got: list[str] = []
    with hub.subscribe() as sub:
        sub.take()  # the snapshot

        async def reader() -> None:
            got.extend(m.text for m in await sub.take_wait())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            hub.publish(event("m", "activity_log", message="x"))
    assert len(got) == 1 and '"message":"x"' in got[0]


async def test_slow_subscriber_is_resynced_without_affecting_others() -> None:
    hub = MonitorHub(capacity=10)
    with hub.subscribe("slow") as slow, hub.subscribe("fast") as fast:
        received = len(fast.take())
        for i in range(25):
            hub.publish(event("m", "activity_log", message=str(i)))
            received += len(fast.take())
        assert received == 26  # snapshot + every event
        # fell a backlog behind twice (at events 10 and 21): each time it skipped what it
        # missed and was given a fresh snapshot; it is still subscribed
        assert slow.closed_reason is None
        assert slow.resyncs == 2
        texts = [m.text for m in slow.take(100)]
        kinds = [json.loads(t)["type"] for t in texts]
        # the latest snapshot in place of all it missed (and of the first, never taken),
        # then the events after it
        assert kinds == ["initial", "activity_log", "activity_log", "activity_log"]
        assert [json.loads(t)["payload"]["message"] for t in texts[1:]] == ["22", "23", "24"]
        stats = hub.stats()
        assert stats.clients == 2
        assert stats.slow_disconnects == 0
        assert stats.resyncs == 2
        assert stats.dropped == 22  # the events it skipped, each covered by a snapshot
        assert fast.closed_reason is None


async def test_resync_snapshot_shows_the_latest_state() -> None:
    hub = MonitorHub(capacity=3)
    with hub.subscribe("slow") as slow:
        slow.take()
        for state in ("a", "b", "c", "d"):
            hub.publish(event("m", "state_change", from_state="x", to_state=state))
        [snapshot] = [json.loads(m.text) for m in slow.take(100)]
        assert snapshot["type"] == "initial"
        assert [(r["machine_name"], r["current_state"]) for r in snapshot["machines"]] == [
            ("m", "d")
        ]


async def test_subscriber_exactly_capacity_behind_is_kept() -> None:
    hub = MonitorHub(capacity=5)
    with hub.subscribe() as sub:
        for i in range(5):
            hub.publish(event("m", "activity_log", message=str(i)))
        assert sub.lag == 5
        assert len(sub.take(100)) == 6


def test_a_client_that_never_reads_its_replies_is_dropped() -> None:
    hub = MonitorHub()
    with hub.subscribe() as sub:
        for _ in range(MAX_PENDING_REPLIES + 1):
            sub.put(Outgoing.of({"type": "pong"}))
        with pytest.raises(SubscriberClosed, match="replies unread") as closed:
            sub.take()
        assert closed.value.code == 1008
        assert hub.stats().clients == 0


def test_invalid_lines_are_counted_and_dropped() -> None:
    hub = MonitorHub()
    with hub.subscribe() as sub:
        sub.take()
        bad = [
            b"not json",
            b"[1,2]",
            b'{"type":"x"}',
            b'{"machine_name":"m"}',
            b'{"machine_name":"m","type":"t","payload":5}',
            b"\xff\xfe",
            b'{"machine_name":"m","type":"t","timestamp":1' + b"0" * 400 + b"}",
        ]
        for line in bad:
            assert hub.feed_line(line) is False
        assert hub.feed_line(b'{"machine_name":"m","type":"activity_log","payload":{}}')
        assert hub.stats().invalid == len(bad)
        assert hub.stats().events_relayed == 1
        assert len(sub.take()) == 1


def test_close_ends_every_subscriber() -> None:
    hub = MonitorHub()
    with hub.subscribe() as sub:
        hub.close()
        with pytest.raises(SubscriberClosed, match="shutting down"):
            sub.take()


def test_text_frame_lengths() -> None:
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert text_frame(b"x" * 70000)[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big")


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        MonitorHub(capacity=0)
