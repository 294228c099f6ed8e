"""The PostgreSQL engine's pool: a connection the server closed while it sat idle is replaced
before anyone uses it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import POSTGRES_URL, require_service
from tests.support.stack import eventually
from ticketbolt.bot.db.engine import make_engine


async def _pid_then_terminate(idle_after: float) -> tuple[int, object]:
    """Use the pool's one connection, have the server close it, then use the pool again:
    the first backend's pid and what the second use returned (or raised)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    engine = make_engine(POSTGRES_URL, pool_size=1, ping_idle_after=idle_after)
    admin = make_engine(POSTGRES_URL, pool_size=1)
    try:
        async with engine.connect() as conn:
            pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        async def gone() -> bool:
            async with admin.connect() as conn:
                found = await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
                return 0 == found.scalar_one()

        await eventually(gone, what="the server to close the connection")
        try:
            async with engine.connect() as conn:
                return pid, (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        except DBAPIError as exc:
            return pid, exc
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    first, second = await _pid_then_terminate(idle_after=0.0)  # any idle time counts
    assert isinstance(second, int)
    assert first != second


async def test_a_connection_used_moments_ago_is_not_pinged() -> None:
    """The other side of the trade: within `idle_after` the pool trusts the connection, so a
    server-side close shows up as an error of that one use (the job's retry covers it)."""
    _, second = await _pid_then_terminate(idle_after=3600)
    assert isinstance(second, DBAPIError)
