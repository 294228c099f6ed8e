"""Migrations: idempotent, and safe when several replicas start on one empty database at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, text

from tests.conftest import POSTGRES_URL, require_service
from ticketbolt.bot.db.engine import make_engine
from ticketbolt.bot.db.migrate import upgrade


async def test_concurrent_upgrades_on_one_postgres_schema_all_succeed(unique: str) -> None:
    """Four processes' worth of upgrades racing on an empty schema end with one good schema."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"m_{unique}"
    admin = make_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engines = [make_engine(POSTGRES_URL, search_path=schema) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        async with engines[0].connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"jobs", "ticket_links", "processed_events", "audit_log", "turns"} <= tables
    finally:
        for engine in engines:
            await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def test_upgrade_twice_is_a_no_op(tmp_path: object) -> None:
    """Running the migrations on a current schema changes nothing and does not fail."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/twice.db")
    try:
        await upgrade(engine)
        await upgrade(engine)
    finally:
        await engine.dispose()
