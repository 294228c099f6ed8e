"""Per-message order through the head marker, and claims served by the partial index."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, bindparam, event, insert, text
from sqlalchemy.sql.visitors import replacement_traverse

from tests.support.db import Database
from ticketbolt.bot.db import heads
from ticketbolt.bot.db.batch import GroupCommit
from ticketbolt.bot.db.claims import claim_statement
from ticketbolt.bot.db.engine import make_engine
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.db.models import Job


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _fill(database: Database) -> None:
    """20,000 queued jobs of three kinds, 20 per message, 1,000 of them heads."""
    now = datetime.now(UTC)
    rows = [
        {
            "kind": ("create_ticket", "set_status", "sync_backfill")[i % 3],
            "payload": {},
            "idempotency_key": f"k{i}",
            "order_key": f"T:C:{i % 1000}",
            "state": "queued",
            "head": i < 1000,
            "next_attempt_at": now,
        }
        for i in range(20_000)
    ]
    async with database.sessions.begin() as session:
        await session.execute(insert(Job), rows)
        if database.engine.dialect.name == "postgresql":
            await session.execute(text("ANALYZE jobs"))


async def _plan(database: Database) -> str:
    """The query plan of a lane's claim over `_fill`'s jobs."""
    await _fill(database)
    now = datetime.now(UTC)
    statement, values = claim_statement(
        owner="w", now=now, lease_until=now, limit=16, kinds={"create_ticket", "set_status"}
    )
    async with database.engine.connect() as conn:
        sql = str(
            _with_values(statement, values).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
        )
        if conn.dialect.name == "postgresql":
            lines = (await conn.exec_driver_sql(f"EXPLAIN {sql}")).scalars().all()
        else:
            found = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            lines = [row[-1] for row in found]
    return "\n".join(lines)


def _with_values(statement: Any, values: dict[str, Any]) -> Any:
    """The statement with its bound values in place, to render it as literal SQL."""

    def replace(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in values:
            return bindparam(element.key, values[element.key], type_=element.type)
        return None

    return replacement_traverse(statement, {}, replace)


async def test_a_lanes_claim_reads_due_heads_from_the_partial_index(database: Database) -> None:
    """Each kind of the lane is one range of `ix_jobs_due`: no scan of the table, and no
    look at earlier jobs of each candidate."""
    plan = await _plan(database)
    assert 2 == plan.count("ix_jobs_due")
    assert "SubPlan" not in plan  # the NOT EXISTS over earlier jobs is gone
    assert "Seq Scan on jobs" not in plan
    assert "SCAN jobs" not in plan.replace("SCAN jobs USING", "")


async def test_a_batch_of_many_keys_reads_only_their_jobs(database: Database) -> None:
    """Marking an ack batch's heads and handing heads on after a completion batch read the jobs
    of their order keys through `ix_jobs_order_active`, however many keys: never every queued
    job (SQLite's planner, left alone, takes the index on `state` past a few keys)."""
    await _fill(database)
    keys = [f"T:C:{i}" for i in range(64)]
    sent: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if "order_key IN" in sql:
            sent.append((sql, params))

    event.listen(database.engine.sync_engine, "before_cursor_execute", grab)
    try:
        async with database.sessions() as session:
            await heads.mark(session, [{"order_key": key} for key in keys])
            await heads.promote(session, keys)
            await session.rollback()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", grab)
    postgres = database.engine.dialect.name == "postgresql"
    plans = []
    async with database.engine.connect() as conn:
        for sql, params in sent:
            found = await conn.exec_driver_sql(
                f"{'EXPLAIN' if postgres else 'EXPLAIN QUERY PLAN'} {sql}", params
            )
            plans.append("\n".join(str(row[-1]) for row in found))
    assert 2 == len(plans)
    for plan in plans:
        assert "ix_jobs_claim" not in plan
        assert "Seq Scan on jobs" not in plan
        assert postgres or "ix_jobs_order_active" in plan


async def test_the_head_moves_on_retry_permanent_failure_completion_and_requeue(
    database: Database,
) -> None:
    """A retrying job keeps its conversation waiting; a permanent failure or a completion hands
    the turn to the next job; a requeued job waits for the job running in its place."""
    clock = Clock()
    queue = JobQueue(database.sessions, backoff_base=10, clock=clock)
    for name in ("a", "b", "c"):
        await queue.enqueue("reply", {}, key=name, order_key="T:D:1")
    [a] = await queue.claim("w", limit=10)
    assert "queued" == await queue.fail(a, "w", "timeout")
    clock.now += timedelta(seconds=11)
    [a] = await queue.claim("w", limit=10)  # the retry, and still nothing behind it
    assert (a.id, 2) == (a.id, a.attempts)
    assert "failed" == await queue.fail(a, "w", "bad data", permanent=True)
    [b] = await queue.claim("w", limit=10)
    assert await queue.complete(b, "w")
    [c] = await queue.claim("w", limit=10)
    assert await queue.requeue(a.id)
    assert [] == await queue.claim("w", limit=10)  # a waits while c runs
    assert await queue.complete(c, "w")
    [again] = await queue.claim("w", limit=10)
    assert (a.id, b.id, c.id, a.id) == (a.id, b.id, c.id, again.id)


async def test_order_per_message_holds_under_concurrent_claims(database: Database) -> None:
    """Four workers draining 8 messages × 5 jobs never start a job before the earlier jobs of
    its message finished, and run every job exactly once."""
    queue = JobQueue(database.sessions)
    for step in range(5):
        for message in range(8):
            await queue.enqueue(
                "k", {"step": step}, key=f"{message}:{step}", order_key=str(message)
            )
    finished: dict[str, list[int]] = defaultdict(list)
    started_early: list[tuple[str, int]] = []

    async def work(owner: str) -> None:
        while batch := await queue.claim(owner, limit=3, kinds={"k"}):
            for job in batch:
                if finished[job.order_key] != list(range(job.payload["step"])):
                    started_early.append((job.order_key, job.payload["step"]))
                await asyncio.sleep(0)
                finished[job.order_key].append(job.payload["step"])
                assert await queue.complete(job, owner)

    for _ in range(20):  # a worker that saw nothing due may stop before the last heads move
        await asyncio.gather(*(work(f"w{n}") for n in range(4)))
    assert [] == started_early
    assert {str(m): [0, 1, 2, 3, 4] for m in range(8)} == dict(finished)


async def test_two_jobs_of_one_message_in_one_group_commit(database: Database) -> None:
    """In one batch the first job of a message is its head and the second waits; when the first
    of a batch repeats a finished job's key, the next job of that message runs instead."""
    queue = JobQueue(database.sessions)
    await queue.enqueue("create", {}, key="c:2", order_key="T:C:2")
    [old] = await queue.claim("w")
    await queue.complete(old, "w")
    queue.group_commit = GroupCommit(database.sessions, max_batch=50)
    queue.group_commit.start()
    try:
        created = await asyncio.gather(
            queue.enqueue("create", {}, key="c:1", order_key="T:C:1"),
            queue.enqueue("resolve", {}, key="r:1", order_key="T:C:1"),
            queue.enqueue("create", {}, key="c:2", order_key="T:C:2"),  # Slack's retry
            queue.enqueue("resolve", {}, key="r:2", order_key="T:C:2"),
        )
    finally:
        await queue.group_commit.stop()
    assert [True, True, False, True] == created
    first = await queue.claim("w", limit=10)
    assert [("create", "T:C:1"), ("resolve", "T:C:2")] == [(j.kind, j.order_key) for j in first]
    await queue.complete(first[0], "w")
    [second] = await queue.claim("w", limit=10)
    assert ("resolve", "T:C:1") == (second.kind, second.order_key)


async def test_the_migration_marks_the_heads_of_a_waiting_backlog(tmp_path: Path) -> None:
    """Jobs queued before the upgrade keep their order: the earliest unfinished job of each
    message (and every job without one) is its head; later ones wait."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(engine, "0003")
        now = datetime.now(UTC).isoformat(sep=" ")
        jobs = [
            ("a", "T:C:1", "done"),
            ("b", "T:C:1", "queued"),
            ("c", "T:C:1", "queued"),
            ("d", "T:C:2", "running"),
            ("e", "T:C:2", "queued"),
            ("f", "", "queued"),
            ("g", "T:C:3", "failed"),
            ("h", "T:C:3", "queued"),
        ]
        async with engine.begin() as conn:
            for key, order, state in jobs:
                await conn.execute(
                    text(
                        "INSERT INTO jobs (kind, payload, idempotency_key, order_key, state,"
                        " attempts, max_attempts, next_attempt_at, correlation_id, created_at,"
                        " updated_at) VALUES ('k', '{}', :key, :order, :state, 0, 3, :now, '',"
                        " :now, :now)"
                    ),
                    {"key": key, "order": order, "state": state, "now": now},
                )
        await upgrade(engine)
        async with engine.connect() as conn:
            found = await conn.execute(text("SELECT idempotency_key FROM jobs WHERE head"))
            heads = sorted(found.scalars())
    finally:
        await engine.dispose()
    assert ["b", "d", "f", "h"] == heads
