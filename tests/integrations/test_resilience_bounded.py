"""Bounded acquisition of the leaky buckets: wait a little, or refuse and take nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from tests.integrations.test_resilience import ClockSleep, FakeClock
from ticketbolt.integrations.resilience import LocalLeakyBucket, RedisLeakyBucket


async def test_local_bucket_refuses_a_long_wait_and_takes_nothing() -> None:
    """Capacity 10 per 5 s, nine at once: the tenth would wait 0.5 s, so a 0.2 s bound refuses
    it, names the wait, and leaves the level as it was; a 1 s bound admits it after 0.5 s."""
    clock = FakeClock()
    sleep = ClockSleep(clock)
    bucket = LocalLeakyBucket(10, 5.0, clock=clock, sleep=sleep, headroom=1.0)
    burst = [await bucket.try_acquire(0.0) for _ in range(9)]
    refused = await bucket.try_acquire(0.2)
    level = bucket.level
    admitted = await bucket.try_acquire(1.0)
    assert ([(True, 0.0)] * 9, (False, 0.5), 9.0) == (burst, refused, level)
    assert ((True, 0.5), [0.5]) == (admitted, sleep.delays)


@given(
    bound=st.floats(min_value=0.0, max_value=2.0),
    callers=st.integers(min_value=1, max_value=40),
)
async def test_concurrent_callers_never_wait_longer_than_the_bound(
    bound: float, callers: int
) -> None:
    """Slots are reserved before the wait, so however many callers come at once, none is
    told to wait longer than its bound, and those admitted fit the rate."""
    clock = FakeClock()
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    bucket = LocalLeakyBucket(5, 1.0, clock=clock, sleep=no_sleep, headroom=1.0)
    answers = [await bucket.try_acquire(bound) for _ in range(callers)]
    admitted = [wait for ok, wait in answers if ok]
    assert True is all(wait <= bound for wait in admitted)
    assert len(admitted) <= 4 + 5 * bound + 1e-9


@pytest.mark.redis
async def test_redis_bucket_reserves_within_the_bound(redis_client: Redis, unique: str) -> None:
    """Shared through Redis: a burst fits, the next call is refused under a tiny bound and
    admitted under a generous one, which it waits for."""
    key = f"ticketbolt:test:bounded:{unique}"
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    bucket = RedisLeakyBucket(redis_client, key, 10, 1.0, headroom=1.0, sleep=no_sleep)
    burst = [ok for ok, _ in [await bucket.try_acquire(0.0) for _ in range(9)]]
    refused, _ = await bucket.try_acquire(0.001)
    admitted, waited = await bucket.try_acquire(1.0)
    assert ([True] * 9, False, True, True) == (burst, refused, admitted, 0 < waited <= 0.1)
