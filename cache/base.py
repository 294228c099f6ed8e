"""The protocol every cache backend implements, and the statistics it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class CacheUnavailable(Exception):
    """The backend could not be reached; callers may fall back or treat it as a miss."""


@dataclass
class CacheStats:
    """Hit and miss counters for one backend or one layer."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def record(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1


@runtime_checkable
class Cache(Protocol):
    """A key/value store of bytes with per-entry time-to-live.

    Keys are plain strings; backends may prefix them. `ttl` is in seconds.
    `incr` is a fixed-window counter: it adds one and returns the new count, and the
    counter expires `ttl` seconds after it was first created.
    """

    @property
    def backend(self) -> str:
        """A short name for status reports: ``memory``, ``redis`` or ``redis→memory``."""
        ...

    @property
    def stats(self) -> CacheStats: ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, ttl: float) -> int: ...

    async def size(self) -> int:
        """How many live entries the backend holds (approximate for Redis)."""
        ...

    async def ping(self) -> None:
        """Raise `CacheUnavailable` when the backend does not answer."""
        ...
