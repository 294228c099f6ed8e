"""Claiming and `auto` channels over real HTTP: signed events in, the emulators' records out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, drained
from tests.support.triage import (
    assignee,
    replies,
    ticketed,
    ticketed_beside_outsiders,
    triage_app,
    workspace,
)

CHANNEL = "C0VIP"


@pytest.fixture
async def stack(database: Database, tmp_path: Path) -> AsyncIterator[Stack]:
    channels = (
        f"channels:\n  {CHANNEL}: {{mode: auto, tags: [vip, wholesale], priority: high}}\n"
        "defaults: {mode: emoji}\n"
    )
    async with triage_app(database, tmp_path, channels) as running:
        yield running


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
    outsiders, channel, ts, before = await ticketed_beside_outsiders(stack, guest_in_gorgias=True)
    for who in outsiders:
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
