"""The job worker: claims leased jobs, runs their feature handler, retries with backoff."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

from ticketbolt.bot.db.jobs import JobQueue, JobRecord
from ticketbolt.bot.logs import bind_correlation_id, clear_correlation_id
from ticketbolt.bot.metrics import Metrics
from ticketbolt.handlers.deps import JobHandler, PermanentJobError
from ticketbolt.handlers.failures import classify

log = logging.getLogger("ticketbolt.worker")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs up to `concurrency` jobs at a time; on stop, finishes or releases what it holds."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        metrics: Metrics,
        *,
        concurrency: int = 4,
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
        self._concurrency = concurrency
        self._poll = poll_interval
        self._grace = grace_seconds
        self._settle = settle_seconds
        self.owner = owner or worker_id()
        self._running: dict[asyncio.Task[None], JobRecord] = {}
        self._maintenance = maintenance
        self._maintenance_interval = maintenance_interval
        self._next_maintenance = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"owner": self.owner})
        renewing = asyncio.create_task(self._renew_leases())
        try:
            await self._loop(stop)
        finally:
            renewing.cancel()

    async def _renew_leases(self) -> None:
        """Keep the leases of running jobs fresh, so a slow job is never claimed twice."""
        interval = max(0.05, self._queue.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            ids = [job.id for job in self._running.values()]
            try:
                await self._queue.extend(ids, self.owner)
            except Exception:  # the database may be briefly down; the next round tries again
                log.warning("renewing job leases failed", exc_info=True)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._maintain()
            free = self._concurrency - len(self._running)
            jobs: list[JobRecord] = []
            if free > 0:
                self._queue.wakeup.clear()
                try:
                    jobs = await self._queue.claim(self.owner, limit=free)
                except Exception:  # the database may be briefly down; keep the worker alive
                    log.exception("claiming jobs failed")
            for job in jobs:
                task = asyncio.create_task(self._execute(job))
                self._running[task] = job
                task.add_done_callback(self._running.pop)
            if not jobs or free <= 0:
                await self._idle(stop)
        await self._drain()

    async def _maintain(self) -> None:
        """Housekeeping such as expiring old event ids, at most once per interval."""
        if self._maintenance is None or time.monotonic() < self._next_maintenance:
            return
        self._next_maintenance = time.monotonic() + self._maintenance_interval
        try:
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
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
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
            await self._queue.complete(job, self.owner)
        finally:
            self._metrics.jobs.labels(job.kind, outcome).inc()
            self._metrics.job_seconds.labels(job.kind).observe(time.perf_counter() - started)
            clear_correlation_id()
