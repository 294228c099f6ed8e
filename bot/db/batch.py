"""Group commit: jobs recorded by many concurrent requests share one transaction.

Every Slack event is acknowledged only after its job is durable. Committing each job alone costs
a transaction per event; here one writer task takes whatever is waiting (up to `max_batch`),
inserts it all in one transaction, and then answers every waiting request. A request still waits
for the commit that holds its own job, so the guarantee is unchanged; if that transaction fails,
every request in it fails and Slack retries each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db import heads
from ticketbolt.bot.db.batcher import Batcher
from ticketbolt.bot.db.models import Job, ProcessedEvent
from ticketbolt.bot.db.notify import announce
from ticketbolt.bot.db.upsert import insert_rows_returning


@dataclass(frozen=True)
class _Pending:
    job: dict[str, Any]
    event_id: str


class GroupCommit:
    """One writer for the ack path; `submit` returns whether the job's key was new."""

    def __init__(
        self, sessions: async_sessionmaker[Any], *, max_batch: int = 200, max_waiting: int = 10_000
    ):
        self._sessions = sessions
        self._batcher = Batcher(
            self._answers,
            name="ticketbolt-group-commit",
            max_batch=max_batch,
            max_waiting=max_waiting,
        )

    @property
    def running(self) -> bool:
        return self._batcher.running

    def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        """Finish what is waiting, then stop; later submissions fall back to the caller."""
        await self._batcher.stop()

    async def submit(self, job: dict[str, Any], event_id: str) -> bool:
        return await self._batcher.submit(_Pending(job, event_id))

    async def _answers(self, batch: list[_Pending]) -> list[bool]:
        """Each request's answer: its key was new, and it was the first of its key here."""
        created = await self._write(batch)
        first: set[str] = set()
        answers = []
        for pending in batch:
            key = pending.job["idempotency_key"]
            answers.append(key in created and key not in first)
            first.add(key)
        return answers

    async def _write(self, batch: list[_Pending]) -> set[str]:
        events = sorted({p.event_id for p in batch if p.event_id})
        jobs: dict[str, dict[str, Any]] = {}
        for pending in batch:  # in arrival order, so ids follow it; the first of a key wins
            jobs.setdefault(pending.job["idempotency_key"], pending.job)
        rows = list(jobs.values())
        async with self._sessions.begin() as session:
            # Two jobs of one message in one batch: the first becomes the head, the second waits.
            await heads.mark(session, rows)
            if events:
                await insert_rows_returning(
                    session, _table(ProcessedEvent), [{"event_id": e} for e in events], None
                )
            created = await insert_rows_returning(session, _table(Job), rows, "idempotency_key")
            await heads.settle(session, rows, created)
            if created:
                await announce(session)
            return created


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table
