"""One writer task for many waiters: whatever is waiting goes to the database in one call.

Concurrent callers `submit` an item and wait; the writer takes everything waiting (up to
`max_batch`), writes it in one transaction, and answers each caller with its own result. A
caller still waits for the write that holds its item, so nothing is acknowledged before it is
durable; if that write fails, every caller of the batch gets its exception. The ack path's
group commit (bot/db/batch.py) and the worker's completions (bot/worker_completions.py) are
both this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Waiting(Generic[T]):
    item: T
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Batcher(Generic[T]):
    """`write` takes a batch and returns one result per item, in order."""

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[list[bool]]],
        *,
        name: str,
        max_batch: int = 200,
        max_waiting: int = 10_000,
    ):
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._waiting: asyncio.Queue[_Waiting[T]] = asyncio.Queue(max_waiting)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Write what is waiting, then stop; callers then write on their own."""
        if self._task is None:
            return
        await self._waiting.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, item: T) -> bool:
        waiting = _Waiting(item)
        await self._waiting.put(waiting)  # bounded: a flood waits here instead of growing memory
        return await waiting.done

    async def _run(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            while len(batch) < self._max_batch and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            try:
                results = await self._write([w.item for w in batch])
            except Exception as exc:  # every caller of the batch gets it, as a lone write would
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
            else:
                for waiting, result in zip(batch, results, strict=True):
                    if not waiting.done.done():
                        waiting.done.set_result(result)
            finally:
                for _ in batch:
                    self._waiting.task_done()
