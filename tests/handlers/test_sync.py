"""Two-way thread sync over real HTTP: Slack replies into tickets, Gorgias changes into threads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulated_app
from tests.support.sync import (
    TOKEN,
    edited_reply,
    from_slack,
    hook_up,
    messages,
    settle,
    ticket_for,
    ticketed,
    webhook_url,
    workspace,
)
from ticketbolt.bot.cli.ops import register_webhook
from ticketbolt.integrations.slack.emulator.state import Channel, Message


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulated_app(database, TICKETBOLT_GORGIAS_WEBHOOK_TOKEN=TOKEN) as running:
        await hook_up(running)
        yield running


def thread(channel: Channel, ts: str) -> list[Message]:
    return [m for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]


def bot_posts(stack: Stack, channel: Channel, ts: str) -> list[Message]:
    return [m for m in thread(channel, ts) if m.user == stack.slack.bot_user.id]


def saying(stack: Stack, channel: Channel, ts: str, words: str) -> list[Message]:
    return [m for m in bot_posts(stack, channel, ts) if words in m.text]


async def test_member_reply_becomes_one_internal_note(stack: Stack) -> None:
    """A workspace member's thread reply is one internal note, even when Slack sends it twice."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "My parcel is late")
    reply_ts = await stack.slack.user_posts(agent, channel, "Checking with the courier", ts)
    await settle(stack)
    [delivery] = [
        d
        for d in stack.slack.deliveries
        if f'"ts": "{reply_ts}"' in d.request_body and '"subtype"' not in d.request_body
    ]
    duplicate = json.loads(delivery.request_body) | {"event_id": "EvAnotherDelivery"}
    assert 200 == (await stack.slack.deliver(duplicate)).status
    await settle(stack)
    [note] = from_slack(stack, ticket_id)
    assert "internal-note" == note["channel"]
    assert note["public"] is False
    assert "Alex Agent (Slack) wrote: Checking with the courier" == note["body_text"]
    assert f"slack:{stack.slack.state.team_id}:{channel.id}:{reply_ts}" == note["external_id"]


