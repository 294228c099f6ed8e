"""CircuitBreaker, the leaky buckets and the rate-limit setting, driven by hand-moved clocks."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from ticketbolt.integrations.resilience import (
    CircuitBreaker,
    CircuitOpen,
    LocalLeakyBucket,
    RateLimiter,
    RedisLeakyBucket,
    parse_rate_limit,
)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ClockSleep:
    """Stands in for asyncio.sleep: moves the fake clock on instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.now += seconds


def test_breaker_opens_after_consecutive_failures() -> None:
    """N failures in a row open the breaker; a success in between resets the count."""
    changes: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        failure_threshold=3, clock=FakeClock(), on_state_change=lambda a, b: changes.append((a, b))
    )
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert "closed" == breaker.state

    breaker.record_failure()

    assert "open" == breaker.state
    assert [("closed", "open")] == changes
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_breaker_lets_one_probe_through_after_cool_down() -> None:
    """After reset_timeout exactly one caller may probe; its success closes the breaker."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, clock=clock)
    breaker.record_failure()
    clock.now += 5.0

    breaker.before_call()
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    breaker.record_success()

    assert "closed" == breaker.state
    breaker.before_call()


def test_failed_probe_reopens_for_a_full_cool_down() -> None:
    """A failed probe opens the breaker again, counted from the probe's failure."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=5.0, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 6.0
    breaker.before_call()

    breaker.record_failure()
    clock.now += 4.0

    assert "open" == breaker.state


def test_abandoned_probe_does_not_wedge_half_open() -> None:
    """A probe that never reports (its task was cancelled) expires after another cool-down."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, clock=clock)
    breaker.record_failure()
    clock.now += 5.0
    breaker.before_call()

    clock.now += 5.0

    breaker.before_call()


async def test_local_bucket_allows_a_burst_then_paces() -> None:
    """Capacity 10 per 5 s: nine go at once (one request of headroom), then one per 0.5 s."""
    clock = FakeClock()
    sleep = ClockSleep(clock)
    bucket = LocalLeakyBucket(10, 5.0, clock=clock, sleep=sleep, headroom=1.0)

    waits = [await bucket.acquire() for _ in range(12)]

    assert [0.0] * 9 + [0.5, 0.5, 0.5] == waits
    assert [0.5, 0.5, 0.5] == sleep.delays


async def test_local_bucket_drains_with_time() -> None:
    """A full bucket has room again once the window has leaked it."""
    clock = FakeClock()
    bucket = LocalLeakyBucket(4, 2.0, clock=clock, sleep=ClockSleep(clock))
    for _ in range(3):
        await bucket.acquire()

    clock.now += 2.0

    assert 0.0 == bucket.level
    assert 0.0 == await bucket.acquire()


async def test_observe_adopts_a_fuller_server_view() -> None:
    """A header saying 39/40 used makes an empty local bucket wait for its next request."""
    clock = FakeClock()
    bucket = LocalLeakyBucket(40, 20.0, clock=clock, sleep=ClockSleep(clock))

    bucket.observe(39, 40)

    assert 39.0 == bucket.level
    assert 0.5 == await bucket.acquire()


async def test_observe_never_empties_the_bucket() -> None:
    """A server view emptier than ours (other replicas not yet seen) changes nothing."""
    clock = FakeClock()
    bucket = LocalLeakyBucket(40, 20.0, clock=clock, sleep=ClockSleep(clock))
    for _ in range(10):
        await bucket.acquire()

    bucket.observe(2, 40)

    assert 10.0 == bucket.level


def test_buckets_implement_the_protocol() -> None:
    """Both buckets satisfy the RateLimiter protocol the clients accept."""
    assert isinstance(LocalLeakyBucket(1, 1.0), RateLimiter)


@pytest.mark.parametrize(("spec", "expected"), [("40/20", (40, 20.0)), (" 80/10 ", (80, 10.0))])
def test_parse_rate_limit(spec: str, expected: tuple[int, float]) -> None:
    """The GORGIAS_RATE_LIMIT format is requests/window-seconds."""
    assert expected == parse_rate_limit(spec)


@pytest.mark.parametrize("spec", ["40", "forty/20", "40/0", "0/20", "40/20/1", ""])
def test_parse_rate_limit_rejects_nonsense(spec: str) -> None:
    """Anything else is a ValueError that shows the expected format."""
    with pytest.raises(ValueError, match="40/20"):
        parse_rate_limit(spec)


@pytest.mark.redis
async def test_redis_bucket_is_shared_by_key(redis_client: Redis, unique: str) -> None:
    """Two buckets on one key draw from one allowance: the second waits for the first's burst."""
    key = f"ticketbolt:test:bucket:{unique}"
    first = RedisLeakyBucket(redis_client, key, 10, 1.0, headroom=1.0)
    second = RedisLeakyBucket(redis_client, key, 10, 1.0, headroom=1.0)

    burst = [await first.acquire() for _ in range(9)]
    after = await second.acquire()

    assert [0.0] * 9 == burst
    assert after > 0.0


@pytest.mark.redis
async def test_redis_bucket_observe_raises_the_shared_level(
    redis_client: Redis, unique: str
) -> None:
    """An observed 39/40 is folded into the next call, which then has to wait."""
    bucket = RedisLeakyBucket(redis_client, f"ticketbolt:test:bucket:{unique}", 40, 10.0)

    bucket.observe(39, 40)

    assert await bucket.acquire() > 0.0
