"""The shared rate limiter falls back to a local one while Redis is unreachable."""

from __future__ import annotations

from redis.asyncio import Redis

from ticketbolt.integrations.resilience import (
    FallbackRateLimiter,
    LocalLeakyBucket,
    RedisLeakyBucket,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_redis_down_throttles_locally_then_returns_to_redis(redis_url: str) -> None:
    """acquire() keeps working with Redis unreachable, and uses Redis again once it answers."""
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    local = LocalLeakyBucket(10, 1.0)
    clock = Clock()
    try:
        limiter = FallbackRateLimiter(
            RedisLeakyBucket(down, "rl:test", 10, 1.0), local, retry_after=5, clock=clock
        )
        waited = await limiter.acquire()
        assert 0.0 == waited
        assert limiter.degraded
        assert local.level > 0
    finally:
        await down.aclose()
    up = Redis.from_url(redis_url)
    try:
        shared = RedisLeakyBucket(up, "rl:test-up", 10, 1.0)
        limiter = FallbackRateLimiter(shared, LocalLeakyBucket(10, 1.0), clock=clock)
        await limiter.acquire()
        assert not limiter.degraded
        assert 1 == await up.exists("rl:test-up")
    finally:
        await up.aclose()
