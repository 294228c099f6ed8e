"""The channels file (`TICKETBOLT_CHANNELS`, YAML): parsed and validated once, at start-up.

Every key is optional. Unknown keys, unknown modes, bad durations and SLA policies that do not
exist are errors naming the file, the channel and the key. `business_hours` and `sla_policies`
drive the SLA watchdog (handlers/sla.py).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from ticketbolt.bot.settings import StartupError
from ticketbolt.handlers.channel_rules import ChannelRules, Mode, Routing
from ticketbolt.handlers.sla_hours import parse_days

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+[smhd])+")
_PART = re.compile(r"(\d+)([smhd])")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


class ChannelsFileError(StartupError):
    """The channels file cannot be used; the message names the file, the channel and the key."""


def parse_duration(value: Any) -> timedelta:
    """`90s`, `15m`, `4h`, `2d`, or a sum like `1h30m`; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip() if isinstance(value, str) else ""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"a duration is a number and s, m, h or d, like 15m or 4h (got {value!r})")
    return timedelta(seconds=sum(int(n) * UNITS[u] for n, u in _PART.findall(text)))


def _percent(value: Any) -> int:
    text = str(value).strip().removesuffix("%") if isinstance(value, str | int) else ""
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ValueError(f"a share between 1% and 100% (got {value!r})")
    return int(text)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Percent = Annotated[int, BeforeValidator(_percent)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessHours(_Strict):
    timezone: str = "UTC"
    days: dict[str, str] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not an IANA time zone: {value!r}") from None
        return value

    @field_validator("days")
    @classmethod
    def _opening_hours(cls, value: dict[str, str]) -> dict[str, str]:
        parse_days(value)  # `mon-fri: "09:00-18:00"`; raises naming what is wrong
        return value


class SlaPolicy(_Strict):
    first_response: Duration | None = None
    resolution: Duration | None = None
    warn_at: Percent | None = None
    business_hours: Literal["always", "business"] | None = None


# A user group (S…), a user (U…/W…), or Slack's "here"/"channel".
AlertMention = Annotated[str, StringConstraints(pattern=r"^([SUW][A-Z0-9]{2,}|here|channel)$")]


class ChannelEntry(_Strict):
    mode: Mode | None = None
    tags: list[str] | None = None
    priority: Literal["critical", "high", "normal", "low"] | None = None
    assignee_team: int | None = None
    alert_channel: str | None = None
    alert_mention: AlertMention | None = None
    sla: str | None = None


class ChannelsFile(_Strict):
    business_hours: BusinessHours | None = None
    sla_policies: dict[str, SlaPolicy] = Field(default_factory=dict)
    channels: dict[str, ChannelEntry] = Field(default_factory=dict)
    defaults: ChannelEntry = ChannelEntry()

    def routing(self, source: str = "") -> Routing:
        """The rules features read: each channel's keys, the defaults' where it has none."""
        base = ChannelRules(
            mode=self.defaults.mode or "emoji",
            tags=tuple(self.defaults.tags or ()),
            priority=self.defaults.priority,
            assignee_team=self.defaults.assignee_team,
            alert_channel=self.defaults.alert_channel,
            alert_mention=self.defaults.alert_mention,
            sla=self.defaults.sla,
        )
        channels = {
            channel_id: ChannelRules(
                mode=entry.mode or base.mode,
                tags=tuple(entry.tags) if entry.tags is not None else base.tags,
                priority=entry.priority or base.priority,
                assignee_team=entry.assignee_team or base.assignee_team,
                alert_channel=entry.alert_channel or base.alert_channel,
                alert_mention=entry.alert_mention or base.alert_mention,
                sla=entry.sla or base.sla,
            )
            for channel_id, entry in self.channels.items()
        }
        return Routing(channels=channels, defaults=base, source=source)


def _where(loc: tuple[int | str, ...]) -> str:
    """`("channels", "C0VIP", "mode")` → `channel C0VIP, key "mode"`."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "channels":
        rest = ".".join(parts[2:])
        return f"channel {parts[1]}" + (f', key "{rest}"' if rest else "")
    return f'key "{".".join(parts)}"'


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return str(error["msg"]).removeprefix("Value error, ")


def validate(data: Any, source: str) -> ChannelsFile:
    """The file's content as a `ChannelsFile`; `ChannelsFileError` lists every problem."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ChannelsFileError(f"TICKETBOLT_CHANNELS {source}: the file must be a YAML mapping")
    try:
        parsed = ChannelsFile.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(e['loc'])}: {_message(e)}" for e in exc.errors()]
        raise ChannelsFileError(
            f"TICKETBOLT_CHANNELS {source}:\n  " + "\n  ".join(problems)
        ) from None
    for channel_id, entry in [*parsed.channels.items(), ("defaults", parsed.defaults)]:
        where = f"channel {channel_id}" if channel_id != "defaults" else 'key "defaults"'
        if channel_id != "defaults" and not _CHANNEL_ID.fullmatch(channel_id):
            problems.append(f"channel {channel_id}: not a Slack channel ID (like C0123ABCD)")
        if entry.sla and entry.sla not in parsed.sla_policies:
            problems.append(f'{where}, key "sla": no SLA policy named {entry.sla!r}')
    if parsed.defaults.mode == "assistant":
        problems.append('key "defaults.mode": name assistant channels one by one')
    if problems:
        raise ChannelsFileError(f"TICKETBOLT_CHANNELS {source}:\n  " + "\n  ".join(problems))
    return parsed


def load_channels(path: Path | None) -> ChannelsFile:
    """Read and validate the channels file; no path means every channel is in `emoji` mode."""
    if path is None:
        return ChannelsFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChannelsFileError(f"TICKETBOLT_CHANNELS {path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ChannelsFileError(f"TICKETBOLT_CHANNELS {path}: not YAML: {exc}") from None
    return validate(data, str(path))


def load_routing(path: Path | None) -> Routing:
    """The channels file as features read it; `ChannelsFileError` when it cannot be used."""
    return load_channels(path).routing(str(path or ""))
