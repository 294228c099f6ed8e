"""INSERT … ON CONFLICT DO NOTHING for both SQLite and PostgreSQL."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


@cache
def _insert_ignoring_conflicts(dialect: str, table: Table) -> Insert:
    # Built once per table and bound to parameters at execution: SQLAlchemy then reuses the
    # compiled statement instead of keying and compiling a new one for every row.
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement: Insert = module.insert(table).on_conflict_do_nothing()
    return statement


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any]) -> bool:
    """Insert one row unless a unique constraint already holds it; True when the row is new."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = _insert_ignoring_conflicts(dialect, model.__table__)
    result = await session.execute(statement, values)
    return bool(getattr(result, "rowcount", 0) == 1)


async def insert_rows_returning(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], key: str | None
) -> set[Any]:
    """Insert many rows at once, skipping conflicts; the `key` values of the rows inserted."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = _insert_ignoring_conflicts(dialect, table)
    if key is None:
        await session.execute(statement, rows)
        return set()
    result = await session.execute(statement.returning(table.c[key]), rows)
    return {row[0] for row in result}
