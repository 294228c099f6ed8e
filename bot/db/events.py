"""Event-id de-duplication for Slack's retried deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db.models import ProcessedEvent


class ProcessedEvents:
    """Remembers accepted `event_id`s long enough to outlast Slack's retries (hours)."""

    def __init__(self, sessions: async_sessionmaker[Any]):
        self._sessions = sessions

    async def seen(self, event_id: str) -> bool:
        """Whether a delivery of this event was already accepted (a job was recorded for it)."""
        async with self._sessions() as session:
            found = await session.get(ProcessedEvent, event_id)
            return found is not None

    async def purge(self, older_than: timedelta = timedelta(hours=26)) -> int:
        """Drop ids older than Slack's retry horizon (24 h with delayed events)."""
        cutoff = datetime.now(UTC) - older_than
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ProcessedEvent).where(ProcessedEvent.received_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)
