"""Slack Web API calls per ticket, counted by the Slack emulator over real HTTP (issue 15).

A 🎫 on a message the bot saw live costs the thread reply and the marker reaction only; on a
message it did not see, one read more. People, channel names and the workspace URL are looked up
once per process (warmed by a first ticket in each channel here), and the permalink is built.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Stack,
    emulators,
    eventually,
    running_app,
)
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User

WRITES = {"chat.postMessage", "reactions.add"}


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as running:
        yield running


@pytest.fixture
async def unlimited(database: Database) -> AsyncIterator[Stack]:
    """Without the client-side limiter of Slack's rates: ten posts in one channel within a second
    would otherwise defer jobs, whose next attempts look for their post first (one read more;
    tests/handlers/test_rate_limits.py covers that path). Here only the ticket work counts."""
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, TICKETBOLT_SLACK_LIMITS="off") as running,
    ):
        yield running


def workspace(slack: SlackEmulator) -> tuple[list[User], User, list[Channel]]:
    """Three customers and an agent in two channels with the bot."""
    customers = [slack.add_user(f"customer{i}", email=f"c{i}@shop.example") for i in range(3)]
    agent = slack.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
    channels = [slack.add_channel(name, members=[*customers, agent]) for name in ("help", "vip")]
    return customers, agent, channels


async def settled(stack: Stack) -> None:
    """No job queued or running, and every event the emulator sent answered."""

    async def idle() -> bool:
        states = (await stack.runtime.queue.stats())["by_state"]
        return states["queued"] == 0 and states["running"] == 0

    await stack.slack.drain()
    await eventually(idle, timeout=60, what="the job queue to drain")
    await stack.slack.drain()


async def ticket(stack: Stack, agent: User, channel: Channel, ts: str) -> str:
    """React 🎫 and wait for the ticket; the body of its first message."""
    await stack.slack.user_reacts(agent, channel, ts, "ticket")
    await settled(stack)
    link = await stack.runtime.links.get(stack.slack.state.team_id, channel.id, ts)
    assert link is not None
    assert link.ticket_id is not None
    return str(stack.gorgias.state.ticket_messages(link.ticket_id)[0]["body_text"])


async def warm(stack: Stack, customers: list[User], agent: User, channels: list[Channel]) -> None:
    """One ticket per channel and customer: people, channel names and workspace URL looked up."""
    for i, customer in enumerate(customers):
        channel = channels[i % len(channels)]
        await ticket(stack, agent, channel, await stack.slack.user_posts(customer, channel, "hi"))


async def burst(stack: Stack, agent: User, targets: list[tuple[Channel, str]]) -> Counter[str]:
    """🎫 on every target at once; the Slack methods called until all is settled, counted."""
    before = len(stack.slack.calls)
    await asyncio.gather(*(stack.slack.user_reacts(agent, c, ts, "ticket") for c, ts in targets))
    await eventually(
        lambda: len(stack.gorgias.tickets) >= len(targets), timeout=60, what="the tickets"
    )
    await settled(stack)
    return Counter(call.method for call in stack.slack.calls[before:])


async def test_burst_on_messages_seen_live_costs_two_writes_per_ticket(unlimited: Stack) -> None:
    """20 🎫 across 2 channels on messages the bot saw posted: 2 Slack calls per ticket, both
    writes (the thread reply and the marker); no read, no permalink call, no back-fill."""
    customers, agent, channels = workspace(unlimited.slack)
    await warm(unlimited, customers, agent, channels)
    targets = []
    for i in range(20):
        channel = channels[i % 2]
        text = f"Order {i} is late"
        targets.append((channel, await unlimited.slack.user_posts(customers[i % 3], channel, text)))
    calls = await burst(unlimited, agent, targets)
    assert {"chat.postMessage": 20, "reactions.add": 20} == dict(calls)
    assert 2.0 == sum(calls.values()) / len(targets)


async def test_burst_on_messages_not_seen_live_adds_one_read_per_ticket(
    unlimited: Stack,
) -> None:
    """Messages the bot never heard of (seeded without an event) cost one read each: 3 calls."""
    customers, agent, channels = workspace(unlimited.slack)
    await warm(unlimited, customers, agent, channels)
    targets = []
    for i in range(20):
        channel = channels[i % 2]
        message = unlimited.slack.state.post(channel, customers[i % 3], f"Parcel {i} damaged")
        targets.append((channel, message.ts))
    calls = await burst(unlimited, agent, targets)
    assert {"conversations.replies": 20, "chat.postMessage": 20, "reactions.add": 20} == dict(calls)
    assert 3.0 == sum(calls.values()) / len(targets)


async def test_cold_burst_looks_each_person_and_channel_up_once(unlimited: Stack) -> None:
    """20 🎫 at once on a fresh process: the agent, each author and each channel are looked up
    once however many jobs ask at the same time; the workspace URL comes from the `auth.test`
    answer Bolt's authorisation already fetched for the messages' events."""
    customers, agent, channels = workspace(unlimited.slack)
    targets = []
    for i in range(20):
        channel = channels[i % 2]
        text = f"Refund {i} missing"
        targets.append((channel, await unlimited.slack.user_posts(customers[i % 3], channel, text)))
    calls = await burst(unlimited, agent, targets)
    expected = {
        "chat.postMessage": 20,
        "reactions.add": 20,
        "users.info": 1 + len(customers),
        "conversations.info": len(channels),
    }
    assert expected == dict(calls)
    assert 1 == len(unlimited.slack.calls_to("auth.test"))


async def test_a_cold_burst_of_events_asks_auth_test_once(unlimited: Stack) -> None:
    """20 events reaching a fresh process while `auth.test` takes 300 ms: Bolt's authorisation
    waits for one call instead of making one per request (a Tier 4 method), and the permalinks
    of the tickets that follow use the same answer."""
    customers, agent, channels = workspace(unlimited.slack)
    unlimited.slack.faults.latency("auth.test", ms=300)
    stamps = await asyncio.gather(
        *(
            unlimited.slack.user_posts(customers[i % 3], channels[i % 2], f"Question {i}")
            for i in range(20)
        )
    )
    await settled(unlimited)
    await ticket(unlimited, agent, channels[0], stamps[0])
    assert 1 == len(unlimited.slack.calls_to("auth.test"))


async def test_permalinks_equal_what_chat_get_permalink_answers(stack: Stack) -> None:
    """The built permalink of a message and of a thread reply is Slack's own, character for
    character, and no `chat.getPermalink` call was made to build them."""
    slack = stack.slack
    customers, agent, channels = workspace(slack)
    parent = await slack.user_posts(customers[0], channels[0], "Top-level question")
    reply = await slack.user_posts(customers[1], channels[0], "A reply, ticketed", parent)
    bodies = [await ticket(stack, agent, channels[0], ts) for ts in (parent, reply)]
    assert [] == slack.calls_to("chat.getPermalink")
    expected = [
        (await stack.runtime.slack.chat_getPermalink(channel=channels[0].id, message_ts=ts))[
            "permalink"
        ]
        for ts in (parent, reply)
    ]
    assert "?thread_ts=" in expected[1]
    assert [f"Slack message: {url}" for url in expected] == [b.splitlines()[-1] for b in bodies]


async def test_message_edited_after_seen_live_is_ticketed_with_its_new_text(stack: Stack) -> None:
    """An edit replaces the kept message: the ticket has the new words, and Slack was not read."""
    slack = stack.slack
    customers, agent, channels = workspace(slack)
    ts = await slack.user_posts(customers[0], channels[0], "My order is lost")
    await slack.user_edits(customers[0], channels[0], ts, "My order arrived broken")
    body = await ticket(stack, agent, channels[0], ts)
    assert "My order arrived broken" == body.splitlines()[0]
    assert [] == slack.calls_to("conversations.replies")


async def test_deleted_message_is_not_served_from_the_cache(stack: Stack) -> None:
    """A message deleted after it was seen live is read from Slack, found gone: no ticket."""
    slack = stack.slack
    customers, agent, channels = workspace(slack)
    ts = await slack.user_posts(customers[0], channels[0], "Please delete me")
    await slack.user_deletes(customers[0], channels[0], ts)
    envelope = slack.make_event_envelope(
        {
            "type": "reaction_added",
            "user": agent.id,
            "reaction": "ticket",
            "item": {"type": "message", "channel": channels[0].id, "ts": ts},
            "event_ts": ts,
        }
    )
    assert 200 == (await slack.deliver(envelope)).status
    await settled(stack)
    assert {} == stack.gorgias.tickets
    assert 1 == len(slack.calls_to("conversations.replies"))


async def test_message_cache_off_reads_every_message(database: Database) -> None:
    """With TICKETBOLT_MESSAGE_CACHE_MINUTES=0 a message seen live is still read from Slack."""
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, TICKETBOLT_MESSAGE_CACHE_MINUTES=0) as stack,
    ):
        customers, agent, channels = workspace(slack)
        ts = await slack.user_posts(customers[0], channels[0], "Cache off, please read me")
        body = await ticket(stack, agent, channels[0], ts)
        assert "Cache off, please read me" == body.splitlines()[0]
        assert 1 == len(slack.calls_to("conversations.replies"))


async def test_rename_events_refresh_people_and_channel_names(stack: Stack) -> None:
    """After `user_change` and `channel_rename` the next ticket shows the new names (looked up
    again), where the cache would otherwise have served the old ones for ten minutes."""
    slack = stack.slack
    customers, agent, channels = workspace(slack)
    customer, channel = customers[0], channels[0]
    first = await ticket(stack, agent, channel, await slack.user_posts(customer, channel, "one"))
    assert f"Posted by {customer.display_name or customer.real_name} in #help" in first
    customer.display_name, channel.name = "Dana New", "help-desk"
    for event in (
        {"type": "user_change", "user": {"id": customer.id, "team_id": customer.team_id}},
        {"type": "channel_rename", "channel": {"id": channel.id, "name": "help-desk"}},
    ):
        assert 200 == (await slack.deliver(slack.make_event_envelope(event))).status
    second = await ticket(stack, agent, channel, await slack.user_posts(customer, channel, "two"))
    assert "Posted by Dana New in #help-desk" in second


@asynccontextmanager
async def team_emulators(team_id: str) -> AsyncIterator[tuple[SlackEmulator, GorgiasEmulator]]:
    """Emulators of a workspace of its own: keys in a Redis shared with other tests differ."""
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, team_id=team_id) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
    ):
        yield slack, gorgias


async def test_replicas_share_messages_seen_live_through_redis(
    database: Database, redis_url: str, unique: str
) -> None:
    """A message one replica heard is ticketed by another replica's worker without a read."""
    options: dict[str, Any] = {"REDIS_URL": redis_url}
    async with (
        team_emulators(f"T{unique}") as (slack, gorgias),
        running_app(database, slack, gorgias, worker=False, **options),
    ):
        customers, agent, channels = workspace(slack)
        ts = await slack.user_posts(customers[0], channels[0], "Heard by the first replica")
        async with running_app(database, slack, gorgias, **options) as second:
            body = await ticket(second, agent, channels[0], ts)
    assert "Heard by the first replica" == body.splitlines()[0]
    assert [] == slack.calls_to("conversations.replies")
