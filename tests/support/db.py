"""Per-test databases: a temp SQLite file, or a throwaway schema on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from ticketbolt.bot.db.engine import make_engine, sessionmaker
from ticketbolt.bot.db.migrate import upgrade


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    search_path: str | None


@asynccontextmanager
async def open_database(
    kind: str, postgres_url: str, tmp_path: Any, unique: str
) -> AsyncIterator[Database]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tmp_path) / 'ticketbolt.db'}"
        engine = make_engine(url)
        await upgrade(engine)
        try:
            yield Database(url, engine, sessionmaker(engine), None)
        finally:
            await engine.dispose()
        return
    schema = f"t_{unique}"
    admin = make_engine(postgres_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(postgres_url, search_path=schema)
    try:
        await upgrade(engine)
        yield Database(postgres_url, engine, sessionmaker(engine), schema)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
