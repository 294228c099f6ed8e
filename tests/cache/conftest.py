"""The cache fixtures shared by the backend and layer suites: each test runs on memory and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from ticketbolt.cache.base import Cache
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.cache.redis import RedisCache


class FakeClock:
    """A clock the test moves by hand, so expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, unique: str) -> AsyncIterator[Cache]:
    """A cache backend: the in-process one, or the real Redis server under a private prefix."""
    if request.param == "memory":
        yield MemoryCache(max_entries=100)
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisCache(client, prefix=f"test:{unique}:")
    finally:
        await client.aclose()
