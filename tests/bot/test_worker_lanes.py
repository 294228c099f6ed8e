"""Lanes: each kind of work has its own slots in the worker."""

from __future__ import annotations

import asyncio

from tests.support.db import Database
from tests.support.stack import emulators, eventually, running_app, worker_running
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.lanes import ASSISTANT, SYNC, TICKETS
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.worker import Lane, Worker
from ticketbolt.handlers.deps import JobLike


async def test_a_reply_completes_while_slow_tickets_fill_their_lane(database: Database) -> None:
    """With every ticket slot held by a job that does not finish, a customer's reply enqueued
    after a burst of tickets still runs, and a job no handler knows fails with a reason."""
    queue = JobQueue(database.sessions)
    release = asyncio.Event()
    replied: list[int] = []

    async def slow_ticket(job: JobLike) -> None:
        await release.wait()

    async def reply(job: JobLike) -> None:
        replied.append(job.id)

    for n in range(10):
        await queue.enqueue("create_ticket", {}, key=f"t{n}")
    await queue.enqueue("assistant_reply", {}, key="r", order_key="T:D:1")
    await queue.enqueue("retired_kind", {}, key="x")
    worker = Worker(
        queue,
        {"create_ticket": slow_ticket, "assistant_reply": reply},
        Metrics(),
        lanes=[  # the last lane also takes kinds no lane names
            Lane("tickets", 2, frozenset({"create_ticket"})),
            Lane("assistant", 1, frozenset({"assistant_reply"})),
        ],
        poll_interval=0.05,
        grace_seconds=0,
        settle_seconds=0,
    )

    async def settled() -> bool:
        states = (await queue.stats())["by_state"]
        return (1, 2, 1) == (len(replied), states["running"], states["failed"])

    async with worker_running(worker):
        try:
            await eventually(settled, what="the reply done beside two running tickets")
        finally:
            release.set()  # the tickets end before the worker stops, even after a failed wait
    [failed] = await queue.list("failed")
    assert ("retired_kind", "no handler for job kind 'retired_kind'") == (
        failed.kind,
        failed.last_error,
    )


async def test_every_job_kind_the_features_register_has_a_named_lane(database: Database) -> None:
    """No job kind falls into the sync lane by accident: each is named in bot/lanes.py."""
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as stack:
        registered = set(stack.runtime.deps.job_handlers)
    assert set() == registered - (ASSISTANT | TICKETS | SYNC)
