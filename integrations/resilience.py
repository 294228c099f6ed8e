"""Circuit breaker and leaky-bucket rate limiters that any upstream client can reuse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

CircuitState = Literal["closed", "open", "half_open"]
StateListener = Callable[[CircuitState, CircuitState], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class OutcomeUnknown(Exception):
    """A request was sent and no answer came back (timeout, dropped connection, shutdown).

    The upstream may still act on it, so a later attempt must wait for it to settle and then look
    the result up by its own key before doing the work again.
    """


class LeaseLost(Exception):
    """The job passed to another worker while this one stalled (its lease ran out): the
    attempt stops before its next write and leaves the job to its new holder."""


class Deferred(Exception):
    """The upstream's allowance is spent: try the work again in `retry_after` seconds.

    Raised instead of sleeping, so a job gives its worker slot back while it waits. What the
    attempt did before this call has happened: if it sent a write (`note_write`), the next
    attempt looks it up as after any retry; if not, the attempt is given back.
    """

    def __init__(self, retry_after: float, what: str = "") -> None:
        super().__init__(f"rate limited{f' ({what})' if what else ''}; retry in {retry_after:.1f}s")
        self.retry_after = retry_after
        self.what = what


# True while a job runs: its calls may raise `Deferred` rather than wait. Elsewhere (a listener
# answering Slack within three seconds) calls never wait long and never defer.
_DEFERRABLE: ContextVar[bool] = ContextVar("ticketbolt_deferrable", default=False)


class Attempt:
    """What one run of a job sent upstream that may have changed something there.

    `fence`, when given, runs before each write: the worker's check that the job is still its
    own (its lease not taken by another worker after a stall), raising to stop the write.
    """

    def __init__(self, fence: Callable[[], Awaitable[None]] | None = None) -> None:
        self.writes = 0
        self._fence = fence

    async def before_write(self) -> None:
        if self._fence is not None:
            await self._fence()
        self.writes += 1


_ATTEMPT: ContextVar[Attempt | None] = ContextVar("ticketbolt_attempt", default=None)


def may_defer() -> bool:
    """Whether the running code can be rescheduled (it runs inside `deferrable()`)."""
    return _DEFERRABLE.get()


async def note_write() -> None:
    """A request that may change something upstream is about to go out: if the job's attempt
    ends early, what it did is no longer known for sure. The job's fence runs first."""
    attempt = _ATTEMPT.get()
    if attempt is not None:
        await attempt.before_write()


@contextmanager
def deferrable(fence: Callable[[], Awaitable[None]] | None = None) -> Iterator[Attempt]:
    """Mark the code inside as a job that may be rescheduled by `Deferred`; the `Attempt`
    counts the writes it sent (`note_write`) and runs `fence` before each."""
    attempt = Attempt(fence)
    token, attempt_token = _DEFERRABLE.set(True), _ATTEMPT.set(attempt)
    try:
        yield attempt
    finally:
        _ATTEMPT.reset(attempt_token)
        _DEFERRABLE.reset(token)


class CircuitOpen(Exception):
    """The breaker is open: the upstream is considered down and no request was made."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"circuit {name!r} is open; next probe in {retry_in:.1f}s")
        self.name = name
        self.retry_in = retry_in


class CircuitBreaker:
    """Fails fast after `failure_threshold` consecutive failures, then lets one probe decide.

    closed → open after N consecutive failures; open → half_open once `reset_timeout` has
    passed; in half_open a single caller probes: success closes, failure reopens. Callers use
    `before_call()` then `record_success()` or `record_failure()`; what counts as a failure is
    the caller's decision (an upstream answering 4xx is alive, so it should record success).
    """

    def __init__(
        self,
        *,
        name: str = "upstream",
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Clock = time.monotonic,
        on_state_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._listeners: list[StateListener] = [on_state_change] if on_state_change else []
        self._state: CircuitState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None

    def subscribe(self, listener: StateListener) -> None:
        """Call `listener(old, new)` on every state change (metrics, logs)."""
        self._listeners.append(listener)

    @property
    def state(self) -> CircuitState:
        self._refresh()
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def before_call(self) -> None:
        """Raise `CircuitOpen` unless a request may go out now."""
        self._refresh()
        now = self._clock()
        if self._state == "closed":
            return
        if self._state == "open":
            raise CircuitOpen(self.name, self._opened_at + self.reset_timeout - now)
        # A probe whose caller vanished (cancelled) must not wedge the breaker half-open.
        if self._probe_started is not None and now - self._probe_started < self.reset_timeout:
            raise CircuitOpen(self.name, self._probe_started + self.reset_timeout - now)
        self._probe_started = now

    def record_success(self) -> None:
        self._failures = 0
        self._probe_started = None
        self._set("closed")

    def record_failure(self) -> None:
        self._failures += 1
        self._probe_started = None
        if self._state == "half_open" or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set("open")

    def _refresh(self) -> None:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout:
            self._set("half_open")

    def _set(self, new: CircuitState) -> None:
        old, self._state = self._state, new
        if old != new:
            for listener in self._listeners:
                listener(old, new)


@runtime_checkable
class RateLimiter(Protocol):
    """A client-side throttle: `acquire()` waits for a slot and returns the seconds it waited."""

    async def acquire(self) -> float: ...

    def observe(self, used: int, limit: int) -> None:
        """Adopt the server's view (`used/limit` header) when it is fuller than ours."""


