"""Input that can never succeed fails once, visibly, and holds nothing else up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as running:
        yield running


def bot_posts(slack: SlackEmulator, channel: Channel) -> list[Any]:
    return [m for m in channel.messages.values() if m.user == slack.bot_user.id]


async def test_a_dm_holding_nul_is_answered(stack: Stack) -> None:
    """NUL in a customer's DM (PostgreSQL refuses it in text) is stored without it, and the
    customer gets a reply instead of a job retried for an hour and a half."""
    slack = stack.slack
    customer = slack.state.add_user("sam", email="sam@shop.example")
    dm = slack.state.open_dm(customer.id)
    await slack.user_posts(customer, dm, "What is your return\x00 policy?")
    await eventually(lambda: len(bot_posts(slack, dm)) == 1, what="the answer")
    await slack.user_posts(customer, dm, "And how long does shipping take?")
    await eventually(lambda: len(bot_posts(slack, dm)) == 2, what="the next answer")
    states = (await stack.runtime.queue.stats())["by_state"]
    assert 0 == states["failed"]


async def test_a_ticket_reaction_by_an_unknown_user_fails_once_with_a_notice(stack: Stack) -> None:
    """🎫 from a user id Slack does not know: the job fails on its first attempt (Slack's
    `user_not_found` cannot change), the thread says why, and no ticket is made."""
    slack = stack.slack
    customer = slack.state.add_user("dana", email="dana@shop.example")
    channel = slack.state.add_channel("support", members=[customer.id, slack.bot_user.id])
    ts = slack.state.post(channel, customer, "My parcel never came").ts
    envelope = slack.make_event_envelope(
        {
            "type": "reaction_added",
            "user": "U0GHOST",
            "reaction": "ticket",
            "item": {"type": "message", "channel": channel.id, "ts": ts},
            "event_ts": ts,
        },
        event_id="EvGhost",
    )
    assert 200 == (await slack.deliver(envelope)).status

    async def failed() -> list[Any]:
        return await stack.runtime.queue.list(state="failed")

    await eventually(failed, what="the job to fail")
    [job] = await failed()
    assert 1 == job.attempts
    await eventually(lambda: bool(_replies(channel, ts)), what="the notice")
    [notice] = _replies(channel, ts)
    assert "does not know that person" in notice
    assert 0 == len(stack.gorgias.tickets)


def _replies(channel: Channel, ts: str) -> list[str]:
    return [m.text for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]
