"""Group commit: jobs recorded by many concurrent requests share one transaction.

Every Slack event is acknowledged only after its job is durable. Committing each job alone costs
a transaction per event; here one writer task takes whatever is waiting (up to `max_batch`),
inserts it all in one transaction, and then answers every waiting request. A request still waits
for the commit that holds its own job, so the guarantee is unchanged; if that transaction fails,
every request in it fails and Slack retries each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db import heads
from ticketbolt.bot.db.models import Job, ProcessedEvent
from ticketbolt.bot.db.notify import announce
from ticketbolt.bot.db.upsert import insert_rows_returning


@dataclass
class _Pending:
    job: dict[str, Any]
    event_id: str
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """One writer for the ack path; `submit` returns whether the job's key was new."""

    def __init__(
        self, sessions: async_sessionmaker[Any], *, max_batch: int = 200, max_waiting: int = 10_000
    ):
        self._sessions = sessions
        self._max_batch = max_batch
        self._waiting: asyncio.Queue[_Pending] = asyncio.Queue(max_waiting)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ticketbolt-group-commit")

    async def stop(self) -> None:
        """Finish what is waiting, then stop; later submissions fall back to the caller."""
        if self._task is None:
            return
        await self._waiting.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, job: dict[str, Any], event_id: str) -> bool:
        pending = _Pending(job, event_id)
        await self._waiting.put(pending)  # bounded: a flood waits here instead of growing memory
        return await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            while len(batch) < self._max_batch and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            try:
                created = await self._write(batch)
            except Exception as exc:  # every request of the batch reports it; Slack retries
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(exc)
            else:
                first: set[str] = set()
                for pending in batch:
                    key = pending.job["idempotency_key"]
                    if not pending.done.done():
                        pending.done.set_result(key in created and key not in first)
                    first.add(key)
            for _ in batch:
                self._waiting.task_done()

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
