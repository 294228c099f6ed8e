"""Emoji ticketing over real HTTP: signed reaction events in, Slack and Gorgias emulators out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.scene import workspace
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as running:
        yield running


def thread_replies(slack: SlackEmulator, channel: Channel, ts: str) -> list[Any]:
    return [m for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]


async def test_one_ticket_reaction_opens_one_ticket_and_replies_in_thread(stack: Stack) -> None:
    """🎫 on a message → one Gorgias ticket with the text, permalink and customer, one reply."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, f"My order <#{channel.id}> never arrived")
    await slack.user_reacts(agent, channel, ts, "ticket")
    await eventually(lambda: "eyes" in channel.messages[ts].reactions, what="the marker reaction")
    [raw] = gorgias.tickets.values()
    ticket = gorgias.state.ticket_view(raw)
    body = gorgias.state.ticket_messages(ticket["id"])[0]["body_text"]
    assert "My order #support never arrived" in body
    assert f"/archives/{channel.id}/p{ts.replace('.', '')}" in body
    assert "dana@shop.example" == ticket["customer"]["email"]
    assert {"slack", "support"} <= {t["name"] for t in ticket["tags"]}
    [reply] = thread_replies(slack, channel, ts)
    assert f"/app/ticket/{ticket['id']}" in str(reply.blocks)


async def test_fifty_concurrent_deliveries_for_one_message_yield_one_ticket(stack: Stack) -> None:
    """Retries of one event_id mixed with reactions by several agents, all at once: one ticket."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, _, channel = workspace(slack)
    agents = [slack.state.add_user(f"agent{i}") for i in range(5)]
    for a in agents:
        channel.members.append(a.id)
    ts = await slack.user_posts(customer, channel, "Refund please")

    def reaction(user: User, event_id: str) -> dict[str, Any]:
        return slack.make_event_envelope(
            {
                "type": "reaction_added",
                "user": user.id,
                "reaction": "ticket",
                "item": {"type": "message", "channel": channel.id, "ts": ts},
                "item_user": customer.id,
                "event_ts": ts,
            },
            event_id=event_id,
        )

    deliveries = [
        slack.deliver(reaction(agents[i % 5], f"EvAgent{i % 5}"), retry_num=(i // 5) % 4 or None)
        for i in range(50)
    ]
    statuses = [d.status for d in await asyncio.gather(*deliveries)]
    assert [200] * 50 == statuses
    await eventually(lambda: len(thread_replies(slack, channel, ts)) >= 1, what="thread reply")
    await _drained(stack)
    assert 1 == len(gorgias.tickets)
    assert 1 == len(thread_replies(slack, channel, ts))


async def _drained(stack: Stack) -> None:
    async def idle() -> bool:
        states = (await stack.runtime.queue.stats())["by_state"]
        return states["queued"] == 0 and states["running"] == 0

    await eventually(idle, timeout=60, what="the job queue to drain")


async def test_resolve_closes_and_removing_it_reopens(stack: Stack) -> None:
    """✅ closes the ticket with a thread reply; removing ✅ reopens it."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "Wrong size delivered")
    await slack.user_reacts(agent, channel, ts, "ticket")
    await slack.user_reacts(agent, channel, ts, "white_check_mark")
    await _drained(stack)
    [ticket] = gorgias.tickets.values()
    assert "closed" == ticket["status"]
    assert "heavy_check_mark" in channel.messages[ts].reactions
    await slack.user_unreacts(agent, channel, ts, "white_check_mark")
    await _drained(stack)
    assert "open" == gorgias.tickets[ticket["id"]]["status"]
    texts = [m.text for m in thread_replies(slack, channel, ts)]
    assert 3 == len(texts)
    assert "resolved" in texts[1]
    assert "reopened" in texts[2]


