"""A cache that prefers Redis and serves from memory while Redis is unreachable or frozen."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ticketbolt.cache.base import Cache, CacheStats, CacheUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)


class FallbackCache:
    """Routes to `primary` until it fails, then to `secondary` until a probe finds it back.

    A failed call (an error, or no answer within `timeout`) marks the primary down. While it is
    down, every call goes straight to the secondary; every `retry_after` seconds one background
    probe pings the primary, and the first probe that succeeds brings it back. So a Redis that
    is frozen (open sockets, no answers) costs one bounded wait, never one per request. Nothing
    raises to the caller: a cache outage must not become a bot outage.
    """

    def __init__(
        self,
        primary: Cache,
        secondary: Cache,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 0.5,
    ):
        self._primary = primary
        self._secondary = secondary
        self._retry_after = retry_after
        self._clock = clock
        self._timeout = timeout
        self._down = False
        self._probe_at = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._stats = CacheStats()

    @property
    def degraded(self) -> bool:
        return self._down

    @property
    def backend(self) -> str:
        name = f"{self._primary.backend}→{self._secondary.backend}"
        return name if self.degraded else self._primary.backend

    @property
    def stats(self) -> CacheStats:
        return self._stats

    def _mark_down(self, why: object) -> None:
        if not self._down:
            log.warning("cache primary unavailable, using %s: %s", self._secondary.backend, why)
        self._down = True
        self._probe_at = self._clock() + self._retry_after

    def _mark_up(self) -> None:
        if self._down:
            log.warning("cache primary answers again, using %s", self._primary.backend)
        self._down = False

    async def _on_primary(self, op: Callable[[Cache], Awaitable[T]]) -> T:
        try:
            return await asyncio.wait_for(op(self._primary), self._timeout)
        except TimeoutError as exc:
            raise CacheUnavailable(f"no answer within {self._timeout:g}s") from exc

    def _maybe_probe(self) -> None:
        running = self._probe is not None and not self._probe.done()
        if running or self._clock() < self._probe_at:
            return
        self._probe_at = self._clock() + self._retry_after
        self._probe = asyncio.create_task(self._probe_primary())

    async def _probe_primary(self) -> None:
        try:
            await self._on_primary(lambda c: c.ping())
        except CacheUnavailable:
            self._probe_at = self._clock() + self._retry_after
        else:
            self._mark_up()

    async def _call(self, op: Callable[[Cache], Awaitable[T]]) -> T:
        if not self._down:
            try:
                return await self._on_primary(op)
            except CacheUnavailable as exc:
                self._mark_down(exc)
        else:
            self._maybe_probe()
        return await op(self._secondary)

    async def get(self, key: str) -> bytes | None:
        value = await self._call(lambda c: c.get(key))
        self._stats.record(value is not None)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._call(lambda c: c.set(key, value, ttl))

    async def delete(self, key: str) -> None:
        await self._call(lambda c: c.delete(key))

    async def incr(self, key: str, ttl: float) -> int:
        return await self._call(lambda c: c.incr(key, ttl))

    async def size(self) -> int:
        return await self._call(lambda c: c.size())

    async def ping(self) -> None:
        """Probe the primary within the timeout; raise only when it is down (the fallback
        still serves)."""
        try:
            await self._on_primary(lambda c: c.ping())
        except CacheUnavailable as exc:
            self._mark_down(exc)
            raise
        self._mark_up()

    async def probe_finished(self) -> None:
        """Wait for a background probe of the primary, if one is running."""
        if self._probe is not None:
            await asyncio.wait([self._probe])

    async def aclose(self) -> None:
        """Stop a probe still waiting on the primary."""
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
