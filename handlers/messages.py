"""One listener per message event type, fanning out to every feature that wants messages.

Bolt runs only the first matching listener, so features (the assistant, thread sync) do not
register `message` listeners themselves: they add consumers to `deps`, and this module calls
each in turn before the ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from ticketbolt.handlers.deps import Deps

SLACK_EVENTS = ("message.channels", "message.groups", "message.im", "app_mention")
SCOPES = {
    "app_mentions:read": "receive mentions of the bot",
    "channels:history": "receive messages in public channels the bot is in",
    "groups:history": "receive messages in private channels the bot is in",
    "im:history": "receive direct messages to the bot",
}


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        for consume in deps.message_consumers:
            await consume(body, event)

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        for consume in deps.mention_consumers:
            await consume(body, event)
