"""SQLite: a write cancelled halfway (a job cancelled at shutdown, the stopped lease renewal)
leaves the database writable; the next write does not wait out the busy timeout."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from ticketbolt.bot.db.engine import make_engine, sessionmaker


async def test_a_write_cancelled_halfway_leaves_the_database_writable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cancelled.db'}")
    loop = asyncio.get_running_loop()
    inside, go_on = asyncio.Event(), threading.Event()

    def gate() -> int:
        """Runs in the driver's thread while the UPDATE holds the write lock."""
        loop.call_soon_threadsafe(inside.set)
        go_on.wait(10)  # released by the test; the bound only ends a broken run
        return 1

    def add_gate(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("gate", 0, gate)

    event.listen(engine.sync_engine, "connect", add_gate)
    sessions = sessionmaker(engine)

    async def renew() -> None:
        async with sessions.begin() as session:
            await session.scalars(text("UPDATE t SET v = v + gate() RETURNING id"))

    try:
        async with sessions.begin() as session:
            await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (1, 0)"))
        halfway = asyncio.create_task(renew())
        await inside.wait()
        halfway.cancel()
        go_on.set()
        with pytest.raises(asyncio.CancelledError):
            await halfway
        async with sessions.begin() as session:
            await session.execute(text("UPDATE t SET v = 10"))
        async with sessions() as session:
            assert 10 == await session.scalar(text("SELECT v FROM t"))
    finally:
        go_on.set()
        await engine.dispose()
