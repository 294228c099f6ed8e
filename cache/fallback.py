"""A cache that prefers Redis and serves from memory while Redis is unreachable."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ticketbolt.cache.base import Cache, CacheStats, CacheUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)


class FallbackCache:
    """Routes to `primary` until it fails, then to `secondary` for `retry_after` seconds.

    After the pause one call tries the primary again, so the cache returns to Redis on its own
    once Redis is back. Nothing raises to the caller: a cache outage must not become a bot outage.
    """

    def __init__(
        self,
        primary: Cache,
        secondary: Cache,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._primary = primary
        self._secondary = secondary
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0
        self._stats = CacheStats()

    @property
    def degraded(self) -> bool:
        return self._down_until > self._clock()

    @property
    def backend(self) -> str:
        name = f"{self._primary.backend}→{self._secondary.backend}"
        return name if self.degraded else self._primary.backend

    @property
    def stats(self) -> CacheStats:
        return self._stats

    async def _call(self, op: Callable[[Cache], Awaitable[T]]) -> T:
        if not self.degraded:
            try:
                result = await op(self._primary)
            except CacheUnavailable as exc:
                if self._down_until == 0.0 or not self.degraded:
                    log.warning(
                        "cache primary unavailable, using %s: %s", self._secondary.backend, exc
                    )
                self._down_until = self._clock() + self._retry_after
            else:
                self._down_until = 0.0
                return result
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
        """Probe the primary; raise only when it is down (the fallback still serves)."""
        try:
            await self._primary.ping()
        except CacheUnavailable:
            self._down_until = self._clock() + self._retry_after
            raise
        self._down_until = 0.0
