"""Events between hosts through the database: the transport that sends, the inbox that takes.

On a PostgreSQL store, runtimes on several hosts share the registry; their control sockets
are not shared (a Unix socket is a file of one host). :class:`HostsTransport` sends a message
to a machine of this host through its control socket, as on one host; a message to a machine
whose registry row names another host -- or whose socket does not exist here -- goes into
the target's ``inbox`` instead, in a transaction of its own through the store's writer, with
a NOTIFY on that host's channel. The delivery is acknowledged once that row is committed:
from then on the target's runtime cannot miss it.

:class:`RemoteInbox` is the other end, one per runtime process: it listens on its host's
channel, takes the rows sent to the machines it runs (oldest first) and hands each to its
machine's mailbox; a durable machine's row stays its durable inbox row (see
``persistence.remote_sql``). A slow poll finds what a lost notification did not announce,
and the rows sent to a machine before it started.

Taking runs on a connection of its own, in a worker thread, with ``synchronous_commit`` off:
the sender's commit is the one on the event's path that waits for the server's disk. A take
lost with the server (a crash, not a lost connection) is lost together with everything that
followed it in the server's log -- a durable machine's step that used the message included,
so the message comes again and the step is done again; a machine that is not durable may
get such a message twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.errors import ActorStopped
from statemachine_engine.persistence import Store, connect_postgres, remote_sql
from statemachine_engine.transport import Message, SocketTransport

if TYPE_CHECKING:
    from statemachine_engine.actors import Runtime
    from statemachine_engine.persistence import Notices

log = logging.getLogger("statemachine_engine.service")

#: seconds a registry lookup of a target's host is trusted (a machine restarted on another
#: host is found after at most this; a row sent to its old host waits for the new one's poll)
LOOKUP_TTL = 2.0
#: seconds between two looks at the inbox when no notification came
POLL_INTERVAL = 2.0


class HostsTransport:
    """The :class:`~statemachine_engine.transport.Transport` of a runtime whose store other
    hosts share: control sockets on this host, the inbox for machines of other hosts."""

    def __init__(self, store: Store, sockets: SocketTransport, host: str) -> None:
        self._store = store
        self._sockets = sockets
        self._host = host
        #: target -> (its host when it is not this one's and not reachable by socket,
        #: trio time the lookup expires)
        self._where: dict[str, tuple[str | None, bool, float]] = {}
        #: messages sent through the database (tests, statistics)
        self.sent_through_database = 0

    async def deliver(self, target: str, message: Message) -> None:
        remote, host = await self._locate(target)
        if not remote:
            await self._sockets.deliver(target, message)
            return
        await send_through_database(self._store, target, host, message)
        self.sent_through_database += 1

    async def _locate(self, target: str) -> tuple[bool, str | None]:
        """Whether ``target`` is reached through the database, and the host to notify."""
        now = trio.current_time()
        known = self._where.get(target)
        if known is not None and known[2] > now:
            return known[1], known[0]
        row = await self._store.machine(target)
        host = row.get("host") if row is not None else None
        if host is not None and host != self._host:
            remote = True
        else:
            # this host's, or unknown: the socket when there is one here
            path = await self._sockets.resolve(target)
            remote = not await trio.Path(path).exists()
        self._where[target] = (host, remote, now + LOOKUP_TTL)
        return remote, host

    async def aclose(self) -> None:
        await self._sockets.aclose()


async def send_through_database(
    store: Store, target: str, host: str | None, message: Message
) -> bool:
    """Put ``message`` in ``target``'s inbox and notify ``host`` (committed when this
    returns); False when the inbox had that message id already (a retried send)."""
    if message.message_id is None:
        message = attrs.evolve(message, message_id=uuid.uuid4().hex)
    if message.target != target:
        message = attrs.evolve(message, target=target)
    message_id = message.message_id
    assert message_id is not None
    text = message.to_json()
    sent: bool = await store.durable.transact(
        lambda conn, now: remote_sql.send(
            conn,
            target=target,
            host=host,
            message_id=message_id,
            source=message.source,
            event_type=message.type,
            message=text,
            now=now,
        )
    )
    return sent


class RemoteInbox:
    """Hands the machines of one runtime what other hosts sent them through the database."""

    def __init__(
        self,
        runtime: Runtime,
        url: str,
        notices: Notices | None,
        *,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._runtime = runtime
        self._taker = _Taker(url)
        self._notices = notices
        self._poll = poll_interval
        #: messages handed to machines, takes that failed (tests, statistics)
        self.taken = 0
        self.failures = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Take what is waiting, then whatever is announced or found by the poll, until
        cancelled."""
        task_status.started()
        try:
            while True:
                try:
                    await self.take_waiting()
                except Exception as exc:  # the server away: tried again at the next look
                    self.failures += 1
                    if worth_logging(self.failures):
                        log.warning(
                            "taking this host's inbox failed (%s; %d so far); trying again",
                            exc,
                            self.failures,
                        )
                if self._notices is not None:
                    await self._notices.wait(self._poll)
                else:
                    await trio.sleep(self._poll)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._taker.close)

    async def take_waiting(self) -> int:
        """Take every row sent to a machine running here and hand it over; how many."""
        count = 0
        while True:
            durable = self._runtime.durable_names()
            names = self._runtime.running_names()
            if not names:
                return count
            now = self._runtime.wall_time()
            rows = await trio.to_thread.run_sync(self._taker.take, names, durable, now)
            for row in rows:
                await self._hand_over(row, recorded=row["target_machine"] in durable)
            count += len(rows)
            if len(rows) < remote_sql.TAKE_LIMIT:
                return count

    async def _hand_over(self, row: dict[str, Any], *, recorded: bool) -> None:
        target = str(row["target_machine"])
        try:
            message = attrs.evolve(
                Message.from_dict(json.loads(row["message"])),
                target=target,
                message_id=str(row["message_id"]),
            )
        except (ValueError, RecursionError) as exc:  # written by something else than ours
            log.error("inbox row %s for %s is not a message (%s); dropped", row["id"], target, exc)
            return
        try:
            await self._runtime.deliver_local(message, recorded=recorded)
        except (KeyError, ActorStopped):
            # it stopped since the rows were taken: a durable machine finds the row pending
            # when it resumes; another one would have lost it in its mailbox just the same
            log.warning(
                "%s stopped before inbox row %s (%s) reached it", target, row["id"], message.type
            )
            return
        self.taken += 1


