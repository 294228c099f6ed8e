"""The bot's Slack client under Slack's rate limits: limited first, deferred, never asleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from ticketbolt.bot.container import slack_client
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.settings import load_settings
from ticketbolt.integrations.resilience import Deferred, deferrable
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.limits import Allowance, SlackLimits

SECRET = "test-signing-secret"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as pooled:
        yield pooled


@pytest.fixture(params=["local", "redis"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """No Redis (each process limits itself), or the real Redis shared by replicas."""
    if request.param == "local":
        yield None
        return
    from redis.asyncio import Redis

    client = Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield client
    finally:
        await client.aclose()


def client_for(
    slack: SlackEmulator,
    session: aiohttp.ClientSession,
    limits: str,
    redis: Any = None,
    metrics: Metrics | None = None,
) -> Any:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": slack.api_url,
            "TICKETBOLT_SLACK_LIMITS": limits,
        }
    )
    return slack_client(settings, session, redis, metrics)


def sample(metrics: Metrics, name: str, method: str) -> float:
    return metrics.registry.get_sample_value(name, {"method": method}) or 0.0


async def test_a_burst_of_jobs_stays_under_the_tier(
    session: aiohttp.ClientSession, redis: Any
) -> None:
    """120 users.info calls from four concurrent jobs, Tier 4 shrunk to 40/s on both sides:
    every call is answered and Slack serves no 429."""
    table = SlackLimits.real().with_overrides({"tier4": Allowance(40, 1.0)})
    async with SlackEmulator(SECRET, slack_limits=table) as slack:
        client = client_for(slack, session, "tier4=40/1", redis)
        bob = slack.add_user("bob")

        async def job() -> None:
            with deferrable():
                for _ in range(30):
                    await client.users_info(user=bob.id)

        await asyncio.gather(*(job() for _ in range(4)))
        assert (120, 0) == (len(slack.calls_to("users.info")), slack.rate_limited())


async def test_a_job_that_would_wait_long_is_deferred_without_calling(
    session: aiohttp.ClientSession, redis: Any
) -> None:
    """With two users.info a minute, a job's second call raises `Deferred` for about the time
    a slot takes to free, and never reaches Slack."""
    async with SlackEmulator(SECRET) as slack:
        metrics = Metrics()
        client = client_for(slack, session, "tier4=2/60", redis, metrics)
        bob = slack.add_user("bob")
        with deferrable():
            await client.users_info(user=bob.id)
            with pytest.raises(Deferred) as raised:
                await client.users_info(user=bob.id)
        assert (1, True) == (len(slack.calls_to("users.info")), 1 < raised.value.retry_after <= 60)
        assert 1.0 == sample(metrics, "ticketbolt_slack_deferrals_total", "users.info")


async def test_a_listener_call_goes_out_without_waiting_for_the_limiter(
    session: aiohttp.ClientSession,
) -> None:
    """Outside a job (a listener answering Slack) a spent allowance neither defers nor holds
    the call: it goes to Slack, which has the last word."""
    async with SlackEmulator(SECRET) as slack:
        client = client_for(slack, session, "tier4=2/60")
        bob = slack.add_user("bob")
        names = [(await client.users_info(user=bob.id))["user"]["name"] for _ in range(3)]
        assert ["bob"] * 3 == names


async def test_slacks_429_defers_a_job_for_retry_after_and_only_in_that_channel(
    session: aiohttp.ClientSession,
) -> None:
    """A 429 on chat.postMessage defers the job for Slack's Retry-After; further posts to that
    channel defer without asking Slack, while another channel still gets its post."""
    async with SlackEmulator(SECRET) as slack:
        metrics = Metrics()
        client = client_for(slack, session, "on", metrics=metrics)
        busy, quiet = slack.add_channel("busy"), slack.add_channel("quiet")
        slack.faults.rate_limit("chat.postMessage", retry_after=30)
        with deferrable():
            with pytest.raises(Deferred) as first:
                await client.chat_postMessage(channel=busy.id, text="one")
            with pytest.raises(Deferred) as second:
                await client.chat_postMessage(channel=busy.id, text="two")
            await client.chat_postMessage(channel=quiet.id, text="three")
        assert (30.0, True) == (first.value.retry_after, 25 < second.value.retry_after <= 30)
        assert [busy.id, quiet.id] == [
            c.params["channel"] for c in slack.calls_to("chat.postMessage")
        ]
        assert (1.0, 2.0) == (
            sample(metrics, "ticketbolt_slack_rate_limited_total", "chat.postMessage"),
            sample(metrics, "ticketbolt_slack_deferrals_total", "chat.postMessage"),
        )


async def test_outside_a_job_a_429_is_raised_at_once(session: aiohttp.ClientSession) -> None:
    """A listener's call answered 429 is not retried asleep: the caller gets Slack's answer."""
    async with SlackEmulator(SECRET) as slack:
        client = client_for(slack, session, "on")
        bob = slack.add_user("bob")
        slack.faults.rate_limit("users.info", retry_after=5)
        with pytest.raises(SlackApiError) as raised:
            await client.users_info(user=bob.id)
        assert (429, 1) == (raised.value.response.status_code, len(slack.calls_to("users.info")))


async def test_limits_off_still_defers_a_job_on_slacks_429(
    session: aiohttp.ClientSession,
) -> None:
    """With the client-side limiter off, Slack's own 429 still defers the job rather than
    sleeping in it."""
    async with SlackEmulator(SECRET) as slack:
        client = client_for(slack, session, "off")
        bob = slack.add_user("bob")
        slack.faults.rate_limit("users.info", retry_after=7)
        with deferrable(), pytest.raises(Deferred) as raised:
            await client.users_info(user=bob.id)
        assert (1, 7.0) == (len(slack.calls_to("users.info")), raised.value.retry_after)
