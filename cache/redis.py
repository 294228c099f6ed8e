"""A Redis cache backend on one `redis.asyncio` connection pool."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ticketbolt.cache.base import CacheStats, CacheUnavailable


class RedisCache:
    """Stores values under `prefix`; every Redis failure surfaces as `CacheUnavailable`."""

    def __init__(self, client: Redis, prefix: str = "ticketbolt:"):
        self._redis = client
        self._prefix = prefix
        self._stats = CacheStats()

    @property
    def backend(self) -> str:
        return "redis"

    @property
    def stats(self) -> CacheStats:
        return self._stats

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        self._stats.record(value is not None)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            # SET … PX as a plain command: redis-py's `set` inspects its own signature on
            # every call (to warn about experimental arguments), which costs more than the
            # round trip on a busy worker.
            await self._redis.execute_command(  # type: ignore[no-untyped-call]  # unannotated upstream
                "SET", self._prefix + key, value, "PX", max(1, int(ttl * 1000))
            )
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def incr(self, key: str, ttl: float) -> int:
        full = self._prefix + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(full)
                # NX: the window starts with the first increment and is not extended by later ones.
                pipe.pexpire(full, max(1, int(ttl * 1000)), nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return int(count)

    async def size(self) -> int:
        count = 0
        try:
            async for _ in self._redis.scan_iter(match=self._prefix + "*", count=500):
                count += 1
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return count

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
