"""Ticket links: the one Gorgias ticket of a Slack message, unique per team, channel and ts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db import audit
from ticketbolt.bot.db.engine import read_only
from ticketbolt.bot.db.models import TicketLink
from ticketbolt.bot.db.upsert import insert_rows_returning, storable

# The ticket path's statements, built once over the table (Core, not the ORM) with their values
# bound at execution: each is compiled once, and no ORM entity or bulk-update bookkeeping is
# made per call.
_LINKS = cast("Table", TicketLink.__table__)  # a declared model's table is a Table
_MESSAGE = (
    _LINKS.c.team_id == bindparam("link_team"),
    _LINKS.c.channel_id == bindparam("link_channel"),
    _LINKS.c.message_ts == bindparam("link_ts"),
)
_GET = select(_LINKS).where(*_MESSAGE)
_SET_TICKET = (
    update(_LINKS)
    .where(*_MESSAGE)
    .values(
        ticket_id=bindparam("link_ticket"),
        status=bindparam("link_status"),
        customer_id=bindparam("link_customer"),
    )
)


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


def _message(team_id: str, channel_id: str, message_ts: str) -> dict[str, str]:
    return {"link_team": team_id, "link_channel": channel_id, "link_ts": message_ts}


def _link(row: Any) -> Link:
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
        self._reads = read_only(sessions)  # one-statement look-ups on every job's path

    async def reserve(
        self,
        team_id: str,
        channel_id: str,
        message_ts: str,
        thread_ts: str,
        created_by: str,
        source: str = "reaction",
    ) -> Link:
        """Reserve the message for one ticket, and return its link as it stands: this call's new
        one, or the one an earlier call made (which may have its ticket already); one
        transaction."""
        values = _new_link(team_id, channel_id, message_ts, thread_ts, created_by, source)
        async with self._sessions.begin() as session:
            if await insert_rows_returning(session, _LINKS, [values], "id"):
                # This call made the row: it holds exactly these values, no need to read it.
                return Link(**storable(values), ticket_id=None)
            row = (await session.execute(_GET, _message(team_id, channel_id, message_ts))).one()
            return _link(row)

    async def get(self, team_id: str, channel_id: str, message_ts: str) -> Link | None:
        async with self._reads() as session:
            result = await session.execute(_GET, _message(team_id, channel_id, message_ts))
            row = result.first()
            return _link(row) if row else None

    async def by_ticket(self, ticket_id: int) -> Link | None:
        async with self._reads() as session:
            row = await session.scalar(select(TicketLink).where(TicketLink.ticket_id == ticket_id))
            return _link(row) if row else None

    async def by_thread(self, team_id: str, channel_id: str, thread_ts: str) -> Link | None:
        """The link whose message starts (or is) this thread."""
        async with self._reads() as session:
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
        *,
        audit_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the message's ticket; with `audit_fields` (`AuditLog.record`'s keyword
        arguments), its audit row in the same transaction."""
        values = {
            **_message(team_id, channel_id, message_ts),
            "link_ticket": ticket_id,
            "link_status": status,
            "link_customer": customer_id,
        }
        async with self._sessions.begin() as session:
            await session.execute(_SET_TICKET, values)
            if audit_fields is not None:
                await audit.add(session, audit.entry(**audit_fields))

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
        async with self._reads() as session:
            return int(await session.scalar(query) or 0)

    async def counts(self) -> dict[str, int]:
        """Linked tickets by status, for stats."""
        async with self._reads() as session:
            rows = await session.execute(
                select(TicketLink.status, func.count()).group_by(TicketLink.status)
            )
            return {str(status): int(count) for status, count in rows.all()}


def _new_link(
    team_id: str,
    channel_id: str,
    message_ts: str,
    thread_ts: str,
    created_by: str,
    source: str,
) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "channel_id": channel_id,
        "message_ts": message_ts,
        "thread_ts": thread_ts,
        "created_by": created_by,
        "source": source,
        "status": "pending",
    }
