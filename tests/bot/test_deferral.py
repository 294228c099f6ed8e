"""A deferred job's attempt: given back when it sent no write, kept when it did."""

from __future__ import annotations

import pytest

from tests.support.db import Database
from tests.support.stack import eventually, worker_running
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.worker import Worker
from ticketbolt.handlers.deps import JobLike
from ticketbolt.integrations.resilience import Deferred, note_write


@pytest.mark.parametrize("writes_first", [False, True])
async def test_a_deferral_gives_the_attempt_back_only_when_nothing_was_written(
    database: Database, writes_first: bool
) -> None:
    """Deferred twice by a limit, then done. Without a write before the deferral, every run
    sees a first attempt (no look-up of what an earlier one did, which would spend the very
    limit that deferred it); after a write, the next run knows its outcome is unknown."""
    queue = JobQueue(database.sessions)
    seen: list[bool] = []

    async def handler(job: JobLike) -> None:
        seen.append(job.outcome_unknown)
        if len(seen) < 3:
            if writes_first:
                await note_write()  # e.g. the ticket was created, then the thread reply was limited
            raise Deferred(0.0, "chat.postMessage")

    await queue.enqueue("create_ticket", {}, key="k", max_attempts=5)
    worker = Worker(queue, {"create_ticket": handler}, Metrics(), poll_interval=0.01)
    async with worker_running(worker):
        await eventually(lambda: len(seen) == 3, what="three runs")

        async def done() -> bool:
            return bool((await queue.stats())["by_state"]["done"] == 1)

        await eventually(done, what="the job done")
    [job] = await queue.list("done")
    if writes_first:
        assert [False, True, True] == seen
        assert (3, 7) == (job.attempts, job.max_attempts)
    else:
        assert [False, False, False] == seen
        assert (1, 5) == (job.attempts, job.max_attempts)
