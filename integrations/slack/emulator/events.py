"""Slack's side of the Events API: event payloads, envelopes, request signing and delivery."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from slack_sdk.signature import SignatureVerifier

from ticketbolt.integrations.slack.emulator.render import message_json
from ticketbolt.integrations.slack.emulator.state import JSON, Channel, Message, Workspace

SignatureMode = Literal["valid", "wrong_secret", "stale", "missing"]
"""How a delivery is signed: correctly, with another secret, 10 minutes old, or not at all."""

STALE_SECONDS = 600


@dataclass(frozen=True)
class Delivery:
    """One HTTP request the emulator sent to the app, and the app's answer."""

    kind: str
    url: str
    request_body: str
    request_headers: dict[str, str]
    status: int
    body: str

    def json(self) -> Any:
        """The app's answer parsed as JSON (Bolt answers events with an empty body)."""
        return json.loads(self.body) if self.body else None


# -- event payloads --------------------------------------------------------------------------


def message_event(ws: Workspace, channel: Channel, message: Message) -> JSON:
    """The `message` event for a new message, user's or bot's, as the Events API sends it."""
    event = message_json(ws, channel, message)
    for bookkeeping in ("reply_count", "reply_users", "reply_users_count", "latest_reply"):
        event.pop(bookkeeping, None)
    return event | {
        "channel": channel.id,
        "event_ts": message.ts,
        "channel_type": channel.channel_type,
    }


def app_mention_event(ws: Workspace, channel: Channel, message: Message) -> JSON:
    """The `app_mention` event Slack adds when a channel message mentions the bot user."""
    event: JSON = {
        "type": "app_mention",
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "team": message.team,
        "channel": channel.id,
        "event_ts": message.ts,
    }
    if message.client_msg_id:
        event["client_msg_id"] = message.client_msg_id
    if message.thread_ts:
        event["thread_ts"] = message.thread_ts
    if message.blocks is not None:
        event["blocks"] = message.blocks
    if message.files:
        event["files"] = message.files
    return event


def message_changed_event(
    ws: Workspace, channel: Channel, message: Message, previous: JSON
) -> JSON:
    """The hidden `message_changed` event: the edited message nested under `message`."""
    event_ts = ws.clock.next()
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "message": message_json(ws, channel, message),
        "previous_message": previous,
        "channel": channel.id,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel.channel_type,
    }


def message_deleted_event(ws: Workspace, channel: Channel, previous: JSON) -> JSON:
    """The hidden `message_deleted` event naming the deleted ts and the message it held."""
    event_ts = ws.clock.next()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": previous["ts"],
        "previous_message": previous,
        "channel": channel.id,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel.channel_type,
    }


def reaction_event(
    ws: Workspace, channel: Channel, message: Message, *, kind: str, user: str, name: str
) -> JSON:
    """`reaction_added` / `reaction_removed`; `item_user` only for messages a user authored."""
    event: JSON = {
        "type": kind,
        "user": user,
        "reaction": name,
        "item": {"type": "message", "channel": channel.id, "ts": message.ts},
        "event_ts": ws.clock.next(),
    }
    if message.user and message.subtype != "tombstone":
        event["item_user"] = message.user
    return event


def envelope(ws: Workspace, channel: Channel | None, event: JSON, event_id: str) -> JSON:
    """The `event_callback` envelope around an event, authorised for the app's bot user."""
    return {
        "token": "emulated-verification-token",
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": None,
        "api_app_id": ws.api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot.id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": bool(channel and channel.is_ext_shared),
        "event_context": f"4-{event.get('type', 'event')}-{ws.team_id}-{event_id}",
    }


# -- signing and delivery --------------------------------------------------------------------


def signed_headers(secret: str, body: str, mode: SignatureMode = "valid") -> dict[str, str]:
    """`X-Slack-Request-Timestamp` and `X-Slack-Signature` for `body`, as Slack computes them."""
    timestamp = int(time.time()) - (STALE_SECONDS if mode == "stale" else 0)
    if mode == "missing":
        return {}
    key = f"{secret}-but-wrong" if mode == "wrong_secret" else secret
    signature = SignatureVerifier(key).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None  # only None when timestamp or body is None
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


class Deliverer:
    """POSTs signed requests to the app over one pooled session (created on first use)."""

    def __init__(self, signing_secret: str, timeout: float) -> None:
        self.signing_secret = signing_secret
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self,
        kind: str,
        url: str,
        body: str,
        content_type: str,
        *,
        signature: SignatureMode = "valid",
        extra_headers: dict[str, str] | None = None,
    ) -> Delivery:
        """Sign and send `body`; the app's status and body come back in the `Delivery`."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        headers: dict[str, str] = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        headers |= signed_headers(self.signing_secret, body, signature)
        headers |= extra_headers or {}
        async with self._session.post(url, data=body.encode(), headers=headers) as response:
            answer = await response.text()
            return Delivery(kind, url, body, headers, response.status, answer)

    async def aclose(self) -> None:
        """Close the pooled session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
