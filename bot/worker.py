"""The job worker: claims leased jobs, runs their feature handler, retries with backoff."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketbolt.bot.db.jobs import JobQueue, JobRecord
from ticketbolt.bot.logs import bind_correlation_id, clear_correlation_id
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.worker_completions import Completions
from ticketbolt.handlers.deps import JobHandler, PermanentJobError
from ticketbolt.handlers.failures import classify, deferral
from ticketbolt.integrations.resilience import LeaseLost, deferrable

log = logging.getLogger("ticketbolt.worker")

# Before a write, a lease with less than this share of its length left is renewed first.
FENCE_SHARE = 0.5


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Lane:
    """Jobs of these kinds run in `slots` of their own, so a burst in one lane (a hundred
    tickets) never keeps another (a customer's reply) waiting for a slot."""

    name: str
    slots: int
    kinds: frozenset[str] = frozenset()


class Worker:
    """Runs each lane's jobs up to its slots; on stop, finishes or releases what it holds.

    Without `lanes` there is one lane of `concurrency` slots. The last lane also runs every
    kind no lane names: handlers left out, and jobs no handler knows (found when the worker
    starts and at each maintenance interval), which then fail with a reason instead of
    waiting unseen.
    """

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        metrics: Metrics,
        *,
        concurrency: int = 4,
        lanes: Sequence[Lane] = (),
        poll_interval: float = 0.5,
        grace_seconds: float = 10.0,
        settle_seconds: float = 20.0,
        owner: str | None = None,
        maintenance: Callable[[], Awaitable[object]] | None = None,
        maintenance_interval: float = 3600.0,
    ):
        self._queue = queue
        self._handlers = handlers
        self._metrics = metrics
        self._lanes = list(lanes) if lanes else [Lane("jobs", concurrency)]
        self._kinds = self._lane_kinds(frozenset())
        self._lane_of: dict[asyncio.Task[None], str] = {}
        self._poll = poll_interval
        self._grace = grace_seconds
        self._settle = settle_seconds
        self.owner = owner or worker_id()
        self._running: dict[asyncio.Task[None], JobRecord] = {}
        self._maintenance = maintenance
        self._maintenance_interval = maintenance_interval
        self._next_maintenance = 0.0
        self._completions = Completions(queue, self.owner)
        # Until when each running job's lease is known to be this worker's (see `_fence`);
        # None when a renewal came up short and the database must be asked.
        self._held_until: dict[int, datetime | None] = {}

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"owner": self.owner})
        renewing = asyncio.create_task(self._renew_leases())
        listening = asyncio.create_task(self._queue.listen(stop))
        self._completions.start()
        try:
            await self._loop(stop)
        finally:
            await self._completions.stop()
            renewing.cancel()
            listening.cancel()

    async def _renew_leases(self) -> None:
        """Keep the leases of running jobs fresh, so a slow job is never claimed twice."""
        interval = max(0.05, self._queue.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            ids = [job.id for job in self._running.values()]
            until = self._queue.now() + timedelta(seconds=self._queue.lease_seconds)
            try:
                held = await self._queue.extend(ids, self.owner)
            except Exception:  # the database may be briefly down; the next round tries again
                log.warning("renewing job leases failed", exc_info=True)
                continue
            for job_id in ids:  # one lost (or just finished): its next write asks the database
                if job_id in self._held_until:
                    self._held_until[job_id] = until if job_id in held else None

    def _lane_kinds(self, unknown: frozenset[str]) -> dict[str, frozenset[str]]:
        named = frozenset().union(*(lane.kinds for lane in self._lanes))
        kinds = {lane.name: lane.kinds for lane in self._lanes}
        last = self._lanes[-1].name
        kinds[last] = kinds[last] | (frozenset(self._handlers) - named) | unknown
        return kinds

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._maintain()
            self._queue.wakeup.clear()
            free = {
                lane.name: lane.slots
                - sum(1 for name in self._lane_of.values() if name == lane.name)
                for lane in self._lanes
            }
            wanted = [lane for lane in self._lanes if free[lane.name] > 0]
            more = False
            for lane, jobs in zip(wanted, await self._claim(wanted, free), strict=True):
                more = more or len(jobs) == free[lane.name]  # a full batch: more may be due
                for job in jobs:
                    self._start(lane, job)
            if not more:
                await self._idle(stop)
        await self._drain()

    async def _claim(self, lanes: list[Lane], free: dict[str, int]) -> list[list[JobRecord]]:
        """Up to each lane's free slots of its kinds, every lane in one transaction."""
        if not lanes:
            return []
        wants = [(free[lane.name], self._kinds[lane.name]) for lane in lanes]
        try:
            return await self._queue.claim_each(self.owner, wants)
        except Exception:  # the database may be briefly down; keep the worker alive
            log.exception("claiming jobs failed", extra={"lanes": [lane.name for lane in lanes]})
            return [[] for _ in lanes]

    def _start(self, lane: Lane, job: JobRecord) -> None:
        lease = timedelta(seconds=self._queue.lease_seconds)
        self._held_until[job.id] = self._queue.now() + lease
        task = asyncio.create_task(self._execute(job))
        self._running[task] = job
        self._lane_of[task] = lane.name
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        job = self._running.pop(task, None)
        if job is not None:
            self._held_until.pop(job.id, None)
        self._lane_of.pop(task, None)

    def _fence(self, job: JobRecord) -> Callable[[], Awaitable[None]]:
        """Runs before each upstream write of `job`. A lease renewed on schedule has more than
        half its length left and costs nothing; after a stall (a starved process, a paused
        VM) the lease is renewed in the database first. If another worker claimed the job
        meanwhile, `LeaseLost` stops the write: that worker runs the job, after looking up
        what this attempt did, and two writes of one job never race."""
        lease = timedelta(seconds=self._queue.lease_seconds)

        async def fence() -> None:
            held_until = self._held_until.get(job.id)
            if held_until is not None and self._queue.now() + lease * FENCE_SHARE < held_until:
                return
            if job.id not in await self._queue.extend([job.id], self.owner):
                raise LeaseLost(f"job {job.id} is held by another worker now")
            self._held_until[job.id] = self._queue.now() + lease

        return fence

    async def _maintain(self) -> None:
        """At most once per interval: look for jobs of kinds no handler knows (the last lane
        takes them), then housekeeping such as expiring old event ids."""
        if time.monotonic() < self._next_maintenance:
            return
        self._next_maintenance = time.monotonic() + self._maintenance_interval
        try:
            unknown = await self._queue.kinds_waiting() - frozenset(self._handlers)
            self._kinds = self._lane_kinds(frozenset(unknown))
            if self._maintenance is not None:
                await self._maintenance()
        except Exception:  # housekeeping must never stop the worker
            log.exception("maintenance failed")

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._queue.wakeup.wait())]
        if self._running:
            waiters.append(asyncio.create_task(asyncio.wait(list(self._running))))  # type: ignore[arg-type]
        _, pending = await asyncio.wait(
            waiters, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()

    async def _drain(self) -> None:
        """Give running jobs the grace; then cancel the rest, wait for them to stop, release."""
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running), timeout=self._grace)
        jobs = {task: self._running[task] for task in pending if task in self._running}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
        for job in jobs.values():
            await self._queue.release(job, self.owner, settle_seconds=self._settle)
            log.info(
                "job released on shutdown; its next attempt checks what this one did",
                extra={"job_id": job.id, "kind": job.kind, "retry_in_s": self._settle},
            )

    async def _execute(self, job: JobRecord) -> None:
        bind_correlation_id(job.correlation_id or f"job-{job.id}")
        started = time.perf_counter()
        handler = self._handlers.get(job.kind)
        outcome = "done"
        try:
            if handler is None:
                raise PermanentJobError(f"no handler for job kind {job.kind!r}")
            # Its upstream calls raise `Deferred` rather than hold this slot through a long wait.
            with deferrable(self._fence(job)) as attempt:
                await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if classify(exc) == "taken_over":
                outcome = "lease_lost"
                log.warning(
                    "job taken over by another worker after this one stalled; its write was "
                    "not sent",
                    extra={"job_id": job.id, "kind": job.kind},
                )
                return
            if (retry_after := deferral(exc)) is not None:
                outcome = "deferred"
                await self._defer(job, exc, retry_after, wrote=attempt.writes > 0)
                return
            kind = classify(exc)
            error = (
                str(exc) if isinstance(exc, PermanentJobError) else f"{type(exc).__name__}: {exc}"
            )
            state = await self._queue.fail(
                job,
                self.owner,
                error,
                permanent=kind == "permanent",
                not_before=self._settle if kind == "unsettled" else 0.0,
            )
            outcome = "failed" if state == "failed" else "retry"
            extra = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "next": state}
            if kind == "permanent":
                log.warning("job failed permanently", extra={**extra, "error": error[:300]})
            else:
                log.warning("job attempt failed", extra={**extra, "cause": kind}, exc_info=exc)
        else:
            await self._completions.complete(job)
        finally:
            self._metrics.jobs.labels(job.kind, outcome).inc()
            self._metrics.job_seconds.labels(job.kind).observe(time.perf_counter() - started)
            clear_correlation_id()

    async def _defer(
        self, job: JobRecord, exc: Exception, retry_after: float, *, wrote: bool
    ) -> None:
        """A rate limit: the job runs again after `retry_after`, its slot free meanwhile. An
        attempt that sent no write gives its attempt back: the next one need not look up what
        it did (each look-up costs calls under the very limit that deferred it)."""
        await self._queue.defer(
            job,
            self.owner,
            f"deferred: {type(exc).__name__}: {exc}",
            retry_after=retry_after,
            attempt_counts=wrote,
        )
        log.info(
            "job deferred by a rate limit",
            extra={"job_id": job.id, "kind": job.kind, "retry_in_s": round(retry_after, 3)},
        )
