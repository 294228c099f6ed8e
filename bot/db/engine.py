"""Async engine creation for SQLite and PostgreSQL, and a cheap liveness probe."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# A pooled PostgreSQL connection idle longer than this is pinged before it is used again.
PING_IDLE_AFTER = 10.0


def make_engine(
    url: str,
    *,
    search_path: str | None = None,
    pool_size: int = 20,
    ping_idle_after: float = PING_IDLE_AFTER,
) -> AsyncEngine:
    """An engine with timeouts; `search_path` pins a PostgreSQL schema (tests isolate with it).

    A network database can drop idle connections (a restart, a proxy's idle timeout); a local
    SQLite file cannot. SQLAlchemy's `pool_pre_ping` would ping on every checkout, which on
    asyncpg is three round trips (BEGIN, the ping, ROLLBACK) before each transaction; here only
    a connection idle for `ping_idle_after` seconds is pinged, and one found dead is replaced
    before anyone uses it."""
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if is_sqlite(url):
        # Waiting for the single writer beats failing with "database is locked".
        connect_args["timeout"] = 30
    else:
        connect_args["timeout"] = 5  # asyncpg's connect timeout
        connect_args["command_timeout"] = 15
        if search_path:
            connect_args["server_settings"] = {"search_path": search_path}
        # Every connection stays open: an overflow connection would be opened and closed with
        # each burst (connect, TLS, type look-ups, statements prepared again).
        options.update(pool_size=pool_size, max_overflow=0, pool_timeout=10)
    engine = create_async_engine(url, connect_args=connect_args, **options)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "invalidate", _roll_back_before_drop)
    else:
        _ping_when_idle(engine, ping_idle_after)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_after: float) -> None:
    """Ping a pooled connection on checkout once it has been idle `idle_after` seconds; a
    failed ping makes the pool discard it and check out another (SQLAlchemy's documented
    pessimistic disconnect handling, done in a checkout event)."""
    pool = engine.sync_engine.pool

    def stamp(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < idle_after:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("a pooled connection was found closed") from exc

    event.listen(pool, "connect", stamp)
    event.listen(pool, "checkin", stamp)
    event.listen(pool, "checkout", check)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (health checks, stats) proceed while the worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _roll_back_before_drop(dbapi_connection: Any, _record: Any, _reason: Any) -> None:
    """End the transaction of a connection the pool is about to drop (a task cancelled in the
    middle of a statement: a job at shutdown, the lease renewal). Closed with that statement
    still open, SQLite keeps the transaction and its write lock until the statement is
    finalized, and every other write waits out the busy timeout, then fails as locked."""
    with contextlib.suppress(Exception):  # a connection that cannot roll back is dropped anyway
        dbapi_connection.rollback()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def read_only(sessions: async_sessionmaker[Any]) -> async_sessionmaker[Any]:
    """Sessions for reads that need no transaction around them (each statement sees its own
    snapshot): on PostgreSQL they run in autocommit, one round trip per statement instead of
    BEGIN, the statement and ROLLBACK; elsewhere they are `sessions` themselves. Never for
    writes: in autocommit each statement commits on its own."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return async_sessionmaker(
            bind.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
    return sessions


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def try_turn(session: AsyncSession, key: int) -> bool:
    """PostgreSQL: a transaction-level advisory try-lock on `key`, held until the transaction
    ends; False when another session holds it. Advisory locks are per database, so the key
    includes the schema: deployments sharing one database in separate schemas never skip each
    other's turn. Other databases (SQLite, one process) always get the turn."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    mine = await session.scalar(
        text(
            "SELECT pg_try_advisory_xact_lock("
            "CAST(:key AS bigint) # CAST(hashtext(current_schema()) AS bigint))"
        ),
        {"key": key},
    )
    return bool(mine)
