"""`/ticketbolt` over real HTTP: a signed slash command in; the ack and response_url posts out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt import __version__
from ticketbolt.handlers import blocks_status
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.events import Delivery
from ticketbolt.integrations.slack.emulator.state import Channel, User


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as running:
        yield running


def workspace(slack: SlackEmulator) -> tuple[User, User, Channel]:
    customer = slack.state.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    agent = slack.state.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
    channel = slack.state.add_channel("support", members=[customer.id, agent.id])
    return customer, agent, channel


def rendered(body: dict[str, Any]) -> str:
    """Everything a person would read in a message: its text and its blocks."""
    return f"{body.get('text', '')}\n{json.dumps(body.get('blocks') or [], ensure_ascii=False)}"


async def command(
    slack: SlackEmulator, user: User, channel: Channel, text: str
) -> tuple[Delivery, dict[str, Any]]:
    """Run `/ticketbolt text`; the ack, and the answer the bot then posts to the response_url."""
    before = len(slack.hook_posts)
    ack = await slack.slash_command(user, channel, text=text)
    assert 200 == ack.status
    await slack.wait_until(lambda: len(slack.hook_posts) > before, timeout=15)
    [post] = slack.hook_posts[before:]
    assert isinstance(post.body, dict)
    return ack, post.body


async def test_status_acks_at_once_then_posts_every_dependency(stack: Stack) -> None:
    """`status` is acknowledged with a short ephemeral, then the full report goes to the
    response_url: each dependency with state and latency, the queue, version and uptime."""
    _, agent, channel = workspace(stack.slack)
    ack, answer = await command(stack.slack, agent, channel, "status")
    assert blocks_status.CHECKING == ack.json()["text"]
    assert "ephemeral" == ack.json()["response_type"]
    assert "ephemeral" == answer["response_type"]
    shown = rendered(answer)
    for label in ("*Database* ok", "*Cache* ok", "*Slack API* ok", "*Gorgias* ok", "*LLM* off"):
        assert label in shown
    assert " ms — " in shown
    assert "circuit *closed*" in shown
    assert "*Job queue* 0 queued · 0 running · 0 failed" in shown
    assert f"ticketbolt {__version__} · up " in shown


async def test_status_with_gorgias_down_marks_it_and_the_open_circuit(database: Database) -> None:
    """With Gorgias in an outage the command still answers; the report marks Gorgias down,
    its circuit open, and names the settings to check."""
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, TICKETBOLT_BREAKER_FAILURES=1),
    ):
        _, agent, channel = workspace(slack)
        gorgias.faults.outage = True
        _, answer = await command(slack, agent, channel, "status")
    shown = rendered(answer)
    assert ":red_circle: *Gorgias* down" in shown
    assert "circuit *open*" in shown
    assert "Check `GORGIAS_ACCOUNT / GORGIAS_USERNAME / GORGIAS_API_KEY`" in shown
    assert "*Database* ok" in shown
    assert "gorgias down" in answer["text"]


async def test_cache_shows_each_layer_with_its_savings(stack: Stack) -> None:
    """`cache` lists the backend's totals and, per LLM cache layer, hits, misses, hit rate and
    the tokens and cost the hits saved."""
    _, agent, channel = workspace(stack.slack)
    layers = stack.runtime.deps.assistant.layers
    key = layers.kb.key("where is my parcel")
    assert await layers.kb.get_json(key) is None
    await layers.kb.set_json(key, ["shipping"], tokens=1200)
    assert ["shipping"] == await layers.kb.get_json(key)
    _, answer = await command(stack.slack, agent, channel, "cache")
    shown = rendered(answer)
    assert "*Backend* `memory`" in shown
    for name in (await stack.runtime.stats())["cache"]["layers"]:
        assert f"*{name}* (TTL " in shown
    assert "*kb* (TTL 1d) · 1 hits / 1 misses · hit rate 50.0 % · 1,200 tokens saved" in shown


def test_cache_answer_without_the_assistant_says_there_are_no_layers() -> None:
    """A process without the assistant still reports the backend, and says why no layer shows."""
    text, blocks = blocks_status.cache_report(
        {
            "backend": "redis→memory",
            "entries": 3,
            "hits": 2,
            "misses": 1,
            "hit_rate": 0.6667,
            "layers": {},
        }
    )
    shown = rendered({"text": text, "blocks": blocks})
    assert "*Backend* `redis→memory` _(Redis unreachable: serving from memory)_" in shown
    assert "hit rate 66.7 %" in shown
    assert "the assistant is not running" in shown


async def test_ticket_shows_the_gorgias_ticket_and_its_slack_message(stack: Stack) -> None:
    """`ticket <id>` shows subject, status, customer, assignee, last update, the Gorgias link
    and a permalink to the message the ticket was made from."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "My parcel arrived crushed")
    await slack.user_reacts(agent, channel, ts, "ticket")
    await eventually(lambda: "eyes" in channel.messages[ts].reactions, what="the ticket")
    [ticket_id] = gorgias.tickets
    await gorgias.agent_assign(ticket_id)
    _, answer = await command(slack, agent, channel, f"ticket {ticket_id}")
    shown = rendered(answer)
    assert f"/app/ticket/{ticket_id}|Ticket #{ticket_id}>* — My parcel arrived crushed" in shown
    assert "*Status*\\nopen" in shown
    assert "*Customer*\\nDana Customer (dana@shop.example)" in shown
    assert "*Assignee*\\nSam Agent" in shown
    assert "*Last update*\\n<!date^" in shown
    assert f"/archives/{channel.id}/p{ts.replace('.', '')}|the Slack message>" in shown


async def test_ticket_that_gorgias_does_not_have_is_reported_as_not_found(stack: Stack) -> None:
    """An unknown ticket number gets a clear answer, not an error."""
    _, agent, channel = workspace(stack.slack)
    _, answer = await command(stack.slack, agent, channel, "ticket 999")
    assert "Gorgias has no ticket #999." == answer["text"]


@pytest.mark.parametrize("text", ["", "help", "frobnicate", "ticket", "ticket abc", "ticket 1 2"])
async def test_help_unknown_and_malformed_commands_show_usage_in_the_ack(
    stack: Stack, text: str
) -> None:
    """Help, an unknown sub-command or a ticket id that is not a number: usage, at once."""
    _, agent, channel = workspace(stack.slack)
    ack = await stack.slack.slash_command(agent, channel, text=text)
    assert 200 == ack.status
    assert ack.json()["text"].startswith("Usage: /ticketbolt")
    assert [] == stack.slack.hook_posts


@pytest.mark.parametrize("text", ["status", "cache", "ticket 1"])
async def test_external_user_is_refused(stack: Stack, text: str) -> None:
    """A Slack Connect user from another workspace gets a refusal, and no report."""
    _, _, channel = workspace(stack.slack)
    outsider = stack.slack.state.add_user("guest", team_id="TOTHER")
    channel.members.append(outsider.id)
    _, answer = await command(stack.slack, outsider, channel, text)
    assert blocks_status.refused()[0] == answer["text"]


async def test_an_unknown_sub_command_is_named_before_the_usage(stack: Stack) -> None:
    """`/ticketbolt bogus` says it does not know "bogus", then shows what it can do."""
    _, agent, channel = workspace(stack.slack)
    ack = await stack.slack.slash_command(agent, channel, text="bogus")
    shown = json.dumps(ack.json())
    assert "I don't know `bogus`" in shown
    assert "/ticketbolt status" in shown