@runtime_checkable
class BoundedRateLimiter(RateLimiter, Protocol):
    """A limiter that can also refuse instead of waiting longer than a caller can afford."""

    async def try_acquire(self, max_wait: float) -> tuple[bool, float]:
        """(True, seconds waited) once admitted within `max_wait`; else (False, seconds a slot
        is away), having taken nothing."""
        ...


def parse_rate_limit(spec: str) -> tuple[int, float]:
    """Parse the `GORGIAS_RATE_LIMIT` format `"40/20"` into (capacity, window seconds)."""
    capacity_text, sep, window_text = spec.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        capacity, window = int(capacity_text), float(window_text)
    except ValueError:
        raise ValueError(
            f"rate limit must look like '40/20' (requests/window seconds), got {spec!r}"
        ) from None
    if capacity < 1 or window <= 0:
        raise ValueError(f"rate limit like '40/20' needs >= 1 request per window > 0, got {spec!r}")
    return capacity, window


# How much uneven delay between our send and the server's count the headroom should absorb. Half
# a second covers a busy event loop on a loaded machine; for Slack's and Gorgias' real limits
# (under two requests a second) the headroom stays one request, so only fast limits give more.
JITTER_ALLOWANCE_SECONDS = 0.5


class _BucketShape:
    """Capacity, leak rate and the safety headroom shared by both bucket kinds."""

    def __init__(self, capacity: int, window_seconds: float, headroom: float | None) -> None:
        if capacity < 1 or window_seconds <= 0:
            raise ValueError("a leaky bucket needs capacity >= 1 and a positive window")
        self.capacity = capacity
        self.window_seconds = window_seconds
        self.rate = capacity / window_seconds
        # Requests reach the server after uneven delays (network, a busy event loop), which
        # bunches them up on arrival. Keeping `headroom` requests free absorbs that; it only
        # shrinks the burst, never the sustained rate. Default: one request, or 500 ms' worth.
        if headroom is None:
            headroom = max(1.0, self.rate * JITTER_ALLOWANCE_SECONDS)
        self.effective = max(1.0, capacity - headroom)

    def floor_for(self, used: int, limit: int) -> float:
        """Our level must leave no more headroom than the server reports (`limit - used`)."""
        return min(float(self.capacity), max(0.0, self.capacity - (limit - used)))


class LocalLeakyBucket(_BucketShape):
    """An in-process leaky bucket: `capacity` requests, draining at capacity/window per second.

    A request is counted when it is actually let through, not when it was scheduled: a loop
    that stalls would otherwise release a queue of overdue reservations in one burst. Waiters
    take turns through a lock, so they are served in arrival order without a thundering herd.
    """

    def __init__(
        self,
        capacity: int,
        window_seconds: float,
        *,
        headroom: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(capacity, window_seconds, headroom)
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0
        self._at = clock()
        self._turn = asyncio.Lock()

    @property
    def level(self) -> float:
        return self._drain()

    async def acquire(self) -> float:
        waited = 0.0
        async with self._turn:
            while (wait := (self._drain() + 1.0 - self.effective) / self.rate) > 0:
                await self._sleep(wait)
                waited += wait
            self._level += 1.0
        return waited

    async def try_acquire(self, max_wait: float) -> tuple[bool, float]:
        """Take a slot if one frees within `max_wait` s: (True, seconds waited); else take
        nothing: (False, seconds until a slot would free). The slot is reserved before the
        wait, so concurrent callers queue behind it and none waits longer than `max_wait`."""
        wait = max(0.0, (self._drain() + 1.0 - self.effective) / self.rate)
        if wait > max_wait:
            return False, wait
        self._level += 1.0
        if wait > 0:
            await self._sleep(wait)
        return True, wait

    def observe(self, used: int, limit: int) -> None:
        self._level = max(self._drain(), self.floor_for(used, limit))

    def _drain(self) -> float:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._at) * self.rate)
        self._at = now
        return self._level


