"""The audit log: an append-only record of every ticket action."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbolt.bot.db.models import AuditEntry
from ticketbolt.bot.db.upsert import storable

# Built once and bound at execution (Core: no unit of work is flushed for one row).
_INSERT = insert(cast("Table", AuditEntry.__table__))


def entry(
    *,
    actor: str,
    action: str,
    outcome: str,
    team_id: str = "",
    channel_id: str = "",
    message_ts: str = "",
    ticket_id: int | None = None,
    detail: str = "",
) -> dict[str, Any]:
    """One audit row's values, for `add` (or `TicketLinks.set_ticket`, in its transaction)."""
    return {
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "team_id": team_id,
        "channel_id": channel_id,
        "message_ts": message_ts,
        "ticket_id": ticket_id,
        "detail": storable(detail[:2000]),
    }


async def add(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert the row `entry` made, in the caller's transaction."""
    await session.execute(_INSERT, values)


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[Any]):
        self._sessions = sessions

    async def record(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        team_id: str = "",
        channel_id: str = "",
        message_ts: str = "",
        ticket_id: int | None = None,
        detail: str = "",
    ) -> None:
        values = entry(
            actor=actor,
            action=action,
            outcome=outcome,
            team_id=team_id,
            channel_id=channel_id,
            message_ts=message_ts,
            ticket_id=ticket_id,
            detail=detail,
        )
        async with self._sessions.begin() as session:
            await add(session, values)

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return list(rows)
