"""The bot's side of Slack's rate limits: a limiter per method and per channel before each call.

A job's call may wait for its turn up to `max_inline_wait` seconds; a longer wait, or a 429 from
Slack, raises `Deferred` so the job is rescheduled instead of holding a worker slot asleep.
Outside a job (a listener answering Slack within three seconds) a call waits at most
`ACK_PATH_WAIT` and then goes out anyway: being late to the person costs more than a 429.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from ticketbolt.integrations.resilience import (
    BoundedRateLimiter,
    Clock,
    Deferred,
    may_defer,
    note_write,
)
from ticketbolt.integrations.slack.limits import Allowance, SlackLimits

# The longest a listener's call waits for the limiter before going out regardless.
ACK_PATH_WAIT = 0.05

# Builds the limiter for one key ("users.info", "chat.postMessage:C123") and its allowance.
LimiterFactory = Callable[[str, Allowance], BoundedRateLimiter]


class ThrottleObserver(Protocol):
    """Where the throttle reports what it did (metrics)."""

    def waited(self, method: str, seconds: float) -> None: ...

    def rate_limited(self, method: str) -> None: ...

    def deferred(self, method: str) -> None: ...


class _Quiet:
    def waited(self, method: str, seconds: float) -> None:
        pass

    def rate_limited(self, method: str) -> None:
        pass

    def deferred(self, method: str) -> None:
        pass


class SlackThrottle:
    """Admits Slack calls under `limits` (None: only Slack's own 429s are heeded)."""

    def __init__(
        self,
        limits: SlackLimits | None,
        make_limiter: LimiterFactory,
        *,
        max_inline_wait: float = 6.0,
        observer: ThrottleObserver | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.limits = limits
        self.max_inline_wait = max_inline_wait
        self._make = make_limiter
        self._observer = observer or _Quiet()
        self._clock = clock
        self._limiters: dict[str, BoundedRateLimiter] = {}
        # Keys Slack refused with a 429, and until when its Retry-After holds.
        self._blocked_until: dict[str, float] = {}

    async def before(self, method: str, channel: str | None) -> None:
        """Wait for `method`'s turn; in a job, raise `Deferred` if that would take too long."""
        in_job = may_defer()
        patience = self.max_inline_wait if in_job else ACK_PATH_WAIT
        blocked = self._blocked_until.get(self._key(method, channel), 0.0) - self._clock()
        if blocked > 0:
            self._over(method, blocked, in_job)
            return
        for key, allowance in self._checks(method, channel):
            admitted, seconds = await self._limiter(key, allowance).try_acquire(patience)
            if not admitted:
                # A slot already taken from an earlier check of this call stays spent: rare
                # (both limits nearly full at once), and it errs on the slow side.
                self._over(method, seconds, in_job)
                return
            if seconds > 0:
                patience -= seconds
                self._observer.waited(method, seconds)

    def refused(self, method: str, channel: str | None, retry_after: float) -> None:
        """Slack answered 429: hold `method` (in `channel` for per-channel limits) back for
        `retry_after` seconds; in a job, raise `Deferred` for that long."""
        self._observer.rate_limited(method)
        key = self._key(method, channel)
        self._blocked_until[key] = max(
            self._blocked_until.get(key, 0.0), self._clock() + retry_after
        )
        self._over(method, retry_after, may_defer())

    def _over(self, method: str, seconds: float, in_job: bool) -> None:
        if in_job:
            self._observer.deferred(method)
            raise Deferred(seconds, method)

    def _key(self, method: str, channel: str | None) -> str:
        # A 429 on a per-channel method most likely means that channel; other channels go on.
        if channel and self.limits is not None and self.limits.for_channel(method):
            return f"{method}:{channel}"
        return method

    def _checks(self, method: str, channel: str | None) -> list[tuple[str, Allowance]]:
        if self.limits is None:
            return []
        checks: list[tuple[str, Allowance]] = []
        if (per_channel := self.limits.for_channel(method)) is not None and channel:
            checks.append((f"{method}:{channel}", per_channel))
        if (allowance := self.limits.for_method(method)) is not None:
            checks.append((method, allowance))
        return checks

    def _limiter(self, key: str, allowance: Allowance) -> BoundedRateLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = self._make(key, allowance)
        return limiter


# Methods that change nothing in the workspace; any other counts as a write (the safe side).
READ_PREFIXES = ("auth.", "users.", "team.", "bots.", "usergroups.list", "usergroups.users.list")
READ_METHODS = frozenset(
    {
        "conversations.history",
        "conversations.replies",
        "conversations.info",
        "conversations.members",
        "conversations.list",
        "chat.getPermalink",
        "reactions.get",
    }
)


def reads_only(method: str) -> bool:
    return method in READ_METHODS or method.startswith(READ_PREFIXES)


def retry_after(error: SlackApiError) -> float | None:
    """The seconds of a 429's `Retry-After` (1 when absent), None for any other error."""
    response = getattr(error, "response", None)
    if getattr(response, "status_code", None) != 429:
        return None
    headers: Any = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def _channel(*sources: dict[str, Any] | None) -> str | None:
    for source in sources:
        value = (source or {}).get("channel")
        if isinstance(value, str) and value:
            return value
    return None


class ThrottledWebClient(AsyncWebClient):
    """An `AsyncWebClient` whose calls pass a `SlackThrottle` first; a 429 in a job defers it."""

    def __init__(self, *, throttle: SlackThrottle, **options: Any) -> None:
        super().__init__(**options)
        self.throttle = throttle

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        channel = _channel(json, data if isinstance(data, dict) else None, params)
        await self.throttle.before(api_method, channel)
        if not reads_only(api_method):
            await note_write()
        try:
            return await super().api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )
        except SlackApiError as error:
            seconds = retry_after(error)
            if seconds is None:
                raise
            # In a job this raises `Deferred`: Slack refused before doing anything.
            self.throttle.refused(api_method, channel, seconds)
            raise