# Redis' own clock (TIME) is the only clock every process agrees on. The script answers how long
# until the request fits; it counts the request when that is within ARGV[4] seconds (default 0:
# only when it fits now), else nothing is reserved.
_LEAKY_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local floor = tonumber(ARGV[3])
local patience = tonumber(ARGV[4]) or 0
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or 0
local at = tonumber(state[2]) or now
level = math.max(0, level - math.max(0, now - at) * rate)
if floor > level then level = floor end
local wait = math.max(0, (level + 1 - capacity) / rate)
if wait <= patience then
  level = level + 1
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((level / rate + 1) * 1000))
return tostring(wait)
"""


class RedisLeakyBucket(_BucketShape):
    """A leaky bucket kept in Redis so several processes sharing `key` stay under one allowance.

    One Lua script drains, admits and answers atomically; a refused caller sleeps for the time
    it was told and asks again. `observe` is remembered and folded into the next call, because
    observing is synchronous and Redis is not.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        capacity: int,
        window_seconds: float,
        *,
        headroom: float | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(capacity, window_seconds, headroom)
        self._redis = redis
        self.key = key
        self._sleep = sleep
        self._script = redis.register_script(_LEAKY_BUCKET_LUA)
        self._floor = 0.0
        self._turn = asyncio.Lock()

    async def acquire(self) -> float:
        waited = 0.0
        async with self._turn:
            while (wait := await self._try()) > 0:
                await self._sleep(wait)
                waited += wait
        return waited

    async def try_acquire(self, max_wait: float) -> tuple[bool, float]:
        """As `LocalLeakyBucket.try_acquire`, with the slot reserved in Redis."""
        wait = await self._try(max_wait)
        if wait > max_wait:
            return False, wait
        if wait > 0:
            await self._sleep(wait)
        return True, wait

    async def _try(self, patience: float = 0.0) -> float:
        floor, self._floor = self._floor, 0.0
        answer = await self._script(
            keys=[self.key], args=[self.effective, self.rate, floor, patience]
        )
        return float(answer.decode() if isinstance(answer, bytes) else answer)

    def observe(self, used: int, limit: int) -> None:
        self._floor = max(self._floor, self.floor_for(used, limit))


class FallbackRateLimiter:
    """Uses the shared (Redis) limiter, and a local one while the shared one cannot be reached.

    A replica that loses Redis keeps throttling itself to the whole allowance, which may let the
    replicas together exceed it briefly; the server's 429s and `Retry-After` cover that gap.
    """

    def __init__(
        self,
        shared: BoundedRateLimiter,
        local: BoundedRateLimiter,
        *,
        retry_after: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._shared = shared
        self._local = local
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0

    @property
    def degraded(self) -> bool:
        return self._down_until > self._clock()

    async def acquire(self) -> float:
        if not self.degraded:
            try:
                return await self._shared.acquire()
            except (RedisError, OSError):
                self._down_until = self._clock() + self._retry_after
        return await self._local.acquire()

    async def try_acquire(self, max_wait: float) -> tuple[bool, float]:
        """As `LocalLeakyBucket.try_acquire`, shared while Redis answers, local otherwise."""
        if not self.degraded:
            try:
                return await self._shared.try_acquire(max_wait)
            except (RedisError, OSError):
                self._down_until = self._clock() + self._retry_after
        return await self._local.try_acquire(max_wait)

    def observe(self, used: int, limit: int) -> None:
        self._shared.observe(used, limit)
        self._local.observe(used, limit)
