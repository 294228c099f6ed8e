"""Retention drops done jobs, old turns and old audit rows, and keeps everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.support.db import Database
from ticketbolt.bot.db.audit import AuditLog
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.db.models import Base
from ticketbolt.bot.db.retention import Retention, RetentionPolicy
from ticketbolt.bot.db.turns import Turns


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_purge_keeps_the_retention_window_and_every_unfinished_job(
    database: Database,
) -> None:
    """Done jobs older than the window go, in batches; queued, failed and recent ones stay."""
    clock = Clock(datetime.now(UTC) - timedelta(days=40))
    queue = JobQueue(database.sessions, clock=clock)
    for i in range(7):
        await queue.enqueue("k", {}, key=f"old-{i}")
    for job in await queue.claim("w", limit=5):
        await queue.complete(job, "w")  # five done 40 days ago; two still queued
    clock.now = datetime.now(UTC)
    await queue.enqueue("k", {}, key="recent")
    [recent] = await queue.claim("w")
    await queue.complete(recent, "w")
    retention = Retention(database.sessions, RetentionPolicy(days=30, batch=2))
    removed = await retention.purge()
    assert 5 == removed["jobs"]
    states = (await queue.stats())["by_state"]
    assert {"queued": 2, "running": 0, "done": 1, "failed": 0} == states


async def test_purge_drops_old_turns_and_audit_rows_by_their_own_windows(
    database: Database,
) -> None:
    """Turns follow the general window; the audit log keeps its longer one."""
    turns, audit = Turns(database.sessions), AuditLog(database.sessions)
    await turns.add("T:D:1", "1.0", "user", "U1", "hello")
    await audit.record(actor="U1", action="create", outcome="ok")
    later = Clock(datetime.now(UTC) + timedelta(days=31))
    removed = await Retention(database.sessions, RetentionPolicy(days=30), clock=later).purge()
    assert (1, 0) == (removed["turns"], removed["audit_log"])
    much_later = Clock(datetime.now(UTC) + timedelta(days=366))
    removed = await Retention(database.sessions, RetentionPolicy(), clock=much_later).purge()
    assert 1 == removed["audit_log"]


async def test_the_migrations_build_exactly_the_models_schema(database: Database) -> None:
    """After `db upgrade` the database has every table, column and index the models declare."""
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_schemas": False}), Base.metadata
            )
        )
    assert [] == diff
