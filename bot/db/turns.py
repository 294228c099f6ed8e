"""Assistant conversations: the turns of each DM or channel thread, in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db.models import Turn
from ticketbolt.bot.db.upsert import insert_ignore


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
            return await insert_ignore(
                session,
                Turn,
                {
                    "conversation_key": conversation_key,
                    "message_ts": message_ts,
                    "role": role,
                    "author": author,
                    "text": text[:8000],
                    "intent": intent,
                },
            )

    async def latest(self, conversation_key: str, role: str) -> TurnRecord | None:
        """The conversation's most recent turn with this role, however long ago."""
        async with self._sessions() as session:
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

    async def history(self, conversation_key: str, limit: int = 100) -> list[TurnRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Turn)
                .where(Turn.conversation_key == conversation_key)
                .order_by(Turn.id.desc())
                .limit(limit)
            )
            return [
                TurnRecord(r.message_ts, r.role, r.author, r.text, r.intent)
                for r in reversed(list(rows))
            ]
