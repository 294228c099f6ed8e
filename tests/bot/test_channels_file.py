"""The channels file: what it accepts, and errors naming the file, the channel and the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketbolt.bot.channels import ChannelsFileError, load_channels, parse_duration

FULL = """\
business_hours: {timezone: Europe/Paris, days: {mon-fri: "09:00-18:00"}, holidays: [2026-12-25]}
sla_policies:
  standard: {first_response: 1h, resolution: 24h, warn_at: 80%}
  vip: {first_response: 15m, resolution: 4h, warn_at: 75%, business_hours: always}
channels:
  C0VIP: {mode: auto, tags: [vip], priority: high, assignee_team: 12, sla: vip,
          alert_channel: C0LEADS}
  C0QUIET: {mode: "off"}
defaults: {mode: emoji, sla: standard, tags: [slack-support]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yml"
    path.write_text(text)
    return path


def test_the_design_example_parses_and_defaults_fill_each_channel(tmp_path: Path) -> None:
    """Every key of DESIGN §3.5; a channel without a key takes the defaults' value."""
    parsed = load_channels(write(tmp_path, FULL))
    routing = parsed.routing("channels.yml")
    assert timedelta(minutes=15) == parsed.sla_policies["vip"].first_response
    assert ("auto", ("vip",), "high", 12) == (
        routing.of("C0VIP").mode,
        routing.of("C0VIP").tags,
        routing.of("C0VIP").priority,
        routing.of("C0VIP").assignee_team,
    )
    assert ("off", ("slack-support",), "standard") == (
        routing.mode("C0QUIET"),
        routing.of("C0QUIET").tags,
        routing.of("C0QUIET").sla,
    )
    assert "emoji" == routing.mode("C0UNNAMED")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("channels: {C0VIP: {colour: red}}", 'channel C0VIP, key "colour": unknown key'),
        ("channels: {C0VIP: {mode: loud}}", 'channel C0VIP, key "mode": Input should be'),
        ("sla_policies: {x: {resolution: 3 weeks}}", 'key "sla_policies.x.resolution": a duration'),
        (
            "channels: {C0VIP: {sla: gold}}",
            "channel C0VIP, key \"sla\": no SLA policy named 'gold'",
        ),
        ("extra: 1", 'key "extra": unknown key'),
        ("channels: {general: {}}", "channel general: not a Slack channel ID"),
        (
            "channels: {C0VIP: {alert_mention: '@oncall'}}",
            'channel C0VIP, key "alert_mention": String should match',
        ),
    ],
)
def test_a_bad_file_is_an_error_naming_file_channel_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Unknown keys and modes, bad durations, missing policies: named start-up errors."""
    path = write(tmp_path, text)
    with pytest.raises(ChannelsFileError) as caught:
        load_channels(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_no_file_means_every_channel_is_in_emoji_mode() -> None:
    """TICKETBOLT_CHANNELS unset: today's behaviour everywhere."""
    assert "emoji" == load_channels(None).routing().mode("C0ANY")


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from("smhd")), min_size=1, max_size=4))
def test_durations_sum_their_parts(parts: list[tuple[int, str]]) -> None:
    """`1h30m` is the sum of its parts in s/m/h/d."""
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert timedelta(seconds=sum(n * seconds[u] for n, u in parts)) == parse_duration(text)


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=12))
def test_anything_else_is_not_a_duration(text: str) -> None:
    """Junk is refused with a ValueError, never accepted or crashed on."""
    try:
        parse_duration(text)
    except ValueError:
        return
    assert all(c.isdigit() or c in "smhd" for c in text.strip())
