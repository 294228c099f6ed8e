"""Async engine creation for SQLite and PostgreSQL, and a cheap liveness probe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, search_path: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """An engine with timeouts; `search_path` pins a PostgreSQL schema (tests isolate with it)."""
    connect_args: dict[str, Any] = {}
    # A network database can drop idle connections; a local SQLite file cannot.
    options: dict[str, Any] = {"pool_pre_ping": not is_sqlite(url)}
    if is_sqlite(url):
        # Waiting for the single writer beats failing with "database is locked".
        connect_args["timeout"] = 30
    else:
        connect_args["timeout"] = 5  # asyncpg's connect timeout
        connect_args["command_timeout"] = 15
        if search_path:
            connect_args["server_settings"] = {"search_path": search_path}
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=10)
    engine = create_async_engine(url, connect_args=connect_args, **options)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (health checks, stats) proceed while the worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


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
