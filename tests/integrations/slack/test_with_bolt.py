"""The emulator against a real Bolt AsyncApp: signatures, payloads, self-event filtering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from tests.integrations.slack.conftest import SECRET
from ticketbolt.integrations.slack.emulator import SlackEmulator


@pytest.fixture
async def bolt(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> AsyncIterator[list[dict[str, Any]]]:
    """A minimal Bolt app served on loopback that echoes messages in threads; yields what it saw."""
    seen: list[dict[str, Any]] = []
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session),
        signing_secret=SECRET,
    )

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        await say(text=f"echo: {event['text']}", thread_ts=event["ts"])

    @app.command("/ticketbolt")
    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(f"status for {command['user_id']}: ok")

    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    slack.events_url = str(server.make_url("/slack/events"))
    yield seen
    await slack.drain()
    await server.close()


async def test_bolt_answers_a_message_and_ignores_its_own_echo(
    slack: SlackEmulator, bolt: list[dict[str, Any]]
) -> None:
    """Bolt verifies the delivery, replies in the thread, and drops the event of its reply."""
    alice = slack.add_user("alice")
    support = slack.add_channel("support", members=[alice])
    ts = await slack.user_posts(alice, support, "hello")
    await slack.wait_for("chat.postMessage")
    await slack.drain()
    replies = [support.messages[r].text for r in support.messages[ts].replies]
    assert ["echo: hello"] == replies
    assert ["hello"] == [e["text"] for e in bolt]
    assert [200, 200] == [d.status for d in slack.deliveries]


async def test_bolt_rejects_a_stale_signature(
    slack: SlackEmulator, bolt: list[dict[str, Any]]
) -> None:
    """A delivery signed ten minutes ago is refused with 401 and reaches no listener."""
    alice = slack.add_user("alice")
    support = slack.add_channel("support", members=[alice])
    await slack.user_posts(alice, support, "hello", signature="stale")
    assert ([401], []) == ([d.status for d in slack.deliveries], bolt)


async def test_bolt_slash_command_responds_through_response_url(
    slack: SlackEmulator, bolt: list[dict[str, Any]]
) -> None:
    """Bolt acks the command and its `respond()` lands in the emulator as an ephemeral."""
    alice = slack.add_user("alice")
    support = slack.add_channel("support", members=[alice])
    delivery = await slack.slash_command(alice, support, text="status")
    await slack.wait_until(lambda: bool(slack.hook_posts))
    assert 200 == delivery.status
    assert [(alice.id, f"status for {alice.id}: ok")] == [
        (e["user"], e["text"]) for e in slack.ephemerals
    ]
