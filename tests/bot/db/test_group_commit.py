"""Group commit: concurrent enqueues share transactions without changing what each one means."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.db import Database
from ticketbolt.bot.db.batch import GroupCommit
from ticketbolt.bot.db.events import ProcessedEvents
from ticketbolt.bot.db.jobs import JobQueue


@pytest.fixture
async def queue(database: Database) -> AsyncIterator[JobQueue]:
    jobs = JobQueue(database.sessions)
    jobs.group_commit = GroupCommit(database.sessions, max_batch=50)
    jobs.group_commit.start()
    yield jobs
    await jobs.group_commit.stop()


async def test_concurrent_enqueues_report_new_keys_exactly_once(queue: JobQueue) -> None:
    """100 concurrent enqueues over 10 keys: each key is new for exactly one caller."""
    results = await asyncio.gather(
        *(queue.enqueue("k", {"n": n}, key=f"key-{n % 10}", event_id=f"Ev{n}") for n in range(100))
    )
    assert 10 == sum(results)
    assert 10 == (await queue.stats())["by_state"]["queued"]


async def test_events_are_recorded_with_their_jobs(queue: JobQueue, database: Database) -> None:
    """Every event id of a batch is marked accepted once its enqueue returned."""
    await asyncio.gather(
        *(queue.enqueue("k", {}, key=f"j{n}", event_id=f"Ev{n}") for n in range(20))
    )
    events = ProcessedEvents(database.sessions)
    assert [True] * 20 == [await events.seen(f"Ev{n}") for n in range(20)]


async def test_arrival_order_is_claim_order(queue: JobQueue) -> None:
    """Jobs of one message enqueued in one batch keep their order (a resolve after its create)."""
    await asyncio.gather(
        queue.enqueue("create", {}, key="c", order_key="T:C:1"),
        queue.enqueue("resolve", {}, key="r", order_key="T:C:1"),
    )
    [first] = await queue.claim("w", limit=5)
    assert "create" == first.kind


async def test_a_failed_batch_fails_every_request_in_it(queue: JobQueue) -> None:
    """A transaction that cannot commit raises to each waiting request (Slack then retries)."""
    bad = queue.enqueue("k", {"not json": object()}, key="bad")
    good = queue.enqueue("k", {}, key="good")
    results = await asyncio.gather(bad, good, return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results)
    assert 0 == (await queue.stats())["by_state"]["queued"]
    assert await queue.enqueue("k", {}, key="good")
