"""A burst of 🎫 across channels under Slack's tiers, shrunk so it runs in seconds (issue 15).

The emulator enforces the same table the bot's client-side limiter follows; the limiter keeps
every call inside it, so Slack serves no 429, and deferred jobs still post exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import BOT_TOKEN, SIGNING_SECRET, Stack, eventually, running_app
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel
from ticketbolt.integrations.slack.limits import parse_limits

# Tier 3 (the message read and the marker reaction) at four calls a second with a bucket of
# four, one post a second per channel with bursts of two: 18 tickets spill well past the
# buckets, so jobs wait and are deferred, and it still takes only a few seconds.
LIMITS = "tier3=4/1,chat.postMessage=1/1:2"
TICKETS, CHANNELS = 18, 3


@asynccontextmanager
async def limited_stack(database: Database, **extra: Any) -> AsyncIterator[Stack]:
    table = parse_limits(LIMITS)
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, slack_limits=table) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
        running_app(database, slack, gorgias, TICKETBOLT_SLACK_LIMITS=LIMITS, **extra) as stack,
    ):
        yield stack


def replies(channel: Channel, ts: str) -> int:
    return sum(1 for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts)


async def burst(stack: Stack) -> list[tuple[Channel, str]]:
    """🎫 on TICKETS messages (not seen live) dealt across CHANNELS channels; wait for replies."""
    slack = stack.slack
    customer = slack.add_user("dana", real_name="Dana", email="dana@shop.example")
    agent = slack.add_user("alex", real_name="Alex", email="alex@ourteam.example")
    rooms = [slack.add_channel(f"help-{i}", members=[customer, agent]) for i in range(CHANNELS)]
    messages = []
    for i in range(TICKETS):
        room = rooms[i % CHANNELS]
        messages.append((room, slack.state.post(room, customer, f"Order {i} is late").ts))
    for room, ts in messages:
        await slack.user_reacts(agent, room, ts, "ticket")

    async def settled() -> bool:
        states = (await stack.runtime.queue.stats())["by_state"]
        return bool(states["queued"] == states["running"] == 0)

    await eventually(
        lambda: all(replies(room, ts) for room, ts in messages),
        timeout=60,
        what="a reply under every ticketed message",
    )
    await slack.drain()
    await eventually(settled, timeout=30, what="the job queue to drain")
    return messages


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("shared", [False, True], ids=["local-limiter", "redis-limiter"])
async def test_a_burst_across_channels_stays_inside_slacks_tiers(
    database: Database, shared: bool, request: pytest.FixtureRequest
) -> None:
    """Every ticketed message gets one ticket and exactly one thread reply, no job fails, and
    the emulator serves no 429 although the burst spills past every Tier 3 bucket."""
    extra = {"REDIS_URL": request.getfixturevalue("redis_url")} if shared else {}
    async with limited_stack(database, **extra) as stack:
        messages = await burst(stack)
        states = (await stack.runtime.queue.stats())["by_state"]
        assert [1] * TICKETS == [replies(room, ts) for room, ts in messages]
        assert (TICKETS, 0) == (len(stack.gorgias.tickets), states["failed"])
        assert {} == {m: n for m, n in stack.slack.limits.served.items() if n}
        # The burst really was over the shrunk tier: more Tier 3 calls than one bucket holds.
        assert len(stack.slack.calls_to("reactions.add")) == TICKETS > 4
