"""Assistant conversations: the turns of each DM or channel thread, in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbolt.bot.db.engine import read_only
from ticketbolt.bot.db.models import Turn
from ticketbolt.bot.db.upsert import insert_ignore, insert_rows_returning

# The turns `history` reads by default: the most recent of a conversation.
HISTORY = 100


@dataclass(frozen=True)
class TurnRecord:
    message_ts: str
    role: str  # customer | bot | handoff
    author: str
    text: str
    intent: str | None


class Turns:
    def __init__(self, sessions: async_sessionmaker[Any]):
        self._sessions = sessions
        self._reads = read_only(sessions)  # every reply reads its conversation first

    async def add(
        self,
        conversation_key: str,
        message_ts: str,
        role: str,
        author: str,
        text: str,
        intent: str | None = None,
    ) -> bool:
        """Append a turn; a turn already stored for this message is left as it is."""
        async with self._sessions.begin() as session:
            return await _insert(
                session, conversation_key, (message_ts, role, author, text, intent)
            )

    async def add_each(
        self, conversation_key: str, turns: Sequence[tuple[str, str, str, str, str | None]]
    ) -> None:
        """Append turns, each `(message_ts, role, author, text, intent)` as `add` takes them,
        in their order and in one transaction; a turn already stored is left as it is."""
        if not turns:
            return
        async with self._sessions.begin() as session:
            # One statement for all of them (one round trip on PostgreSQL), rows in order.
            await insert_rows_returning(
                session, _TURNS, [_row(conversation_key, turn) for turn in turns], None
            )

    async def latest(self, conversation_key: str, role: str) -> TurnRecord | None:
        """The conversation's most recent turn with this role, however long ago."""
        async with self._reads() as session:
            row = await session.scalar(
                select(Turn)
                .where(Turn.conversation_key == conversation_key, Turn.role == role)
                .order_by(Turn.id.desc())
                .limit(1)
            )
            return (
                TurnRecord(row.message_ts, row.role, row.author, row.text, row.intent)
                if row
                else None
            )

    async def history(self, conversation_key: str, limit: int = HISTORY) -> list[TurnRecord]:
        async with self._reads() as session:
            return await self._history(session, conversation_key, limit)

    async def recent(
        self, conversation_key: str, role: str
    ) -> tuple[list[TurnRecord], TurnRecord | None]:
        """`history` and `latest(role)` in one read: the latter is found in the former when
        that holds the whole conversation, and is read apart only when it does not."""
        async with self._reads() as session:
            turns = await self._history(session, conversation_key, HISTORY)
            if len(turns) < HISTORY:
                return turns, next((t for t in reversed(turns) if t.role == role), None)
            row = await session.scalar(
                select(Turn)
                .where(Turn.conversation_key == conversation_key, Turn.role == role)
                .order_by(Turn.id.desc())
                .limit(1)
            )
            return turns, _record(row) if row else None

    async def _history(
        self, session: AsyncSession, conversation_key: str, limit: int
    ) -> list[TurnRecord]:
        # Columns, not ORM objects: every reply reads up to HISTORY turns, and building an
        # identity-mapped object per row cost more than the query.
        rows = await session.execute(
            select(Turn.message_ts, Turn.role, Turn.author, Turn.text, Turn.intent)
            .where(Turn.conversation_key == conversation_key)
            .order_by(Turn.id.desc())
            .limit(limit)
        )
        return [TurnRecord(*row) for row in reversed(rows.all())]


def _record(row: Turn) -> TurnRecord:
    return TurnRecord(row.message_ts, row.role, row.author, row.text, row.intent)


_TURNS = cast("Table", Turn.__table__)  # a declared model's table is a Table


def _row(conversation_key: str, turn: tuple[str, str, str, str, str | None]) -> dict[str, Any]:
    message_ts, role, author, text, intent = turn
    return {
        "conversation_key": conversation_key,
        "message_ts": message_ts,
        "role": role,
        "author": author,
        "text": text[:8000],
        "intent": intent,
    }


async def _insert(
    session: AsyncSession, conversation_key: str, turn: tuple[str, str, str, str, str | None]
) -> bool:
    return await insert_ignore(session, Turn, _row(conversation_key, turn))