async def test_customer_reply_becomes_a_customer_message(stack: Stack) -> None:
    """The ticket's customer writing in the thread adds a message from that customer."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Wrong colour delivered")
    await stack.slack.user_posts(customer, channel, f"I ordered blue, got <@{agent.id}>'s red", ts)
    await settle(stack)
    [message] = from_slack(stack, ticket_id)
    ticket = stack.gorgias.state.ticket_view(stack.gorgias.tickets[ticket_id])
    assert message["from_agent"] is False
    assert ticket["customer"]["id"] == message["sender"]["id"]
    assert "I ordered blue, got @Alex Agent's red" == message["body_text"]


async def test_slack_connect_customer_reply_is_a_customer_message(stack: Stack) -> None:
    """In a shared channel the external author of the ticketed message is the customer."""
    slack = stack.slack
    _, agent, _ = workspace(slack)
    guest = slack.add_user("gina", real_name="Gina Guest", team_id="TPARTNER")
    shared = slack.add_channel("shared-acme", members=[agent, guest], is_ext_shared=True)
    ts, ticket_id = await ticketed(stack, guest, agent, shared, "Invoice 42 is wrong")
    await slack.user_posts(
        guest, shared, "Attached the right one", ts, files=[{"name": "invoice-42.pdf"}]
    )
    await slack.user_posts(agent, shared, "Thanks, fixing it", ts)
    await settle(stack)
    customer_message, note = from_slack(stack, ticket_id)
    assert customer_message["from_agent"] is False
    assert "invoice-42.pdf https://" in customer_message["body_text"]
    assert "internal-note" == note["channel"]


async def test_bot_messages_are_never_mirrored(stack: Stack) -> None:
    """Neither ticketbolt's own thread replies nor another app's reach the ticket."""
    customer, agent, channel = workspace(stack.slack)
    other_app = stack.slack.add_user("deploybot", is_bot=True)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Checkout is down")
    await stack.slack.user_posts(other_app, channel, "Deploy 512 finished", ts)
    await settle(stack)
    assert 1 == len(bot_posts(stack, channel, ts))  # the "ticket opened" reply
    assert [] == from_slack(stack, ticket_id)
    assert 1 == len(messages(stack, ticket_id))


async def test_edit_and_delete_add_notes(stack: Stack) -> None:
    """Editing a reply adds an "edited" note; deleting it adds a "deleted" note."""
    agent, channel, ticket_id, reply_ts = await edited_reply(
        stack, "Refund not received", "Refund sent on Monday", "Refund sent on Tuesday"
    )
    await stack.slack.user_deletes(agent, channel, reply_ts)
    await settle(stack)
    bodies = [m["body_text"] for m in from_slack(stack, ticket_id)]
    assert [
        "Alex Agent (Slack) wrote: Refund sent on Monday",
        "Alex Agent (Slack) edited: Refund sent on Tuesday",
        "Alex Agent (Slack) deleted: Refund sent on Tuesday",
    ] == bodies


async def test_backfill_adds_the_replies_so_far_in_order_once(stack: Stack) -> None:
    """Ticketing a message with 5 replies puts those 5 into the ticket, in order, exactly once."""
    customer, agent, channel = workspace(stack.slack)
    ts = await stack.slack.user_posts(customer, channel, "The app crashes on login")
    texts = [f"reply {i}" for i in range(1, 6)]
    for i, text in enumerate(texts):
        await stack.slack.user_posts(customer if i % 2 == 0 else agent, channel, text, ts)
    ticket_id = await ticket_for(stack, agent, channel, ts)
    first, *rest = messages(stack, ticket_id)
    assert "reply 1" not in first["body_text"]
    assert [(i % 2 == 1, text) for i, text in enumerate(texts)] == [
        (m["from_agent"], m["body_text"].rpartition(": ")[2]) for m in rest
    ]


async def test_agent_reply_in_gorgias_appears_once_in_the_thread(stack: Stack) -> None:
    """A public agent reply is posted once, marked as the helpdesk's; an internal note is not."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Size exchange please")
    await stack.gorgias.agent_reply(
        ticket_id, "Exchange label <sent> & on its way", agent_name="Sam Agent"
    )
    await stack.gorgias.agent_reply(ticket_id, "VIP customer", agent_name="Sam Agent", public=False)
    await settle(stack)
    [post] = bot_posts(stack, channel, ts)[1:]
    assert "Sam Agent (helpdesk): Exchange label &lt;sent&gt; &amp; on its way" == post.text
    assert f"/app/ticket/{ticket_id}" in str(post.blocks)
    assert 3 == len(messages(stack, ticket_id))  # no echo of the post back into the ticket


async def test_internal_notes_are_posted_when_configured(database: Database) -> None:
    """With TICKETBOLT_SYNC_INTERNAL_NOTES an agent's internal note reaches the thread, marked."""
    async with emulated_app(
        database, TICKETBOLT_GORGIAS_WEBHOOK_TOKEN=TOKEN, TICKETBOLT_SYNC_INTERNAL_NOTES="true"
    ) as stack:
        await hook_up(stack)
        customer, agent, channel = workspace(stack.slack)
        ts, ticket_id = await ticketed(stack, customer, agent, channel, "Lost voucher")
        await stack.gorgias.agent_reply(
            ticket_id, "Issue a new code", agent_name="Sam Agent", public=False
        )
        await settle(stack)
        [post] = bot_posts(stack, channel, ts)[1:]
        assert "Sam Agent (internal note): Issue a new code" == post.text


async def test_same_webhook_three_times_posts_once(stack: Stack) -> None:
    """Gorgias retrying a delivery (same body) never posts the reply twice."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Package damaged")
    await stack.gorgias.agent_reply(ticket_id, "Sending a replacement", agent_name="Sam Agent")
    await settle(stack)
    [delivery] = [
        d
        for d in stack.gorgias.deliveries
        if d.trigger == "ticket-message-created"
        and (d.body["message"]["body_text"] or "") == "Sending a replacement"
    ]
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(
                webhook_url(stack), json=delivery.body, headers=delivery.headers
            ) as response:
                assert 200 == response.status
                assert {"ok": True, "duplicate": True} == await response.json()
    await settle(stack)
    assert 1 == len(saying(stack, channel, ts, "Sending a replacement"))


@pytest.mark.parametrize("headers", [{"X-Ticketbolt-Token": "guess"}, {}], ids=["wrong", "none"])
async def test_wrong_token_is_refused_and_changes_nothing(
    stack: Stack, headers: dict[str, str]
) -> None:
    """Without the shared token the webhook answers 401 and records no job."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Where is my order?")
    jobs_before = await stack.runtime.queue.stats()
    body = {"ticket": {"id": ticket_id, "status": "closed"}, "message": None}
    async with (
        aiohttp.ClientSession() as session,
        session.post(webhook_url(stack), json=body, headers=headers) as response,
    ):
        assert 401 == response.status
    await settle(stack)
    assert jobs_before == await stack.runtime.queue.stats()
    assert 1 == len(bot_posts(stack, channel, ts))


