"""The ticket message's "Take it" button and "Assign…" picker, clicked in the emulated Slack:
signed `block_actions` payloads over real HTTP, the emulators' records out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.test_triage import stack
from tests.support.stack import Stack, drained
from tests.support.triage import (
    assignee,
    replies,
    ticketed,
    ticketed_beside_outsiders,
    workspace,
)
from ticketbolt.handlers.blocks_triage import ASSIGN, TAKE_IT
from ticketbolt.integrations.slack.emulator.state import Channel

__all__ = ["stack"]  # the fixture, shared with the reaction tests


def ticket_message(stack: Stack, channel: Channel, ts: str) -> str:
    """The ts of the bot's "Ticket #n opened" reply, which carries the triage controls."""
    bot = stack.slack.bot_user.id
    [found] = [
        m.ts
        for m in channel.messages.values()
        if m.thread_ts == ts and m.user == bot and "opened" in m.text
    ]
    return found


def told(stack: Stack, user: str) -> list[str]:
    return [e["text"] for e in stack.slack.ephemerals if e["user"] == user]


def first_body(stack: Stack) -> Any:
    [ticket] = stack.gorgias.tickets.values()
    return stack.gorgias.state.ticket_view(ticket)["messages"][0]["body_text"]


async def test_take_it_assigns_the_clicking_agent_and_the_thread_names_them(stack: Stack) -> None:
    """An agent clicks "Take it" on the ticket message: the signed block_actions payload is
    acknowledged at once, the ticket is assigned to the agent's Gorgias user, and the thread
    says who took it. The ticket's first message names who ticketed it."""
    stack.gorgias.state.add_user("Sam Agent", "sam@ourteam.example")
    customer, alex, sam, channel = workspace(stack.slack)
    ts = await ticketed(stack, customer, alex, channel)
    assert "ticketed by Alex Agent from Slack" in first_body(stack)
    delivery = await stack.slack.block_action(
        sam, channel, ticket_message(stack, channel, ts), TAKE_IT
    )
    assert 200 == delivery.status
    await drained(stack)
    assert "sam@ourteam.example" == assignee(stack)
    assert "<@USAM> took ticket #" in replies(channel, ts)[-1]


async def test_take_it_by_a_non_agent_or_an_external_user_changes_nothing_and_says_why(
    stack: Stack,
) -> None:
    """A member who is not in TICKETBOLT_AGENTS, and a Slack Connect user, are told that only
    agents take tickets; the assignee and the thread stay as they were."""
    outsiders, channel, ts, before = await ticketed_beside_outsiders(stack)
    for who in outsiders:
        await stack.slack.block_action(who, channel, ticket_message(stack, channel, ts), TAKE_IT)
    await drained(stack)
    assert None is assignee(stack)
    assert before == replies(channel, ts)
    for who in outsiders:
        assert ["Only agents can take tickets (see TICKETBOLT_AGENTS)."] == told(stack, who.id)


async def test_assign_picker_assigns_the_picked_colleague(stack: Stack) -> None:
    """An agent picks a colleague in "Assign…": the colleague's Gorgias user becomes the
    assignee, the thread names both, and the agent alone is told it is done."""
    stack.gorgias.state.add_user("Sam Agent", "sam@ourteam.example")
    customer, alex, _, channel = workspace(stack.slack)
    ts = await ticketed(stack, customer, alex, channel)
    [ticket_id] = stack.gorgias.tickets
    message = ticket_message(stack, channel, ts)
    delivery = await stack.slack.block_action(alex, channel, message, ASSIGN, selected_user="USAM")
    assert 200 == delivery.status

    await stack.slack.wait_until(lambda: bool(told(stack, alex.id)), timeout=30)
    assert "sam@ourteam.example" == assignee(stack)
    expected = f"Ticket #{ticket_id} is now assigned to <@USAM>. The ticket's Slack thread says so."
    assert [expected] == told(stack, alex.id)
    assert f"<@UALEX> assigned ticket #{ticket_id} to <@USAM>" == replies(channel, ts)[-1]


@pytest.mark.parametrize(
    ("clicker", "picked", "expected"),
    [
        ("dana", "USAM", "Only agents can assign tickets (see TICKETBOLT_AGENTS)."),
        ("guest", "USAM", "Only agents can assign tickets (see TICKETBOLT_AGENTS)."),
        ("alex", "UGUEST", "<@UGUEST> is not a member of this workspace"),
        ("alex", "UDANA", "Gorgias has no user with the e-mail dana@shop.example"),
    ],
)
async def test_assign_picker_refusals_are_ephemeral_and_change_nothing(
    stack: Stack, clicker: str, picked: str, expected: str
) -> None:
    """A non-agent, an external user, an external pick or a pick without a Gorgias user: the
    clicker alone is told why; the ticket stays unassigned and the thread quiet."""
    stack.gorgias.state.add_user("Sam Agent", "sam@ourteam.example")
    customer, alex, _, channel = workspace(stack.slack)
    slack = stack.slack
    guest = slack.add_user("guest", email="sam@ourteam.example", team_id="TOTHER", user_id="UGUEST")
    channel.members.append(guest.id)
    ts = await ticketed(stack, customer, alex, channel)
    before = replies(channel, ts)
    who = {"dana": customer, "guest": guest, "alex": alex}[clicker]
    if picked == "UDANA":
        picked = customer.id
        expected = expected.replace("UDANA", customer.id)
    await slack.block_action(
        who, channel, ticket_message(stack, channel, ts), ASSIGN, selected_user=picked
    )
    await slack.wait_until(lambda: bool(told(stack, who.id)), timeout=30)
    [answer] = told(stack, who.id)
    assert expected in answer
    assert None is assignee(stack)
    assert before == replies(channel, ts)
