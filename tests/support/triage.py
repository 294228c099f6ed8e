"""Triage scenes shared by the claiming, button, command and per-channel tests: a workspace with
two agents, a ticketed message, and the service started with a channels file of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.support.db import Database
from tests.support.stack import Stack, drained, emulated_app
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User


@asynccontextmanager
async def triage_app(database: Database, tmp_path: Path, channels: str) -> AsyncIterator[Stack]:
    """The service with Alex and Sam as agents and `channels` as its channels file."""
    path = tmp_path / "channels.yml"
    path.write_text(channels)
    async with emulated_app(
        database, TICKETBOLT_AGENTS="UALEX,USAM", TICKETBOLT_CHANNELS=path
    ) as running:
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


def assignee(stack: Stack) -> Any:
    [ticket] = stack.gorgias.tickets.values()
    return (ticket["assignee_user"] or {}).get("email")


async def ticketed(stack: Stack, customer: User, agent: User, channel: Channel) -> str:
    ts = await stack.slack.user_posts(customer, channel, "My parcel is lost")
    await stack.slack.user_reacts(agent, channel, ts, "ticket")
    await drained(stack)
    return ts


async def ticketed_beside_outsiders(
    stack: Stack, *, guest_in_gorgias: bool = False
) -> tuple[tuple[User, User], Channel, str, list[str]]:
    """Dana (a customer with a Gorgias user) and a Slack Connect guest (with one too if
    `guest_in_gorgias`) in the channel, and Dana's message ticketed by Alex: the two outsiders,
    the channel, the message's ts and the thread's replies so far."""
    stack.gorgias.state.add_user("Dana", "dana@shop.example")
    if guest_in_gorgias:
        stack.gorgias.state.add_user("Guest", "guest@partner.example")
    customer, alex, _, channel = workspace(stack.slack)
    guest = stack.slack.add_user("guest", email="guest@partner.example", team_id="TOTHER")
    channel.members.append(guest.id)
    ts = await ticketed(stack, customer, alex, channel)
    return (customer, guest), channel, ts, replies(channel, ts)