class _Taker:
    """The inbox's own connection (used from one worker thread at a time)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Any = None

    def take(self, names: Sequence[str], durable: set[str], now: float) -> list[dict[str, Any]]:
        """``remote_sql.take`` in a transaction of its own; a failed one is rolled back and
        its connection dropped (a new one next time)."""
        if self._conn is None:
            conn = connect_postgres(self._url, migrate=False)
            conn.execute("SET synchronous_commit = off")  # see the module's docstring
            self._conn = conn
        conn = self._conn
        try:
            conn.execute("BEGIN")
            rows = remote_sql.take(conn, names, durable, now)
            conn.execute("COMMIT")
        except BaseException:
            self.close()
            raise
        return rows

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # lost already
                log.debug("closing the inbox's connection failed", exc_info=True)


async def serve_remote_inbox(
    runtime: Runtime,
    url: str,
    host: str,
    nursery: trio.Nursery,
) -> Callable[[], Awaitable[None]]:
    """Start listening on ``host``'s inbox channel and the :class:`RemoteInbox` of
    ``runtime`` in ``nursery``; returns the coroutine function that stops the listener."""
    from statemachine_engine.persistence import Notices

    notices = Notices(url, [remote_sql.inbox_channel(host)])
    try:
        await notices.start()
        await nursery.start(RemoteInbox(runtime, url, notices).run)
    except BaseException:
        await notices.stop()
        raise
    return notices.stop