async def test_webhook_without_configured_token_is_not_found(database: Database) -> None:
    """With no TICKETBOLT_GORGIAS_WEBHOOK_TOKEN the endpoint is off: 404, nothing recorded."""
    async with emulated_app(database) as stack:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                webhook_url(stack), json={"ticket": {"id": 1}}, headers={"X-Ticketbolt-Token": ""}
            ) as response,
        ):
            assert 404 == response.status
        assert 0 == sum((await stack.runtime.queue.stats())["by_state"].values())


async def test_close_and_reopen_in_gorgias_are_told_once_and_move_the_marker(stack: Stack) -> None:
    """Closing in Gorgias posts "closed by …" and swaps the marker; reopening reverses both."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Charged twice")
    reactions = channel.messages[ts].reactions
    await stack.gorgias.agent_set_status(ticket_id, "closed", agent_name="Sam Agent")
    await settle(stack)
    assert 1 == len(saying(stack, channel, ts, "closed by Sam Agent"))
    assert ("heavy_check_mark" in reactions, "eyes" in reactions) == (True, False)
    link = await stack.runtime.links.by_ticket(ticket_id)
    assert link is not None
    assert "closed" == link.status
    await stack.gorgias.agent_set_status(ticket_id, "open", agent_name="Sam Agent")
    await settle(stack)
    assert 1 == len(saying(stack, channel, ts, "reopened by Sam Agent"))
    assert ("heavy_check_mark" in reactions, "eyes" in reactions) == (False, True)
    await stack.gorgias.agent_assign(ticket_id, agent_name="Sam Agent")
    await settle(stack)
    assert 1 == len(saying(stack, channel, ts, "assigned to Sam Agent"))
    assert 4 == len(bot_posts(stack, channel, ts))


async def test_close_from_slack_is_not_told_again_by_its_webhook(stack: Stack) -> None:
    """✅ in Slack closes the ticket; the webhook Gorgias fires for it adds no second post."""
    customer, agent, channel = workspace(stack.slack)
    ts, _ = await ticketed(stack, customer, agent, channel, "Cancel my order")
    await stack.slack.user_reacts(agent, channel, ts, "white_check_mark")
    await settle(stack)
    assert [] == saying(stack, channel, ts, "in Gorgias")
    assert 2 == len(bot_posts(stack, channel, ts))


async def test_hundred_alternating_messages_mirror_exactly_once(stack: Stack) -> None:
    """50 Slack replies and 50 Gorgias replies, interleaved: 100 mirrored, in order, no echo."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Long conversation")
    for i in range(50):
        await stack.slack.user_posts(agent, channel, f"slack {i}", ts)
        await stack.gorgias.agent_reply(ticket_id, f"gorgias {i}", agent_name="Sam Agent")
    await settle(stack)
    notes = [m["body_text"] for m in from_slack(stack, ticket_id)]
    posts = [m.text for m in bot_posts(stack, channel, ts)[1:]]
    assert [f"Alex Agent (Slack) wrote: slack {i}" for i in range(50)] == notes
    assert [f"Sam Agent (helpdesk): gorgias {i}" for i in range(50)] == posts
    assert 1 + 100 == len(messages(stack, ticket_id))
    assert 1 + 100 == len(thread(channel, ts))


async def test_registering_the_webhook_twice_keeps_one_integration(stack: Stack) -> None:
    """`ticketbolt gorgias register-webhook` is idempotent: one integration, {{context}} body."""
    for _ in range(2):
        assert 0 == await register_webhook(stack.runtime.settings, webhook_url(stack))
    [integration] = stack.gorgias.state.integrations.values()
    http: dict[str, Any] = integration["http"]
    assert (webhook_url(stack), "POST", "application/json", "{{context}}") == (
        http["url"],
        http["method"],
        http["request_content_type"],
        http["form"],
    )
    assert {"X-Ticketbolt-Token": TOKEN} == http["headers"]
    assert {"ticket-created", "ticket-updated", "ticket-message-created"} <= set(http["triggers"])
