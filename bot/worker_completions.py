"""Completions in batches: jobs that finish while one write is under way are marked done together.

A finished job still holds its slot and its lease until it is marked done, so nothing about
exactly-once or per-message order changes; only the number of transactions does. Under load
dozens of jobs finish within one write, and each write is one round of the database instead of
one per job (on SQLite every write waits for the single writer, so that round is what the
next customer's reply queues behind).
"""

from __future__ import annotations

from ticketbolt.bot.db.batcher import Batcher
from ticketbolt.bot.db.jobs import JobQueue, JobRecord


class Completions:
    """One writer task for a worker's completions; `complete` returns once its job is done."""

    def __init__(self, queue: JobQueue, owner: str, *, max_batch: int = 200):
        self._queue = queue
        self._owner = owner
        self._batcher = Batcher(self._write, name="ticketbolt-completions", max_batch=max_batch)

    def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        """Write what is waiting, then stop; later completions are written one by one."""
        await self._batcher.stop()

    async def complete(self, job: JobRecord) -> bool:
        """Whether `job` was still held by this worker and is now done (raises what the
        write raised)."""
        if not self._batcher.running:
            return await self._queue.complete(job, self._owner)
        return await self._batcher.submit(job)

    async def _write(self, jobs: list[JobRecord]) -> list[bool]:
        done = await self._queue.complete_each(jobs, self._owner)
        return [job.id in done for job in jobs]