async def test_resolve_by_external_user_changes_nothing(stack: Stack) -> None:
    """A Slack Connect user from another workspace cannot close a ticket."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    outsider = slack.state.add_user("guest", team_id="TOTHER")
    channel.members.append(outsider.id)
    ts = await slack.user_posts(customer, channel, "Where is my parcel?")
    await slack.user_reacts(agent, channel, ts, "ticket")
    await slack.user_reacts(outsider, channel, ts, "white_check_mark")
    await _drained(stack)
    [ticket] = gorgias.tickets.values()
    assert "open" == ticket["status"]


@pytest.mark.parametrize("named_by", ["user id", "user group"])
async def test_resolve_limited_to_configured_agents(database: Database, named_by: str) -> None:
    """With TICKETBOLT_AGENTS set (a user id, or a user group of agents), only those agents
    resolve; another workspace member's ✅ changes nothing."""
    async with emulators() as (slack, gorgias):
        customer, agent, channel = workspace(slack)
        agents = agent.id
        if named_by == "user group":
            slack.state.usergroups["S0AGENTS"] = [agent.id]
            agents = "S0AGENTS"
        async with running_app(database, slack, gorgias, TICKETBOLT_AGENTS=agents) as stack:
            ts = await slack.user_posts(customer, channel, "Broken zipper")
            await slack.user_reacts(customer, channel, ts, "ticket")
            await slack.user_reacts(customer, channel, ts, "white_check_mark")
            await _drained(stack)
            [ticket] = gorgias.tickets.values()
            assert "open" == ticket["status"]
            await slack.user_reacts(agent, channel, ts, "white_check_mark")
            await _drained(stack)
            assert "closed" == gorgias.tickets[ticket["id"]]["status"]


async def test_resolve_before_create_finished_applies_after_it(database: Database) -> None:
    """✅ recorded while the create job is still queued closes the ticket once it exists."""
    async with emulators() as (slack, gorgias):
        customer, agent, channel = workspace(slack)
        async with running_app(database, slack, gorgias, worker=False) as stack:
            ts = await slack.user_posts(customer, channel, "Item missing")
            await slack.user_reacts(agent, channel, ts, "ticket")
            await slack.user_reacts(agent, channel, ts, "white_check_mark")
            assert 2 == (await stack.runtime.queue.stats())["by_state"]["queued"]
            worker_stop = asyncio.Event()
            task = asyncio.create_task(stack.runtime.worker(poll_interval=0.05).run(worker_stop))
            try:
                await _drained(stack)
            finally:
                worker_stop.set()
                await task
        [ticket] = gorgias.tickets.values()
        assert "closed" == ticket["status"]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "reaction_added", "user": "U1", "reaction": "ticket"},
        {
            "type": "reaction_added",
            "user": "U1",
            "reaction": "ticket",
            "item": {"type": "file", "file": "F1"},
        },
        {
            "type": "reaction_added",
            "user": "U1",
            "reaction": "ticket",
            "item": {"type": "message", "channel": "CNOPE", "ts": "1.000001"},
        },
    ],
    ids=["missing-item", "file-item", "unknown-channel"],
)
async def test_malformed_reactions_are_answered_200_and_create_nothing(
    stack: Stack, event: dict[str, Any]
) -> None:
    """Odd payloads are acknowledged, logged, and never become tickets."""
    delivery = await stack.slack.deliver(stack.slack.make_event_envelope(event))
    assert 200 == delivery.status
    await _drained(stack)
    assert {} == stack.gorgias.tickets


async def test_deleted_message_creates_nothing(stack: Stack) -> None:
    """A 🎫 on a message deleted before the worker reads it fails permanently, no ticket."""
    slack = stack.slack
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "Please help")
    envelope = slack.make_event_envelope(
        {
            "type": "reaction_added",
            "user": agent.id,
            "reaction": "ticket",
            "item": {"type": "message", "channel": channel.id, "ts": ts},
            "event_ts": ts,
        }
    )
    await slack.user_deletes(customer, channel, ts)
    assert 200 == (await slack.deliver(envelope)).status
    await _drained(stack)
    assert {} == stack.gorgias.tickets
    assert 1 == (await stack.runtime.queue.stats())["by_state"]["failed"]
