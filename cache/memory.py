"""An in-process cache: bounded LRU with per-entry expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ticketbolt.cache.base import CacheStats


class MemoryCache:
    """Keeps at most `max_entries` values; the least recently used goes first when full."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._stats = CacheStats()

    @property
    def backend(self) -> str:
        return "memory"

    @property
    def stats(self) -> CacheStats:
        return self._stats

    def _live(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        self._stats.record(value is not None)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._items[key] = (self._clock() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def incr(self, key: str, ttl: float) -> int:
        current = self._live(key)
        if current is None:
            await self.set(key, b"1", ttl)
            return 1
        expires, _ = self._items[key]
        count = int(current) + 1
        self._items[key] = (expires, str(count).encode())
        return count

    async def size(self) -> int:
        now = self._clock()
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]
        return len(self._items)

    async def ping(self) -> None:
        return None
