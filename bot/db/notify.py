"""Wake-ups across processes on PostgreSQL: NOTIFY where jobs are recorded, LISTEN in workers.

A worker in another process (a `ticketbolt worker` replica, or `ticketbolt run`'s child) would
otherwise find a new job only at its next poll (TICKETBOLT_JOB_POLL_INTERVAL). The transaction
that records jobs also issues `pg_notify`, which PostgreSQL delivers when that transaction
commits and never when it rolls back, so a woken worker always finds the job. Every worker keeps
one connection listening; the poll stays as the fallback for a notification lost with a
connection. SQLite has no such thing: there the worker of the same process is woken directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger("ticketbolt.worker")

CHANNEL = "ticketbolt_jobs"


async def announce(session: AsyncSession) -> None:
    """Inside the transaction that recorded jobs: wake every listening worker at commit."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def listen(
    engine: AsyncEngine | None,
    wakeup: asyncio.Event,
    stop: asyncio.Event,
    *,
    retry_seconds: float = 5.0,
) -> None:
    """Set `wakeup` on every notification until `stop`; reconnect after a lost connection."""
    if engine is None or engine.dialect.name != "postgresql":
        return

    wake = _setter(wakeup)
    while not stop.is_set():
        try:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection  # the asyncpg connection
                assert driver is not None
                lost = asyncio.Event()
                driver.add_termination_listener(_setter(lost))
                await driver.add_listener(CHANNEL, wake)
                wakeup.set()  # anything recorded while nobody listened
                try:
                    await _first(stop.wait(), lost.wait())
                finally:
                    if not driver.is_closed():
                        with contextlib.suppress(Exception):
                            await driver.remove_listener(CHANNEL, wake)
        except Exception:  # the database may be down: the poll carries on meanwhile
            log.warning("listening for new jobs failed; polling until it works again")
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry_seconds)


def _setter(event: asyncio.Event) -> Callable[..., None]:
    def set_event(*_: Any) -> None:
        event.set()

    return set_event


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
