"""Per-channel routing from the channels file: `off` channels are ignored, `auto` channels
turn each new top-level message from a customer into a ticket."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from ticketbolt.handlers.agents import Agents
from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.filters import is_human_message
from ticketbolt.handlers.reactions import message_key
from ticketbolt.handlers.slack_context import SlackReader

log = logging.getLogger(__name__)


def channel_of(body: dict[str, Any]) -> str:
    """The channel an event happened in (a message's, or a reacted item's)."""
    event = body.get("event") or {}
    return str(event.get("channel") or (event.get("item") or {}).get("channel") or "")


def register(app: AsyncApp, deps: Deps) -> None:
    routing = deps.config.routing
    agents = Agents(deps)

    @app.middleware
    async def ignore_off_channels(
        body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        # Events only: `/ticketbolt channel` still answers in an `off` channel.
        if body.get("type") == "event_callback" and routing.mode(channel_of(body)) == "off":
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        channel, ts = str(event.get("channel") or ""), str(event.get("ts") or "")
        if routing.mode(channel) != "auto" or not is_human_message(event):
            return
        if event.get("thread_ts") not in (None, ts) or event.get("subtype") == "thread_broadcast":
            return  # replies join the thread's ticket (thread sync), never make their own
        team = str(body.get("team_id") or "")
        if not await from_customer(team, event, shared=bool(body.get("is_ext_shared_channel"))):
            return
        event_id = str(body.get("event_id") or "")
        key = message_key(team, channel, ts)
        # The same key as a 🎫 on this message: retries and a later 🎫 add nothing.
        await deps.jobs.enqueue(
            "create_ticket",
            {"team_id": team, "channel": channel, "ts": ts, "user": event["user"]}
            | {"source": "auto"},
            key=f"create:{key}",
            order_key=key,
            correlation_id=event_id,
            event_id=event_id,
        )

    async def from_customer(team: str, event: dict[str, Any], *, shared: bool) -> bool:
        """Not an agent's message. In a Slack Connect channel only the external members'
        messages are the customers'."""
        user_team = event.get("user_team")
        if shared and not user_team:  # Slack names it; a cached users.info when it does not
            reader = SlackReader(deps.slack, team, deps.slack_directory)
            user_team = (await reader.person(str(event["user"]))).team_id
        if str(user_team or team) != team:
            return True  # external users are never agents
        if shared:
            return False
        return not agents.named or not await agents.listed(str(event["user"]))

    deps.message_consumers.append(on_message)
