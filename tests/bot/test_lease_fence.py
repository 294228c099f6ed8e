"""A worker that stalls past its job's lease sends no write once another worker took the job.

The fence runs before every upstream write of a job (`note_write`): while the lease has more
than half its length left it costs nothing; after a stall it renews the lease in the database,
and a lease another worker holds by then stops the write. The stall here is the clock jumping
a minute while the job waits just before its write.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.bot.db.test_jobs import Clock
from tests.support.db import Database
from tests.support.stack import eventually, worker_running
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.worker import Worker
from ticketbolt.handlers.deps import JobLike
from ticketbolt.integrations.resilience import note_write


@pytest.mark.parametrize("taken", [True, False])
async def test_a_stalled_worker_writes_only_while_the_job_is_still_its_own(
    database: Database, taken: bool
) -> None:
    """Taken by another worker during the stall: the write is not sent and the job is left to
    its new holder. Not taken: the fence renews the lease, the write goes out, the job is done."""
    clock = Clock()
    queue = JobQueue(database.sessions, lease_seconds=30, clock=clock)
    await queue.enqueue("create_ticket", {}, key="k")
    waiting, resume, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
    writes: list[str] = []

    async def handler(job: JobLike) -> None:
        try:
            waiting.set()
            await resume.wait()
            await note_write()  # e.g. the Gorgias create is about to go out
            writes.append("first worker")
        finally:
            finished.set()

    # One slot: the stalled job holds it, so this worker cannot claim its own expired job.
    worker = Worker(
        queue, {"create_ticket": handler}, Metrics(), concurrency=1, owner="w1", poll_interval=0.01
    )
    async with worker_running(worker):
        await asyncio.wait_for(waiting.wait(), 10)
        clock.now += timedelta(seconds=60)  # the worker stalled for a minute
        again = await queue.claim("w2") if taken else []
        resume.set()
        await asyncio.wait_for(finished.wait(), 10)
        if taken:
            [job] = again
            assert 2 == job.attempts  # the new holder knows an earlier attempt may have acted
            assert [] == writes
            stored = await queue.get(job.id)
            assert stored is not None
            assert "running" == stored.state
            assert await queue.complete(job, "w2")  # still the new holder's to finish
        else:
            assert ["first worker"] == writes

            async def done() -> bool:
                return bool((await queue.stats())["by_state"]["done"] == 1)

            await eventually(done, what="the job done by the first worker")


async def test_after_a_renewal_comes_up_short_each_write_asks_the_database(
    database: Database,
) -> None:
    """Two jobs stall; another worker takes one of them. The stalled worker's next renewal
    keeps the lease it still holds and finds the other gone: the job it still holds writes,
    the one taken over does not."""
    clock = Clock()
    queue = JobQueue(database.sessions, lease_seconds=0.3, clock=clock)
    first_id = await queue.enqueue("create_ticket", {"n": 1}, key="a")
    await queue.enqueue("create_ticket", {"n": 2}, key="b")
    resume = {1: asyncio.Event(), 2: asyncio.Event()}
    waiting, writes, finished = asyncio.Event(), [], asyncio.Event()
    started: set[int] = set()

    async def handler(job: JobLike) -> None:
        n = job.payload["n"]
        started.add(n)
        if len(started) == 2:
            waiting.set()
        await resume[n].wait()
        try:
            await note_write()
            writes.append(n)
        finally:
            if n == 1:
                finished.set()

    worker = Worker(
        queue, {"create_ticket": handler}, Metrics(), concurrency=2, owner="w1", poll_interval=0.01
    )
    async with worker_running(worker):
        await asyncio.wait_for(waiting.wait(), 10)
        clock.now += timedelta(seconds=60)  # both stalled past their leases
        [taken] = await queue.claim("w2", limit=1)
        assert first_id == taken.id
        # The stalled worker renews again (every 0.1 s here): one lease of two is still its own.
        await eventually(
            lambda: worker._held_until.get(first_id, 0) is None,
            what="a renewal that found the lease gone",
        )
        resume[2].set()
        await eventually(lambda: writes == [2], what="the job still held to write")
        resume[1].set()
        await asyncio.wait_for(finished.wait(), 10)
        assert [2] == writes  # the job taken over sent nothing
