"""INSERT … ON CONFLICT DO NOTHING for both SQLite and PostgreSQL."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def storable(value: Any) -> Any:
    """`value` with what databases refuse taken out of every string in it, however nested:
    NUL (PostgreSQL text and JSON reject it) and unpaired surrogates (not encodable as UTF-8).

    Applied at the boundary to every row we insert, so a message holding them is stored, and
    answered, instead of failing its insert on every retry.
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


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
    result = await session.execute(statement, storable(values))
    return bool(getattr(result, "rowcount", 0) == 1)


async def insert_rows_returning(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], key: str | None
) -> set[Any]:
    """Insert many rows at once, skipping conflicts; the `key` values of the rows inserted."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = _insert_ignoring_conflicts(dialect, table)
    rows = [storable(row) for row in rows]
    if key is None:
        await session.execute(statement, rows)
        return set()
    result = await session.execute(statement.returning(table.c[key]), rows)
    return {row[0] for row in result}
