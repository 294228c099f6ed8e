"""The durable job queue, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support.db import Database
from ticketbolt.bot.db.jobs import JobQueue


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_enqueue_is_idempotent_by_key(database: Database) -> None:
    """The same idempotency key records one job, however often it is enqueued."""
    queue = JobQueue(database.sessions)
    results = [await queue.enqueue("create_ticket", {"n": i}, key="T1:C1:1.0") for i in range(3)]
    assert [True, False, False] == results
    assert 1 == (await queue.stats())["by_state"]["queued"]


async def test_concurrent_enqueues_of_one_key_record_one_job(database: Database) -> None:
    """Twenty concurrent enqueues with one key leave exactly one job (the unique index decides)."""
    queue = JobQueue(database.sessions)
    results = await asyncio.gather(
        *(queue.enqueue("create_ticket", {}, key="T1:C1:2.0") for _ in range(20))
    )
    assert 1 == sum(results)


async def test_claim_leases_and_complete_finishes(database: Database) -> None:
    """A claimed job is running for its owner, not claimable by others, and done after complete."""
    queue = JobQueue(database.sessions)
    await queue.enqueue("k", {"a": 1}, key="one")
    [job] = await queue.claim("w1")
    assert ("k", {"a": 1}, 1) == (job.kind, job.payload, job.attempts)
    assert [] == await queue.claim("w2")
    assert await queue.complete(job, "w1")
    assert 1 == (await queue.stats())["by_state"]["done"]


async def test_jobs_of_one_message_run_in_order(database: Database) -> None:
    """A later job with the same order key waits until the earlier one finished."""
    queue = JobQueue(database.sessions)
    await queue.enqueue("create", {}, key="c", order_key="T:C:1")
    await queue.enqueue("resolve", {}, key="r", order_key="T:C:1")
    await queue.enqueue("other", {}, key="o", order_key="T:C:2")
    first = await queue.claim("w", limit=10)
    assert ["create", "other"] == [job.kind for job in first]
    await queue.complete(first[0], "w")
    [second] = await queue.claim("w", limit=10)
    assert "resolve" == second.kind


async def test_failure_backs_off_then_ends_failed(database: Database) -> None:
    """A failing job is retried after a backoff and ends `failed` after its last attempt."""
    clock = Clock()
    queue = JobQueue(database.sessions, max_attempts=2, backoff_base=10, clock=clock)
    await queue.enqueue("k", {}, key="f")
    [job] = await queue.claim("w")
    assert "queued" == await queue.fail(job, "w", "boom")
    assert [] == await queue.claim("w")  # still backing off
    clock.now += timedelta(seconds=11)
    [job] = await queue.claim("w")
    assert "failed" == await queue.fail(job, "w", "boom again")
    failed = await queue.get(job.id)
    assert failed is not None
    assert ("failed", "boom again") == (failed.state, failed.last_error)
    assert await queue.requeue(job.id)
    assert 1 == len(await queue.claim("w"))


async def test_expired_lease_is_claimed_again(database: Database) -> None:
    """A job whose worker vanished is picked up by another worker once the lease expires."""
    clock = Clock()
    queue = JobQueue(database.sessions, lease_seconds=30, clock=clock)
    await queue.enqueue("k", {}, key="lease")
    [job] = await queue.claim("dead-worker")
    clock.now += timedelta(seconds=31)
    [again] = await queue.claim("live-worker")
    assert (job.id, 2) == (again.id, again.attempts)
    assert not await queue.complete(job, "dead-worker")
    assert await queue.complete(again, "live-worker")


async def test_concurrent_workers_never_claim_the_same_job(database: Database) -> None:
    """Eight workers claiming at once share forty jobs without overlap."""
    queue = JobQueue(database.sessions)
    for i in range(40):
        await queue.enqueue("k", {"i": i}, key=f"j{i}")

    async def drain(owner: str) -> list[int]:
        got: list[int] = []
        while batch := await queue.claim(owner, limit=3):
            got.extend(job.id for job in batch)
        return got

    claimed = await asyncio.gather(*(drain(f"w{n}") for n in range(8)))
    ids = [job_id for batch in claimed for job_id in batch]
    assert 40 == len(ids)
    assert 40 == len(set(ids))


async def test_enqueue_marks_the_event_accepted(database: Database) -> None:
    """The event id is recorded with its job; a second job from the same event still counts."""
    from ticketbolt.bot.db.events import ProcessedEvents

    queue, events = JobQueue(database.sessions), ProcessedEvents(database.sessions)
    assert not await events.seen("Ev1")
    assert await queue.enqueue("a", {}, key="a:1", event_id="Ev1")
    assert await queue.enqueue("b", {}, key="b:1", event_id="Ev1")
    assert await events.seen("Ev1")


async def test_old_event_ids_are_purged(database: Database) -> None:
    """Event ids past Slack's retry horizon are deleted; recent ones stay."""
    from sqlalchemy import update

    from ticketbolt.bot.db.events import ProcessedEvents
    from ticketbolt.bot.db.models import ProcessedEvent

    queue, events = JobQueue(database.sessions), ProcessedEvents(database.sessions)
    await queue.enqueue("k", {}, key="old", event_id="EvOld")
    await queue.enqueue("k", {}, key="new", event_id="EvNew")
    async with database.sessions.begin() as session:
        await session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.event_id == "EvOld")
            .values(received_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert 1 == await events.purge()
    assert (False, True) == (await events.seen("EvOld"), await events.seen("EvNew"))


async def test_a_permanent_failure_ends_at_once_and_unblocks_the_next_job(
    database: Database,
) -> None:
    """A job that cannot succeed fails on its first attempt, and the next job of the same
    conversation runs right away instead of waiting behind its retries."""
    queue = JobQueue(database.sessions, max_attempts=15)
    await queue.enqueue("reply", {}, key="a", order_key="T:D:1")
    await queue.enqueue("reply", {}, key="b", order_key="T:D:1")
    [first] = await queue.claim("w", limit=10)
    assert "failed" == await queue.fail(first, "w", "DataError", permanent=True)
    [second] = await queue.claim("w", limit=10)
    assert (first.id + 1, 1) == (second.id, second.attempts)
    assert 1 == (await queue.stats())["by_state"]["failed"]


async def test_a_released_job_keeps_its_attempt_and_waits_for_the_settle_time(
    database: Database,
) -> None:
    """Released at shutdown, a job is not a first attempt again: its next claim counts 2, knows
    the outcome is unknown, and comes only after the settle time."""
    clock = Clock()
    queue = JobQueue(database.sessions, clock=clock)
    await queue.enqueue("create", {}, key="c")
    [job] = await queue.claim("old")
    assert (1, False) == (job.attempts, job.outcome_unknown)
    await queue.release(job, "old", settle_seconds=20)
    assert [] == await queue.claim("new")
    clock.now += timedelta(seconds=21)
    [again] = await queue.claim("new")
    assert (2, True) == (again.attempts, again.outcome_unknown)


async def test_extending_a_lease_keeps_a_slow_job_from_a_second_worker(database: Database) -> None:
    """A running job whose lease its owner renews is not claimed by another worker."""
    clock = Clock()
    queue = JobQueue(database.sessions, lease_seconds=10, clock=clock)
    await queue.enqueue("create", {}, key="slow")
    [job] = await queue.claim("w1")
    clock.now += timedelta(seconds=8)
    assert {job.id} == await queue.extend([job.id], "w1")
    clock.now += timedelta(seconds=8)
    assert [] == await queue.claim("w2")
    assert set() == await queue.extend([job.id], "w2")  # only the owner renews


async def test_nul_and_lone_surrogates_are_stored_without_them(database: Database) -> None:
    """A payload holding NUL or an unpaired surrogate is recorded (PostgreSQL refuses both)."""
    queue = JobQueue(database.sessions)
    assert await queue.enqueue("reply", {"text": "hi\x00 there \ud800!", "n": [1, "\x00"]}, key="z")
    [job] = await queue.claim("w")
    assert {"text": "hi there ?!", "n": [1, ""]} == job.payload


async def test_a_continuation_keeps_its_place_in_line(database: Database) -> None:
    """A job recorded with `queued_since` (a hand-off continuing a customer's message) is
    claimed before jobs recorded after that time; a time in the future counts as now."""
    clock = Clock()
    queue = JobQueue(database.sessions, clock=clock)
    await queue.enqueue("assistant_reply", {"n": 1}, key="later-1")
    clock.now += timedelta(seconds=5)
    await queue.enqueue("assistant_reply", {"n": 2}, key="later-2")
    await queue.enqueue(
        "handoff_ticket", {"n": 0}, key="waited", queued_since=clock.now - timedelta(seconds=9)
    )
    await queue.enqueue(
        "handoff_ticket", {"n": 3}, key="future", queued_since=clock.now + timedelta(hours=1)
    )
    claimed = [job.payload["n"] for job in await queue.claim("w", 1)]
    claimed += [job.payload["n"] for job in await queue.claim("w", 1)]
    claimed += [job.payload["n"] for job in await queue.claim("w", 2)]
    assert [0, 1, 2, 3] == claimed
