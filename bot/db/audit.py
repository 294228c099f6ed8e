"""The audit log: an append-only record of every ticket action."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db.models import AuditEntry
from ticketbolt.bot.db.upsert import storable


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
        async with self._sessions.begin() as session:
            session.add(
                AuditEntry(
                    actor=actor,
                    action=action,
                    outcome=outcome,
                    team_id=team_id,
                    channel_id=channel_id,
                    message_ts=message_ts,
                    ticket_id=ticket_id,
                    detail=storable(detail[:2000]),
                )
            )

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return list(rows)
