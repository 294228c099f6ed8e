"""Slack's rate limits, enforced by the emulated Web API: per method and workspace, per channel."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Literal

from ticketbolt.integrations.slack.limits import Allowance, SlackLimits

LimitsOption = SlackLimits | Literal["real", "off"] | None
# Float drift must not turn an exactly full bucket into a refusal.
_EPSILON = 1e-9


def limits_table(option: LimitsOption) -> SlackLimits | None:
    """`"real"` → Slack's published table; `None` or `"off"` → no limits; a table as given."""
    if option == "real":
        return SlackLimits.real()
    if option is None or option == "off":
        return None
    return option


class _Bucket:
    """A leaky bucket as Slack roughly behaves: `capacity` at once, refilling at `rate`/s."""

    def __init__(self, allowance: Allowance, now: float) -> None:
        self.capacity = float(allowance.capacity)
        self.rate = allowance.rate
        self.level = 0.0
        self.at = now

    def wait(self, now: float) -> float:
        """Seconds until one more call fits (0: it fits now)."""
        self.level = max(0.0, self.level - (now - self.at) * self.rate)
        self.at = now
        wait = (self.level + 1.0 - self.capacity) / self.rate
        return wait if wait > _EPSILON else 0.0

    def take(self) -> None:
        self.level += 1.0


class RateLimits:
    """Admits Web API calls under a `SlackLimits` table; `None` admits everything.

    A refused call is answered 429 with `Retry-After` in whole seconds (rounded up, at least 1)
    and is not counted against the allowance, as Slack does. `served` counts 429s per method.
    """

    def __init__(
        self, table: SlackLimits | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.table = table
        self._clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self.served: Counter[str] = Counter()

    def retry_after(self, team_id: str, method: str, channel: str | None) -> int:
        """0 when the call may go through now (and count it), else Slack's `Retry-After`."""
        if self.table is None:
            return 0
        now = self._clock()
        checks: list[tuple[tuple[str, ...], Allowance]] = []
        if (allowance := self.table.for_method(method)) is not None:
            checks.append(((team_id, method), allowance))
        if channel and (allowance := self.table.for_channel(method)) is not None:
            checks.append(((team_id, method, channel), allowance))
        buckets = [self._bucket(key, allowance, now) for key, allowance in checks]
        # Look before counting, so a call refused by one bucket is not counted by another.
        waits = [bucket.wait(now) for bucket in buckets]
        if any(wait > 0 for wait in waits):
            self.served[method] += 1
            return max(1, math.ceil(max(waits)))
        for bucket in buckets:
            bucket.take()
        return 0

    def _bucket(self, key: tuple[str, ...], allowance: Allowance, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(allowance, now)
        return bucket
