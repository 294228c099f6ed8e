"""Thread-sync bookkeeping: which Slack messages a ticket already holds, and its last assignee."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db.models import MirroredMessage, SyncedTicket
from ticketbolt.bot.db.upsert import insert_ignore


class MirrorLog:
    """Rows are written after Gorgias accepted the message, so a row means "done"."""

    def __init__(self, sessions: async_sessionmaker[Any]):
        self._sessions = sessions

    async def seen(self, key: str) -> bool:
        async with self._sessions() as session:
            return await session.get(MirroredMessage, key) is not None

    async def record(self, key: str, ticket_id: int, gorgias_message_id: int | None) -> None:
        async with self._sessions.begin() as session:
            await insert_ignore(
                session,
                MirroredMessage,
                {
                    "key": key,
                    "ticket_id": ticket_id,
                    "gorgias_message_id": gorgias_message_id,
                },
            )

    async def is_mirrored(self, gorgias_message_id: int) -> bool:
        """True when this Gorgias message is one thread sync wrote (an echo of Slack)."""
        query = (
            select(MirroredMessage.key)
            .where(MirroredMessage.gorgias_message_id == gorgias_message_id)
            .limit(1)
        )
        async with self._sessions() as session:
            return await session.scalar(query) is not None

    async def assignee(self, ticket_id: int) -> int | None:
        async with self._sessions() as session:
            row = await session.get(SyncedTicket, ticket_id)
            return row.assignee_id if row else None

    async def set_assignee(self, ticket_id: int, assignee_id: int | None) -> None:
        async with self._sessions.begin() as session:
            created = await insert_ignore(
                session, SyncedTicket, {"ticket_id": ticket_id, "assignee_id": assignee_id}
            )
            if not created:
                await session.execute(
                    update(SyncedTicket)
                    .where(SyncedTicket.ticket_id == ticket_id)
                    .values(assignee_id=assignee_id)
                )
