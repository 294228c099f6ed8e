"""What the channels file says about each channel (bot/channels.py reads it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["emoji", "auto", "assistant", "off"]
MODES: tuple[Mode, ...] = ("emoji", "auto", "assistant", "off")


@dataclass(frozen=True)
class ChannelRules:
    """One channel's settings, the file's `defaults` already filled in."""

    mode: Mode = "emoji"
    tags: tuple[str, ...] = ()
    priority: str | None = None
    assignee_team: int | None = None
    alert_channel: str | None = None
    # Who a breach alert calls: a user group (S…), a user (U…/W…), or "here"/"channel".
    alert_mention: str | None = None
    sla: str | None = None


@dataclass(frozen=True)
class Routing:
    """Rules per channel ID; a channel the file does not name follows `defaults`."""

    channels: Mapping[str, ChannelRules] = field(default_factory=dict)
    defaults: ChannelRules = ChannelRules()
    source: str = ""  # the file the rules came from, shown by `/ticketbolt channel`

    def of(self, channel_id: str) -> ChannelRules:
        return self.channels.get(channel_id, self.defaults)

    def mode(self, channel_id: str) -> Mode:
        return self.of(channel_id).mode

    def in_mode(self, mode: Mode) -> frozenset[str]:
        """The channels the file names with `mode` (the defaults apply to unnamed channels)."""
        return frozenset(c for c, rules in self.channels.items() if rules.mode == mode)
