"""`ticketbolt run`'s job worker as a supervised child process.

Python runs one event loop per process: a worker in the server's process shares its loop and its
core with the acknowledgements Slack times at 3 s, and a burst of ticket work shows up directly
in ack latency. With TICKETBOLT_WORKER_PROCESS resolving to "process", the server starts
`ticketbolt worker --supervised` as a child instead and keeps it alive:

- **Wake-ups.** The child would otherwise find new jobs only at its poll interval. The parent
  writes one byte to the child's stdin whenever its queue's `wakeup` event is set (enqueues and
  SLA clock changes set it); bursts coalesce into one byte per loop turn.
- **Its parent's life.** The child stops gracefully when its stdin reaches end of file, which
  is what happens when the parent dies, even by SIGKILL: no orphaned worker keeps running
  beside the next deployment's.
- **Restarts.** A child that exits on its own is started again after a back-off that doubles up
  to 30 s, reset once a child has lived a minute.
- **Stopping.** SIGTERM to the child, which drains like any worker (TICKETBOLT_SHUTDOWN_GRACE),
  then SIGKILL if it has not exited after the grace and a margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

log = logging.getLogger("ticketbolt.supervisor")

RESTART_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0
STOP_MARGIN_SECONDS = 10.0


def child_command() -> list[str]:
    return [sys.executable, "-m", "ticketbolt", "worker", "--supervised"]


def child_environment(metrics_port: int | None) -> dict[str, str]:
    """The parent's environment, but the child's operations port is its own setting: both
    processes binding TICKETBOLT_METRICS_PORT would fail."""
    env = dict(os.environ)
    env.pop("TICKETBOLT_METRICS_PORT", None)
    if metrics_port is not None:
        env["TICKETBOLT_METRICS_PORT"] = str(metrics_port)
    return env


class WorkerProcess:
    """Runs, wakes, restarts and stops one child worker until `stop` is set."""

    def __init__(
        self,
        wakeup: asyncio.Event,
        *,
        grace_seconds: float,
        metrics_port: int | None = None,
        command: Sequence[str] | None = None,
    ):
        self._wakeup = wakeup
        self._grace = grace_seconds
        self._command = list(command or child_command())
        self._env = child_environment(metrics_port)
        self.restarts = 0
        self.pid: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self._command, stdin=asyncio.subprocess.PIPE, env=self._env
            )
            self.pid = proc.pid
            log.info("worker process started", extra={"pid": proc.pid})
            waking = asyncio.create_task(self._wake(proc))
            try:
                stopping = asyncio.create_task(stop.wait())
                exited = asyncio.create_task(proc.wait())
                await asyncio.wait({stopping, exited}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if stop.is_set():
                    await self._terminate(proc)
                    return
            finally:
                waking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waking
                if proc.returncode is None:  # cancelled from outside: leave nothing behind
                    await self._terminate(proc)
            if time.monotonic() - started >= HEALTHY_AFTER_SECONDS:
                backoff = 1.0
            self.restarts += 1
            log.error(
                "worker process exited; starting another",
                extra={"exit_code": proc.returncode, "restart_in_s": backoff},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, RESTART_MAX_SECONDS)

    async def _wake(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None
        self._wakeup.set()  # jobs enqueued while no child was listening
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                proc.stdin.write(b"\n")
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                return  # the child is gone; run() sees it exit

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=self._grace + STOP_MARGIN_SECONDS)
            except TimeoutError:
                log.error("worker process ignored SIGTERM; killing it", extra={"pid": proc.pid})
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        log.info("worker process stopped", extra={"exit_code": proc.returncode})


async def follow_parent(wakeup: asyncio.Event, stop: asyncio.Event) -> None:
    """In the child: each line on stdin wakes the worker; end of file (the parent is gone)
    stops it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        chunk = await reader.read(4096)
        if not chunk:
            log.info("supervising process gone; stopping the worker")
            stop.set()
            return
        wakeup.set()
