"""Slack's Web API rate limits in one table: method → tier, tier → allowance, per-channel posting.

Slack limits each method per workspace and app by tier (Tier 1 ~1/min, Tier 2 ~20/min, Tier 3
~50/min, Tier 4 ~100/min), lets short bursts through, and limits `chat.postMessage` to about one
message per second per channel. The emulator enforces this table and the bot's client-side
limiter follows it, so both agree on what "too fast" means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType


@dataclass(frozen=True)
class Allowance:
    """`calls` per `window` seconds on average; up to `burst` at once (default: `calls`)."""

    calls: int
    window: float
    burst: int | None = None

    def __post_init__(self) -> None:
        window_ok = math.isfinite(self.window) and self.window > 0
        if self.calls < 1 or not window_ok or (self.burst is not None and self.burst < 1):
            raise ValueError(f"an allowance needs calls >= 1, window > 0, burst >= 1: {self}")

    @property
    def capacity(self) -> int:
        """How many calls may go at once, as a leaky bucket's size."""
        return self.burst or self.calls

    @property
    def rate(self) -> float:
        """Calls per second, as the bucket's leak rate."""
        return self.calls / self.window

    @property
    def bucket_window(self) -> float:
        """The window a bucket of `capacity` calls needs to drain at `rate`."""
        return self.capacity / self.rate


MINUTE = 60.0
# Slack's published tiers ("Tier 3: 50+ per minute"); bursts of up to a minute's allowance.
REAL_TIERS: Mapping[str, Allowance] = MappingProxyType(
    {
        "tier1": Allowance(1, MINUTE),
        "tier2": Allowance(20, MINUTE),
        "tier3": Allowance(50, MINUTE),
        "tier4": Allowance(100, MINUTE),
        # "Special" methods with their own documented allowance.
        "permalink": Allowance(300, MINUTE),
    }
)
# The methods this bot (and its emulator) use; a method missing here is not limited.
REAL_METHOD_TIERS: Mapping[str, str] = MappingProxyType(
    {
        "usergroups.users.list": "tier2",
        "reactions.remove": "tier2",
        "conversations.history": "tier3",
        "conversations.replies": "tier3",
        "conversations.info": "tier3",
        "conversations.open": "tier3",
        "users.lookupByEmail": "tier3",
        "reactions.add": "tier3",
        "reactions.get": "tier3",
        "chat.update": "tier3",
        "chat.delete": "tier3",
        "conversations.members": "tier4",
        "users.info": "tier4",
        "chat.postEphemeral": "tier4",
        "views.open": "tier4",
        "views.push": "tier4",
        "views.update": "tier4",
        "chat.getPermalink": "permalink",
    }
)
# "About one message per second per channel, with short bursts over that allowed."
REAL_PER_CHANNEL: Mapping[str, Allowance] = MappingProxyType(
    {"chat.postMessage": Allowance(1, 1.0, burst=3)}
)


@dataclass(frozen=True)
class SlackLimits:
    """A limits table: `tiers` by name, `methods` naming each method's tier, `per_channel`."""

    tiers: Mapping[str, Allowance] = field(default_factory=lambda: dict(REAL_TIERS))
    methods: Mapping[str, str] = field(default_factory=lambda: dict(REAL_METHOD_TIERS))
    per_channel: Mapping[str, Allowance] = field(default_factory=lambda: dict(REAL_PER_CHANNEL))

    @classmethod
    def real(cls) -> SlackLimits:
        """Slack's published limits."""
        return cls()

    def for_method(self, method: str) -> Allowance | None:
        """The workspace-wide allowance of `method`, None when it is not limited."""
        tier = self.methods.get(method)
        return None if tier is None else self.tiers.get(tier)

    def for_channel(self, method: str) -> Allowance | None:
        """The per-channel allowance of `method` (only `chat.postMessage` has one)."""
        return self.per_channel.get(method)

    def with_overrides(self, overrides: Mapping[str, Allowance]) -> SlackLimits:
        """This table with some tiers (`tier4`) or single methods (`users.info`) changed.

        A method named here gets an allowance of its own instead of its tier's; a method with a
        per-channel limit (`chat.postMessage`) has that limit replaced.
        """
        tiers, methods, per_channel = dict(self.tiers), dict(self.methods), dict(self.per_channel)
        for name, allowance in overrides.items():
            if name in per_channel:
                per_channel[name] = allowance
            elif name in tiers and name not in methods:
                tiers[name] = allowance
            else:
                tiers[f"method:{name}"] = allowance
                methods[name] = f"method:{name}"
        return replace(self, tiers=tiers, methods=methods, per_channel=per_channel)


def parse_limits(spec: str) -> SlackLimits | None:
    """`TICKETBOLT_SLACK_LIMITS`: `on` (Slack's tiers), `off` (None), or overrides on top of the
    tiers, comma-separated: `tier3=50/60,conversations.replies=1/60,chat.postMessage=1/1:3`
    (calls/window seconds, optionally `:burst`)."""
    words = [word.strip() for word in spec.split(",") if word.strip()]
    if [word.lower() for word in words] == ["off"]:
        return None
    overrides: dict[str, Allowance] = {}
    for word in words:
        if word.lower() == "on":
            continue
        name, sep, value = word.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected 'on', 'off' or NAME=CALLS/WINDOW[:BURST], got {word!r}")
        overrides[name.strip()] = _allowance(value.strip(), word)
    return SlackLimits.real().with_overrides(overrides)


def _allowance(value: str, word: str) -> Allowance:
    rate, _, burst = value.partition(":")
    calls, sep, window = rate.partition("/")
    try:
        if not sep:
            raise ValueError
        return Allowance(int(calls), float(window), int(burst) if burst else None)
    except ValueError:
        raise ValueError(
            f"expected NAME=CALLS/WINDOW[:BURST] with positive numbers, got {word!r}"
        ) from None
