"""/health shows the runtime's PostgreSQL connection: a lost server's wait is seen there."""

from __future__ import annotations

import psycopg
import trio
from api_support import call

from statemachine_engine.monitor import MonitorApp, MonitorHub
from statemachine_engine.persistence import open_store


def _admin(url: str, statement: str) -> None:
    """One statement on the server's maintenance database, as its superuser."""
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(statement)


async def test_health_shows_the_wait_for_a_cut_connection_and_its_end(pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    async with open_store(pg_url) as store:
        app = MonitorApp(MonitorHub(store=store))  # type: ignore[arg-type]
        health = (await call(app, "/health")).json()
        assert health["status"] == "ok"
        assert health["database"]["connected"] is True
        assert health["database"]["waiting_since"] is None

        # cut every connection of the database and refuse new ones until allowed again
        _admin(pg_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        _admin(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )
        store.machine_started(
            "m", current_state="s0", config_type="c", pid=1, endpoint=None, timestamp=0.0
        )
        with trio.fail_after(20):
            while (health := (await call(app, "/health")).json())["database"]["connected"]:
                await trio.sleep(0.05)
        assert health["status"] == "waiting for the database"
        assert health["database"]["waiting_since"] is not None
        assert health["database"]["last_error"]
        assert health["database"]["queued"] >= 1

        _admin(pg_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        with trio.fail_after(20):
            await store.flush()
        health = (await call(app, "/health")).json()
        assert health["status"] == "ok"
        assert health["database"]["connected"] is True
        assert health["database"]["retries"] >= 1
        assert await store.machine("m") is not None


async def test_health_of_a_store_without_a_connection_has_no_database_entry() -> None:
    async with open_store(":memory:") as store:
        health = (await call(MonitorApp(MonitorHub(store=store)), "/health")).json()  # type: ignore[arg-type]
    assert health["status"] == "ok" and "database" not in health
