"""The durable job queue: idempotent enqueue, leased claims in order per message, backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbolt.bot.db import heads
from ticketbolt.bot.db.batch import GroupCommit
from ticketbolt.bot.db.claims import claim_statement
from ticketbolt.bot.db.models import QUEUED_HEAD, Job, ProcessedEvent
from ticketbolt.bot.db.notify import announce, listen
from ticketbolt.bot.db.upsert import insert_ignore, storable

ACTIVE = ("queued", "running")
UNFINISHED = ("queued", "running", "failed")
_JOBS = cast("Table", Job.__table__)  # a declared model's table is a Table
# Every completion's statement, built once over the table with its values bound at execution:
# compiled once, and run without the ORM's bulk-update bookkeeping.
_COMPLETE = (
    update(_JOBS)
    .where(
        _JOBS.c.id.in_(bindparam("done_ids", expanding=True)),
        _JOBS.c.lease_owner == bindparam("done_owner"),
        _JOBS.c.state == "running",
    )
    .values(
        state="done",
        head=False,
        last_error=None,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("done_at"),
    )
    .returning(_JOBS.c.id)
)


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    order_key: str
    correlation_id: str
    state: str = "running"
    last_error: str | None = None

    @property
    def last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts

    @property
    def outcome_unknown(self) -> bool:
        """An earlier attempt started, and what it did upstream is not known here.

        Attempts are counted when a job is claimed and never given back (not on release at
        shutdown, not when a lease expires), so any attempt after the first must look up what a
        previous one may have created or posted before doing it again.
        """
        return self.attempts > 1


def _record(row: Any) -> JobRecord:
    """A job's record from its ORM object or a row of its columns."""
    return JobRecord(
        row.id,
        row.kind,
        dict(row.payload),
        row.attempts,
        row.max_attempts,
        row.order_key,
        row.correlation_id,
        row.state,
        row.last_error,
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back without a zone; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class JobQueue:
    """Jobs are claimed with a lease; a worker that dies leaves a lease that expires and is retried.

    A job waits while an earlier job with the same `order_key` is queued or running, so a resolve
    never overtakes the create of the same message: only the `head` of each key is claimed, and
    the head passes to the next job of the key in the transaction that finishes it (see
    bot/db/heads.py). Claims read due heads of the wanted kinds from a partial index, so their
    cost does not follow the backlog; they use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (many
    workers, one database); on SQLite the single-statement UPDATE serialises.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 15,
        backoff_base: float = 2.0,
        backoff_max: float = 900.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._sessions = sessions
        self._lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._clock = clock
        self.wakeup = asyncio.Event()
        # Set by the server process: its listeners then share transactions (see bot/db/batch.py).
        self.group_commit: GroupCommit | None = None

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str,
        order_key: str = "",
        correlation_id: str = "",
        max_attempts: int | None = None,
        event_id: str = "",
        queued_since: datetime | None = None,
    ) -> bool:
        """Record a job durably; False when a job with the same key already exists.

        `event_id` marks the Slack delivery as accepted in the same transaction, so Slack's
        retries of it are dropped early, and a failed insert leaves neither row behind.
        `queued_since`: the job continues work that waited in line since then (a hand-off
        after its customer's message), so it keeps that place instead of queueing behind
        everything recorded since; never later than now.
        """
        now = self._clock()
        due = now if queued_since is None else min(_aware(queued_since), now)
        job = {
            "kind": kind,
            "payload": payload,
            "idempotency_key": key,
            "order_key": order_key,
            "correlation_id": correlation_id,
            "state": "queued",
            "head": False,  # decided where it is inserted, under the key's lock
            "attempts": 0,
            "max_attempts": max_attempts or self._max_attempts,
            "next_attempt_at": due,
            "created_at": now,
            "updated_at": now,
        }
        if self.group_commit is not None and self.group_commit.running:
            created = await self.group_commit.submit(job, event_id)
        else:
            async with self._sessions.begin() as session:
                await heads.mark(session, [job])
                if event_id:
                    await insert_ignore(session, ProcessedEvent, {"event_id": event_id})
                created = await insert_ignore(session, Job, job)
                if created:
                    await announce(session)
        if created:
            self.wakeup.set()
        return created

    async def listen(self, stop: asyncio.Event) -> None:
        """Until `stop`: wake this queue's worker when any process records a job (PostgreSQL;
        returns at once on SQLite, where enqueues in this process set `wakeup` directly)."""
        await listen(self._sessions.kw.get("bind"), self.wakeup, stop)

    async def claim(
        self, owner: str, limit: int = 1, *, kinds: Collection[str] | None = None
    ) -> list[JobRecord]:
        """Lease up to `limit` due jobs of `kinds` (None: any kind) to `owner`, counting one
        attempt each; the earliest due first, returned in id order.

        With `kinds` the cost stays the same however long the backlog is (bot/db/claims.py);
        a worker's lane passes its kinds.
        """
        [jobs] = await self.claim_each(owner, [(limit, kinds)])
        return jobs

    async def claim_each(
        self, owner: str, wants: Sequence[tuple[int, Collection[str] | None]]
    ) -> list[list[JobRecord]]:
        """`claim` for each (limit, kinds) of `wants`, all in one transaction: a worker's lanes
        claim together, so a wake-up costs one round of the database and not one per lane."""
        now = self._clock()
        claimed: list[list[JobRecord]] = []
        async with self._sessions.begin() as session:
            for limit, kinds in wants:
                if limit < 1 or (kinds is not None and not kinds):
                    claimed.append([])
                    continue
                statement, values = claim_statement(
                    owner=owner, now=now, lease_until=now + self._lease, limit=limit, kinds=kinds
                )
                rows = (await session.execute(statement, values)).all()
                claimed.append(sorted((_record(row) for row in rows), key=lambda job: job.id))
        return claimed

    async def kinds_waiting(self) -> set[str]:
        """The kinds of the jobs that could be claimed now or later (queued heads)."""
        async with self._sessions() as session:
            return set(await session.scalars(select(Job.kind).where(text(QUEUED_HEAD)).distinct()))

    @property
    def lease_seconds(self) -> float:
        return self._lease.total_seconds()

    def now(self) -> datetime:
        """The queue's clock (leases and due times are read against it)."""
        return self._clock()

    async def extend(self, job_ids: list[int], owner: str) -> set[int]:
        """Renew the leases `owner` holds on these running jobs; the ids it still holds.

        A job that runs longer than its lease (a slow upstream) would otherwise be claimed again
        by another worker while the first is still running it.
        """
        if not job_ids:
            return set()
        async with self._sessions.begin() as session:
            held = await session.scalars(
                update(Job)
                .where(Job.id.in_(job_ids), Job.lease_owner == owner, Job.state == "running")
                .values(lease_expires_at=self._clock() + self._lease)
                .returning(Job.id)
            )
            return set(held)

    async def _finish(self, job_id: int, owner: str, **values: Any) -> bool:
        async with self._sessions.begin() as session:
            return await self._update_held(session, job_id, owner, **values)

    async def _update_held(
        self, session: AsyncSession, job_id: int, owner: str, **values: Any
    ) -> bool:
        result = await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.state == "running")
            .values(lease_owner=None, lease_expires_at=None, updated_at=self._clock(), **values),
            execution_options={"synchronize_session": False},
        )
        return bool(getattr(result, "rowcount", 0))

    async def _end(self, job: JobRecord, owner: str, **values: Any) -> bool:
        """Finish the job for good and pass its key's head to the next job, in one transaction."""
        async with self._sessions.begin() as session:
            await heads.serialise(session, [job.order_key])
            ended = await self._update_held(session, job.id, owner, head=False, **values)
            if ended:
                await heads.promote(session, [job.order_key])
        return ended

    async def complete(self, job: JobRecord, owner: str) -> bool:
        return job.id in await self.complete_each([job], owner)

    async def complete_each(self, jobs: Sequence[JobRecord], owner: str) -> set[int]:
        """Mark these jobs done and pass each key's head on, in one transaction; the ids of
        those `owner` still held (a job whose lease was lost is left to its new holder)."""
        if not jobs:
            return set()
        keys = {job.order_key for job in jobs}
        ids = [job.id for job in jobs]
        async with self._sessions.begin() as session:
            await heads.serialise(session, keys)
            values = {"done_ids": ids, "done_owner": owner, "done_at": self._clock()}
            done = set(await session.scalars(_COMPLETE, values))
            await heads.promote(session, {job.order_key for job in jobs if job.id in done})
        self.wakeup.set()  # a job waiting behind one of these in order may run now
        return done

    async def fail(
        self,
        job: JobRecord,
        owner: str,
        error: str,
        *,
        permanent: bool = False,
        not_before: float = 0.0,
    ) -> str:
        """Back off and retry, or end `failed` after the last attempt or a permanent error;
        `not_before` seconds is the least wait (an unanswered request settling). The new state."""
        if permanent or job.last_attempt:
            await self._end(job, owner, state="failed", last_error=storable(error[:2000]))
            self.wakeup.set()  # the next job of its conversation may run now
            return "failed"
        delay = min(self._backoff_max, self._backoff_base * 2 ** (job.attempts - 1))
        delay = max(not_before, delay * random.uniform(0.5, 1.0))
        await self._finish(
            job.id,
            owner,
            state="queued",
            last_error=storable(error[:2000]),
            next_attempt_at=self._clock() + timedelta(seconds=delay),
        )
        return "queued"

    async def defer(
        self,
        job: JobRecord,
        owner: str,
        reason: str,
        *,
        retry_after: float,
        attempt_counts: bool = True,
    ) -> None:
        """Run the job again in `retry_after` seconds (an upstream's rate limit said so).

        When the attempt sent a write, it stays counted, so the next one looks up what this
        one did first, and `max_attempts` grows by one, so however often a job is deferred it
        never gives up because of it. An attempt that wrote nothing (`attempt_counts=False`)
        is given back instead: the next one knows exactly what the earlier ones knew."""
        await self._finish(
            job.id,
            owner,
            state="queued",
            last_error=storable(reason[:2000]),
            next_attempt_at=self._clock() + timedelta(seconds=max(0.0, retry_after)),
            **(
                {"max_attempts": Job.max_attempts + 1}
                if attempt_counts
                else {"attempts": Job.attempts - 1}
            ),
        )

    async def release(self, job: JobRecord, owner: str, *, settle_seconds: float = 0.0) -> None:
        """Give an unfinished job back (shutdown). Its attempt stays counted, so the next one
        knows the outcome is unknown; it runs after `settle_seconds`, once a request the
        interrupted attempt sent has been answered or abandoned upstream."""
        await self._finish(
            job.id,
            owner,
            state="queued",
            last_error="released at shutdown while running; the next attempt checks first",
            next_attempt_at=self._clock() + timedelta(seconds=settle_seconds),
        )

    async def requeue(self, job_id: int) -> bool:
        """Operators: put a failed job back in the queue with fresh attempts. It runs when no
        other job of its order key is queued or running, else after those."""
        async with self._sessions.begin() as session:
            key = await session.scalar(select(Job.order_key).where(Job.id == job_id))
            await heads.serialise(session, [key or ""])
            result = await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "failed")
                .values(
                    state="queued",
                    head=not key,
                    attempts=0,
                    next_attempt_at=self._clock(),
                    updated_at=self._clock(),
                )
            )
            changed = bool(getattr(result, "rowcount", 0))
            if changed:
                await heads.promote(session, [key or ""])
        if changed:
            self.wakeup.set()
        return changed

    async def get(self, job_id: int) -> JobRecord | None:
        async with self._sessions() as session:
            row = await session.get(Job, job_id)
            return _record(row) if row else None

    async def list(self, state: str | None = None, limit: int = 50) -> list[JobRecord]:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if state:
            query = query.where(Job.state == state)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def stats(self, *, count_done: bool = True) -> dict[str, Any]:
        """Jobs by state and the age of the oldest one waiting.

        Without `count_done` only the unfinished states are counted, through the claim index,
        so the cost follows the backlog and not the history (scrapes of /metrics use this).
        """
        states = ("queued", "running", "done", "failed") if count_done else UNFINISHED
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Job.state, func.count()).where(Job.state.in_(states)).group_by(Job.state)
                )
            ).all()
            oldest = await session.scalar(
                select(func.min(Job.created_at)).where(Job.state == "queued")
            )
        counts = dict.fromkeys(states, 0)
        counts.update({str(state): int(count) for state, count in rows})
        age = (self._clock() - _aware(oldest)).total_seconds() if oldest else 0.0
        return {"by_state": counts, "oldest_queued_seconds": round(max(0.0, age), 3)}
