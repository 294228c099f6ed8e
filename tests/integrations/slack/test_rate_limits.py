"""Slack's rate limits in the emulator: tiers per method and workspace, posts per channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.limits import RateLimits
from ticketbolt.integrations.slack.limits import Allowance, SlackLimits, parse_limits

SECRET = "test-signing-secret"
# Tier 4 shrunk to three calls a minute; chat.postMessage two at once per channel.
SMALL = SlackLimits.real().with_overrides(
    {"tier4": Allowance(3, 60.0), "chat.postMessage": Allowance(1, 60.0, burst=2)}
)


@pytest.fixture
async def limited() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(SECRET, slack_limits=SMALL) as emulator:
        yield emulator


def client_of(slack: SlackEmulator, session: aiohttp.ClientSession) -> AsyncWebClient:
    # No retry handlers: the test sees each 429 as Slack sent it.
    return AsyncWebClient(
        token=slack.bot_token, base_url=slack.api_url, session=session, retry_handlers=[]
    )


async def answers(calls: int, call: object) -> list[int]:
    statuses = []
    for _ in range(calls):
        try:
            await call()  # type: ignore[operator]
            statuses.append(200)
        except SlackApiError as error:
            statuses.append(error.response.status_code)
    return statuses


async def test_a_tier_over_its_allowance_answers_429_with_retry_after(
    limited: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """The fourth users.info within the minute is 429 `ratelimited` with whole Retry-After
    seconds; other methods of other tiers still answer, and the 429 is counted per method."""
    client = client_of(limited, session)
    bob = limited.add_user("bob")
    channel = limited.add_channel("support")
    assert [200, 200, 200] == await answers(3, lambda: client.users_info(user=bob.id))
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user=bob.id)
    response = raised.value.response
    retry_after = response.headers["Retry-After"]
    assert (429, "ratelimited", True) == (
        response.status_code,
        response["error"],
        1 <= int(retry_after) <= 20,
    )
    assert True is (await client.conversations_info(channel=channel.id))["ok"]
    assert (1, 0, 1) == (
        limited.rate_limited("users.info"),
        limited.rate_limited("conversations.info"),
        limited.rate_limited(),
    )


async def test_each_workspace_has_its_own_allowance(
    limited: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """Another workspace's calls do not spend this one's allowance."""
    async with SlackEmulator(SECRET, team_id="T0OTHER", slack_limits=SMALL) as other:
        bob, carol = limited.add_user("bob"), other.add_user("carol")
        here, there = client_of(limited, session), client_of(other, session)
        assert [200, 200, 200] == await answers(3, lambda: here.users_info(user=bob.id))
        assert [200, 200, 200, 429] == await answers(4, lambda: there.users_info(user=carol.id))
        assert (0, 1) == (limited.rate_limited(), other.rate_limited())


async def test_chat_post_message_is_limited_per_channel(
    limited: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """A burst of two posts per channel: the third in one channel is refused, and is not
    counted, while another channel still takes posts."""
    client = client_of(limited, session)
    busy, quiet = limited.add_channel("busy"), limited.add_channel("quiet")
    post = lambda channel: lambda: client.chat_postMessage(channel=channel, text="hi")  # noqa: E731
    assert [200, 200, 429, 429] == await answers(4, post(busy.id))
    assert [200] == await answers(1, post(quiet.id))
    assert (2, 1, 2) == (
        len(busy.messages),
        len(quiet.messages),
        limited.rate_limited("chat.postMessage"),
    )


async def test_limits_are_off_unless_asked_for(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """The default emulator answers every call, however many, as existing tests expect."""
    client = client_of(slack, session)
    bob = slack.add_user("bob")
    assert [200] * 30 == await answers(30, lambda: client.users_info(user=bob.id))
    assert 0 == slack.rate_limited()


def test_the_real_table_holds_slacks_published_tiers() -> None:
    """Tier 3 methods 50/min, users.info Tier 4 100/min, chat.postMessage ~1/s per channel."""
    real = SlackLimits.real()
    assert [Allowance(50, 60.0)] * 4 == [
        real.for_method(m)
        for m in (
            "conversations.replies",
            "conversations.history",
            "conversations.info",
            "reactions.add",
        )
    ]
    assert Allowance(100, 60.0) == real.for_method("users.info")
    assert (None, 1.0) == (
        real.for_method("chat.postMessage"),
        real.for_channel("chat.postMessage").rate,
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("off", None),
        ("on", SlackLimits.real()),
        (
            "on, tier4=40/1, conversations.replies=1/60",
            SlackLimits.real().with_overrides(
                {"tier4": Allowance(40, 1.0), "conversations.replies": Allowance(1, 60.0)}
            ),
        ),
        (
            "chat.postMessage=2/1:4",
            SlackLimits.real().with_overrides({"chat.postMessage": Allowance(2, 1.0, 4)}),
        ),
    ],
)
def test_limits_setting_parses(spec: str, expected: SlackLimits | None) -> None:
    """`TICKETBOLT_SLACK_LIMITS` is on, off, or overrides of tiers and methods."""
    assert expected == parse_limits(spec)


@pytest.mark.parametrize(
    "spec", ["tier4", "tier4=40", "tier4=0/1", "tier4=4/-1", "=1/1", "x=1/nan"]
)
def test_limits_setting_rejects_junk(spec: str) -> None:
    """A malformed override is an error naming it, never a silently different table."""
    with pytest.raises(ValueError, match="expected"):
        parse_limits(spec)


@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=80),
    calls=st.integers(min_value=1, max_value=10),
    window=st.floats(min_value=0.5, max_value=10.0),
)
def test_admitted_calls_never_exceed_burst_plus_rate(
    gaps: list[float], calls: int, window: float
) -> None:
    """Over any stretch of time, the emulator admits at most the burst plus rate × duration."""
    now = [0.0]
    allowance = Allowance(calls, window)
    limits = RateLimits(
        SlackLimits(tiers={"t": allowance}, methods={"m": "t"}, per_channel={}),
        clock=lambda: now[0],
    )
    admitted: list[float] = []
    for gap in gaps:
        now[0] += gap
        if limits.retry_after("T", "m", None) == 0:
            admitted.append(now[0])
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= allowance.capacity + allowance.rate * span + 1e-6
