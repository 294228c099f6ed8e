"""Ticket links: the one Gorgias ticket of a Slack message, unique per team, channel and ts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db.models import TicketLink
from ticketbolt.bot.db.upsert import insert_ignore


@dataclass(frozen=True)
class Link:
    team_id: str
    channel_id: str
    message_ts: str
    thread_ts: str
    ticket_id: int | None
    status: str
    created_by: str
    source: str


def _link(row: TicketLink) -> Link:
    return Link(
        row.team_id,
        row.channel_id,
        row.message_ts,
        row.thread_ts,
        row.ticket_id,
        row.status,
        row.created_by,
        row.source,
    )


class TicketLinks:
    def __init__(self, sessions: async_sessionmaker[Any]):
        self._sessions = sessions

    async def claim(
        self,
        team_id: str,
        channel_id: str,
        message_ts: str,
        thread_ts: str,
        created_by: str,
        source: str = "reaction",
    ) -> bool:
        """Reserve the message for one ticket; False when it already has (or is getting) one."""
        async with self._sessions.begin() as session:
            return await insert_ignore(
                session,
                TicketLink,
                {
                    "team_id": team_id,
                    "channel_id": channel_id,
                    "message_ts": message_ts,
                    "thread_ts": thread_ts,
                    "created_by": created_by,
                    "source": source,
                    "status": "pending",
                },
            )

    async def get(self, team_id: str, channel_id: str, message_ts: str) -> Link | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketLink).where(
                    TicketLink.team_id == team_id,
                    TicketLink.channel_id == channel_id,
                    TicketLink.message_ts == message_ts,
                )
            )
            return _link(row) if row else None

    async def by_ticket(self, ticket_id: int) -> Link | None:
        async with self._sessions() as session:
            row = await session.scalar(select(TicketLink).where(TicketLink.ticket_id == ticket_id))
            return _link(row) if row else None

    async def by_thread(self, team_id: str, channel_id: str, thread_ts: str) -> Link | None:
        """The link whose message starts (or is) this thread."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketLink).where(
                    TicketLink.team_id == team_id,
                    TicketLink.channel_id == channel_id,
                    TicketLink.thread_ts == thread_ts,
                    TicketLink.ticket_id.is_not(None),
                )
            )
            return _link(row) if row else None

    async def set_ticket(
        self,
        team_id: str,
        channel_id: str,
        message_ts: str,
        ticket_id: int,
        status: str,
        customer_id: int | None = None,
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(TicketLink)
                .where(
                    TicketLink.team_id == team_id,
                    TicketLink.channel_id == channel_id,
                    TicketLink.message_ts == message_ts,
                )
                .values(ticket_id=ticket_id, status=status, customer_id=customer_id)
            )

    async def set_status(self, ticket_id: int, status: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(TicketLink).where(TicketLink.ticket_id == ticket_id).values(status=status)
            )

    async def count_since(
        self,
        since: datetime,
        *,
        source: str,
        team_id: str | None = None,
        created_by: str | None = None,
    ) -> int:
        """Links of this source claimed since `since`, for one team and person when given."""
        query = select(func.count()).where(
            TicketLink.source == source, TicketLink.created_at >= since
        )
        if team_id is not None:
            query = query.where(TicketLink.team_id == team_id)
        if created_by is not None:
            query = query.where(TicketLink.created_by == created_by)
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def counts(self) -> dict[str, int]:
        """Linked tickets by status, for stats."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(TicketLink.status, func.count()).group_by(TicketLink.status)
            )
            return {str(status): int(count) for status, count in rows.all()}
