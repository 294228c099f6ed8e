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
        self.owner = owner or worker_id()
        self._running: dict[asyncio.Task[None], JobRecord] = {}
        self._maintenance = maintenance
        self._maintenance_interval = maintenance_interval
        self._next_maintenance = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"owner": self.owner})
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
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running), timeout=self._grace)
        for task in pending:
            job = self._running.get(task)
            task.cancel()
            if job is not None:
                await self._queue.release(job, self.owner)
                log.info("job released on shutdown", extra={"job_id": job.id})

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
        except PermanentJobError as exc:
            outcome = "failed"
            log.warning(
                "job failed permanently",
                extra={"job_id": job.id, "kind": job.kind, "error": str(exc)},
            )
            await self._queue.fail(
                JobRecord(**{**job.__dict__, "attempts": job.max_attempts}), self.owner, str(exc)
            )
        except Exception as exc:
            state = await self._queue.fail(job, self.owner, f"{type(exc).__name__}: {exc}")
            outcome = "failed" if state == "failed" else "retry"
            log.warning(
                "job attempt failed",
                extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "next": state},
                exc_info=exc,
            )
        else:
            await self._queue.complete(job, self.owner)
        finally:
            self._metrics.jobs.labels(job.kind, outcome).inc()
            self._metrics.job_seconds.labels(job.kind).observe(time.perf_counter() - started)
            clear_correlation_id()
