"""Fixtures: a running Slack emulator, a real slack_sdk client on it, a signed-event receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.integrations.slack.emulator import SlackEmulator

SECRET = "test-signing-secret"


@dataclass
class Received:
    """One request the receiver got from the emulator, and whether its signature verified."""

    headers: dict[str, str]
    body: str
    verified: bool

    def json(self) -> Any:
        """The body as JSON (events) or the decoded `payload` / form fields (interactivity)."""
        if self.headers.get("content-type", "").startswith("application/json"):
            return json.loads(self.body)
        form = {key: values[0] for key, values in parse_qs(self.body).items()}
        return json.loads(form["payload"]) if "payload" in form else form


@dataclass
class Receiver:
    """A tiny app standing in for the bot: verifies Slack signatures like Bolt and records."""

    received: list[Received] = field(default_factory=list)
    status: int = 200
    reply: str = ""
    verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(SECRET))

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        headers = {key.lower(): value for key, value in request.headers.items()}
        verified = self.verifier.is_valid_request(body, headers)
        self.received.append(Received(headers, body, verified))
        if not verified:
            return web.json_response({"error": "invalid request"}, status=401)
        content_type = "application/json" if self.reply.startswith("{") else "text/plain"
        return web.Response(status=self.status, text=self.reply, content_type=content_type)

    def events(self) -> list[dict[str, Any]]:
        """The inner `event` of every verified envelope, in delivery order."""
        bodies = [r.json() for r in self.received if r.verified]
        return [b["event"] for b in bodies if isinstance(b, dict) and "event" in b]


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """An emulator serving on an ephemeral loopback port, with a deterministic clock."""
    async with SlackEmulator(SECRET, clock_start=1_700_000_000.0) as emulator:
        yield emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A pooled aiohttp session for slack_sdk, closed after the test."""
    async with aiohttp.ClientSession() as pooled:
        yield pooled


@pytest.fixture
def client(slack: SlackEmulator, session: aiohttp.ClientSession) -> AsyncWebClient:
    """The real slack_sdk client, pointed at the emulator."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)


@pytest.fixture
async def receiver(slack: SlackEmulator) -> AsyncIterator[Receiver]:
    """The bot stand-in, served on loopback and set as the emulator's `events_url`."""
    app_receiver = Receiver()
    app = web.Application()
    app.router.add_post("/slack/events", app_receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    slack.events_url = str(server.make_url("/slack/events"))
    yield app_receiver
    await slack.drain()
    await server.close()
