"""Events between hosts through the database's inbox: two stores on one PostgreSQL database
stand for two hosts (each its own connections, writer and listener, as two processes have).

The sender's transport finds the target's registry row on the other host and inserts the
message into the target's inbox; the target's RemoteInbox hears its host's channel and
hands the message to the mailbox. Real clock and server; every wait is bounded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.persistence import Notices, SqliteStore, open_store, remote_sql
from statemachine_engine.service import HostsTransport, RemoteInbox
from statemachine_engine.transport import Message, SocketTransport

WORKER = """
name: worker
initial_state: waiting
durable: {durable}
states: [waiting, working, done]
events: [go, finish]
transitions:
  - {{from: waiting, to: working, event: go}}
  - {{from: working, to: done, event: finish}}
final_states: [done]
"""


@asynccontextmanager
async def host(url: str, name: str) -> AsyncIterator[tuple[Runtime, SqliteStore, RemoteInbox]]:
    """A host's runtime on the shared database: its transport sends to other hosts through
    the inbox, its RemoteInbox takes what they sent it."""
    async with open_store(url, host=name) as store, trio.open_nursery() as nursery:
        notices = Notices(url, [remote_sql.inbox_channel(name)])
        await notices.start()
        transport = HostsTransport(store, SocketTransport(prefix=f"/tmp/sm-{name}"), name)
        try:
            async with open_runtime(store=store, transport=transport) as runtime:
                inbox = RemoteInbox(runtime, url, notices)
                await nursery.start(inbox.run)
                yield runtime, store, inbox
                nursery.cancel_scope.cancel()
        finally:
            await notices.stop()


async def inbox_rows(store: SqliteStore, target: str) -> list[tuple[str, str]]:
    rows = await store.durable.transact(
        lambda conn, _now: list(
            conn.execute(
                "SELECT message_id, status FROM inbox WHERE target_machine = ? ORDER BY id",
                (target,),
            )
        )
    )
    return [(row["message_id"], row["status"]) for row in rows]


async def test_an_event_reaches_a_machine_on_another_host(pg_url: str) -> None:
    async with host(pg_url, "host-a") as (a, _, _), host(pg_url, "host-b") as (b, b_store, inbox):
        worker = await b.spawn(load_config_text(WORKER.format(durable="false")), name="worker")
        await b_store.flush()  # its registry row, naming host-b
        with trio.fail_after(10):
            await a.deliver(Message("go", {"n": 1}, target="worker", source="controller"))
            await worker.wait_state("working")
        assert inbox.taken == 1
        assert [status for _, status in await inbox_rows(b_store, "worker")] == ["delivered"]
        assert b.ref("worker").context["event_data"]["payload"] == {"n": 1}


async def test_a_durable_target_keeps_the_row_as_its_inbox_and_a_retry_does_no_harm(
    pg_url: str,
) -> None:
    async with host(pg_url, "host-a") as (a, _, _), host(pg_url, "host-b") as (b, b_store, inbox):
        worker = await b.spawn(load_config_text(WORKER.format(durable="true")), name="worker")
        await b_store.flush()
        go = Message("go", target="worker", source="controller", message_id="m-1")
        with trio.fail_after(10):
            await a.deliver(go)
            await a.deliver(go)  # an outbox relay that did not see its commit sends again
            await worker.wait_state("working")
            await a.deliver(Message("finish", target="worker", message_id="m-2"))
            await worker.wait_stopped()
            await b_store.flush()
        assert inbox.taken == 2
        assert await inbox_rows(b_store, "worker") == [("m-1", "handled"), ("m-2", "handled")]


async def test_messages_sent_before_the_target_started_reach_it_in_order(pg_url: str) -> None:
    async with host(pg_url, "host-a") as (a, a_store, _):
        # no registry row and no socket here: the inbox, for whoever starts it
        await a.deliver(Message("go", target="worker", message_id="m-1"))
        await a.deliver(Message("finish", target="worker", message_id="m-2"))
        assert [s for _, s in await inbox_rows(a_store, "worker")] == ["sent", "sent"]
        async with host(pg_url, "host-b") as (b, _, inbox):
            worker = await b.spawn(load_config_text(WORKER.format(durable="false")), name="worker")
            with trio.fail_after(10):
                await inbox.take_waiting()
                await worker.wait_stopped()
            assert worker.state == "done"


SENDER = """
name: sender
initial_state: sending
durable: true
states: [sending, sent]
events: [event_sent]
transitions:
  - {from: sending, to: sent, event: event_sent}
final_states: [sent]
actions:
  sending:
    - {type: send_event, target: worker, event_type: go, payload: {n: 7}}
"""


async def test_a_durable_senders_outbox_delivers_to_another_host_once(pg_url: str) -> None:
    async with host(pg_url, "host-a") as (a, a_store, _), host(pg_url, "host-b") as (b, b_store, _):
        worker = await b.spawn(load_config_text(WORKER.format(durable="true")), name="worker")
        await b_store.flush()
        sender = await a.spawn(load_config_text(SENDER), name="sender")
        with trio.fail_after(10):
            await sender.wait_stopped()
            await worker.wait_state("working")
            assert await a.drain_outbox(5) == 0
            await a_store.flush()
            await b_store.flush()
            outbox = await a_store.durable.transact(
                lambda conn, _now: list(conn.execute("SELECT target_machine, status FROM outbox"))
            )
            inbox = await inbox_rows(b_store, "worker")
            payload = b.ref("worker").context["event_data"]["payload"]
    assert payload == {"n": 7}
    assert outbox == [{"target_machine": "worker", "status": "delivered"}]
    # the worker's step that used it is committed: handled, once
    assert [status for _, status in inbox] == ["handled"]


async def test_an_inbox_row_that_is_not_a_message_is_dropped_and_the_next_arrives(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="statemachine_engine.service")
    async with host(pg_url, "host-b") as (b, b_store, _):
        worker = await b.spawn(load_config_text(WORKER.format(durable="false")), name="worker")
        # rows another writer put there: JSON nested past the stack, and no JSON at all
        for n, text in enumerate(["[" * 100_000, "not json"]):
            await b_store.durable.transact(
                lambda conn, now, n=n, text=text: remote_sql.send(
                    conn,
                    target="worker",
                    host=None,
                    message_id=f"foreign-{n}",
                    source=None,
                    event_type="go",
                    message=text,
                    now=now,
                )
            )
        async with host(pg_url, "host-a") as (a, _, _):
            await a.deliver(Message("go", target="worker", message_id="m-1"))
            with trio.fail_after(10):
                await worker.wait_state("working")
    dropped = [r.getMessage() for r in caplog.records if "is not a message" in r.getMessage()]
    assert len(dropped) == 2, dropped
