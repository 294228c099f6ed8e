"""Claiming and `auto` channels over real HTTP: signed events in, the emulators' records out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User

CHANNEL = "C0VIP"


@pytest.fixture
async def stack(database: Database, tmp_path: Path) -> AsyncIterator[Stack]:
    channels = tmp_path / "channels.yml"
    channels.write_text(
        f"channels:\n  {CHANNEL}: {{mode: auto, tags: [vip, wholesale], priority: high}}\n"
        "defaults: {mode: emoji}\n"
    )
    async with (
        emulators() as (slack, gorgias),
        running_app(
            database, slack, gorgias, TICKETBOLT_AGENTS="UALEX,USAM", TICKETBOLT_CHANNELS=channels
        ) as running,
    ):
        yield running


def workspace(slack: SlackEmulator) -> tuple[User, User, User, Channel]:
    """A customer, two agents with Gorgias users, and a support channel in `emoji` mode."""
    customer = slack.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    alex = slack.add_user(
        "alex", real_name="Alex Agent", email="alex@ourteam.example", user_id="UALEX"
    )
    sam = slack.add_user("sam", real_name="Sam Agent", email="sam@ourteam.example", user_id="USAM")
    channel = slack.add_channel("support", members=[customer, alex, sam])
    return customer, alex, sam, channel


def replies(channel: Channel, ts: str) -> list[str]:
    return [m.text for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]


async def drained(stack: Stack) -> None:
    async def idle() -> bool:
        states = (await stack.runtime.queue.stats())["by_state"]
        return states["queued"] == 0 and states["running"] == 0

    await eventually(idle, timeout=60, what="the job queue to drain")


def assignee(stack: Stack) -> Any:
    [ticket] = stack.gorgias.tickets.values()
    return (ticket["assignee_user"] or {}).get("email")


async def ticketed(stack: Stack, customer: User, agent: User, channel: Channel) -> str:
    ts = await stack.slack.user_posts(customer, channel, "My parcel is lost")
    await stack.slack.user_reacts(agent, channel, ts, "ticket")
    await drained(stack)
    return ts


async def test_claim_assigns_unclaim_unassigns_and_second_agent_reassigns(stack: Stack) -> None:
    """🙋 by an agent → that agent's Gorgias user is the assignee and the thread names them;
    a second agent's 🙋 reassigns (the thread says from whom); removing it unassigns."""
    stack.gorgias.state.add_user("Alex Agent", "alex@ourteam.example")
    stack.gorgias.state.add_user("Sam Agent", "sam@ourteam.example")
    customer, alex, sam, channel = workspace(stack.slack)
    ts = await ticketed(stack, customer, alex, channel)
    await stack.slack.user_reacts(alex, channel, ts, "raising_hand")
    await drained(stack)
    assert "alex@ourteam.example" == assignee(stack)
    assert "<@UALEX> took ticket #" in replies(channel, ts)[-1]
    await stack.slack.user_reacts(sam, channel, ts, "raising_hand")
    await drained(stack)
    assert "sam@ourteam.example" == assignee(stack)
    assert "<@USAM> took ticket" in replies(channel, ts)[-1]
    assert "reassigned from Alex Agent" in replies(channel, ts)[-1]
    await stack.slack.user_unreacts(alex, channel, ts, "raising_hand")  # no longer Alex's
    await drained(stack)
    assert "sam@ourteam.example" == assignee(stack)
    await stack.slack.user_unreacts(sam, channel, ts, "raising_hand")
    await drained(stack)
    assert None is assignee(stack)
    assert "unassigned" in replies(channel, ts)[-1]


async def test_non_agent_and_external_user_claims_change_nothing(stack: Stack) -> None:
    """A member not in TICKETBOLT_AGENTS and a Slack Connect user cannot claim."""
    stack.gorgias.state.add_user("Dana", "dana@shop.example")
    stack.gorgias.state.add_user("Guest", "guest@partner.example")
    customer, alex, _, channel = workspace(stack.slack)
    guest = stack.slack.add_user("guest", email="guest@partner.example", team_id="TOTHER")
    channel.members.append(guest.id)
    ts = await ticketed(stack, customer, alex, channel)
    before = replies(channel, ts)
    for who in (customer, guest):
        await stack.slack.user_reacts(who, channel, ts, "raising_hand")
    await drained(stack)
    assert None is assignee(stack)
    assert before == replies(channel, ts)


async def test_claim_without_gorgias_user_tells_the_agent_the_email_tried(stack: Stack) -> None:
    """No Gorgias user with the agent's e-mail → an ephemeral naming it; nothing assigned."""
    customer, alex, _, channel = workspace(stack.slack)
    ts = await ticketed(stack, customer, alex, channel)
    await stack.slack.user_reacts(alex, channel, ts, "raising_hand")
    await drained(stack)
    assert None is assignee(stack)
    [told] = [e for e in stack.slack.ephemerals if e["user"] == alex.id]
    assert "alex@ourteam.example" in told["text"]


async def test_claim_on_unticketed_message_with_concurrent_ticket_reaction_makes_one_ticket(
    stack: Stack,
) -> None:
    """🙋 and 🎫 by two agents at once on a message without a ticket → one ticket, assigned."""
    stack.gorgias.state.add_user("Alex Agent", "alex@ourteam.example")
    customer, alex, sam, channel = workspace(stack.slack)
    ts = await stack.slack.user_posts(customer, channel, "Wrong colour")
    await asyncio.gather(
        stack.slack.user_reacts(alex, channel, ts, "raising_hand"),
        stack.slack.user_reacts(sam, channel, ts, "ticket"),
    )
    await drained(stack)
    assert 1 == len(stack.gorgias.tickets)
    assert "alex@ourteam.example" == assignee(stack)


async def test_auto_channel_tickets_each_customer_message_once_with_its_tags(stack: Stack) -> None:
    """`auto`: 20 customer messages delivered with Slack retries → 20 tickets tagged and
    prioritised per the file; agents' messages, thread replies and a later 🎫 add none."""
    slack = stack.slack
    customer, alex, _, _ = workspace(slack)
    vip = slack.add_channel("vip", members=[customer, alex], channel_id=CHANNEL)
    stamps = [await slack.user_posts(customer, vip, f"Order {i} is late") for i in range(20)]
    for ts in stamps[:5]:  # Slack redelivers some events
        [sent] = [
            body
            for body in (json.loads(d.request_body) for d in slack.deliveries if d.kind == "event")
            if (body.get("event") or {}).get("ts") == ts
            and (body.get("event") or {}).get("type") == "message"
        ]
        assert 200 == (await slack.deliver(sent, retry_num=1)).status
    await slack.user_posts(alex, vip, "We are on it")
    await slack.user_posts(customer, vip, "Any news?", thread_ts=stamps[0])
    await drained(stack)
    await slack.user_reacts(alex, vip, stamps[1], "ticket")
    await drained(stack)
    tickets = list(stack.gorgias.tickets.values())
    assert 20 == len(tickets)
    assert [(True, "high")] * 20 == [
        ({"vip", "wholesale"} <= {t["name"] for t in ticket["tags"]}, ticket["priority"])
        for ticket in tickets
    ]
