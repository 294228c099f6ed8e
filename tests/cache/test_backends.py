"""One behaviour suite for every cache backend, run on memory and on the real Redis server."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.cache.conftest import FakeClock
from ticketbolt.cache.base import Cache, CacheUnavailable
from ticketbolt.cache.fallback import FallbackCache
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.cache.redis import RedisCache


async def test_get_returns_what_set_stored(cache: Cache) -> None:
    """A stored value comes back unchanged, and a missing key is None."""
    await cache.set("greeting", b"hello", ttl=60)
    assert b"hello" == await cache.get("greeting")
    assert await cache.get("absent") is None


async def test_stats_count_hits_and_misses(cache: Cache) -> None:
    """Each get counts one hit or one miss."""
    await cache.set("k", b"v", ttl=60)
    await cache.get("k")
    await cache.get("k")
    await cache.get("nope")
    assert (2, 1) == (cache.stats.hits, cache.stats.misses)
    assert pytest.approx(2 / 3) == cache.stats.hit_rate


async def test_delete_removes_the_entry(cache: Cache) -> None:
    """A deleted key reads as missing."""
    await cache.set("k", b"v", ttl=60)
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_incr_counts_within_a_window(cache: Cache) -> None:
    """incr starts at one and adds one per call."""
    counts = [await cache.incr("rate:U1", ttl=60) for _ in range(3)]
    assert [1, 2, 3] == counts


async def test_size_counts_live_entries(cache: Cache) -> None:
    """size reports the entries stored."""
    for i in range(5):
        await cache.set(f"n{i}", b"x", ttl=60)
    assert 5 == await cache.size()


async def test_memory_entries_expire() -> None:
    """An entry past its ttl is gone, and so is an incr window."""
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"v", ttl=10)
    await cache.incr("c", ttl=10)
    clock.now += 11
    assert await cache.get("k") is None
    assert 1 == await cache.incr("c", ttl=10)


async def test_memory_is_bounded_and_evicts_least_recently_used() -> None:
    """With max_entries reached, the least recently read entry is evicted first."""
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", ttl=60)
    await cache.set("b", b"2", ttl=60)
    await cache.get("a")
    await cache.set("c", b"3", ttl=60)
    assert (b"1", None, b"3") == (await cache.get("a"), await cache.get("b"), await cache.get("c"))


async def test_redis_entries_expire(redis_client: Redis, unique: str) -> None:
    """Redis keeps the ttl as a millisecond expiry on the key."""
    cache = RedisCache(redis_client, prefix=f"test:{unique}:")
    await cache.set("k", b"v", ttl=30)
    ttl_ms = await redis_client.pttl(f"test:{unique}:k")
    assert 0 < ttl_ms <= 30_000


async def test_unreachable_redis_raises_cache_unavailable() -> None:
    """A Redis backend pointed at a closed port reports CacheUnavailable, not a raw socket error."""
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(CacheUnavailable):
            await RedisCache(client).get("k")
    finally:
        await client.aclose()


async def test_fallback_serves_from_memory_while_redis_is_down_and_returns() -> None:
    """With Redis down the fallback cache keeps working in memory, then goes back to Redis."""
    clock = FakeClock()
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    memory = MemoryCache()
    try:
        cache = FallbackCache(RedisCache(down), memory, retry_after=5, clock=clock)
        await cache.set("k", b"v", ttl=60)
        assert b"v" == await cache.get("k")
        assert "redis→memory" == cache.backend
        assert cache.degraded
        clock.now += 6
        assert b"v" == await cache.get("k")  # served from memory; Redis is probed aside
        await cache.probe_finished()
        assert cache.degraded  # the probe found Redis still down
    finally:
        await down.aclose()


async def test_fallback_returns_to_redis_when_it_answers(redis_client: Redis, unique: str) -> None:
    """Once the primary answers again, reads and writes go to it."""
    clock = FakeClock()
    primary = RedisCache(redis_client, prefix=f"test:{unique}:")
    cache = FallbackCache(primary, MemoryCache(), retry_after=5, clock=clock)
    await cache.set("k", b"v", ttl=60)
    assert "redis" == cache.backend
    assert b"v" == await primary.get("k")
