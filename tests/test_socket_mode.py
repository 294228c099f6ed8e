"""Socket Mode: with SLACK_APP_TOKEN the app connects out over a WebSocket, no public URL needed."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.support.db import Database
from tests.support.stack import BOT_TOKEN, SIGNING_SECRET, eventually
from ticketbolt.bot.container import Runtime
from ticketbolt.bot.serve import serve
from ticketbolt.bot.settings import load_settings
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator

APP_TOKEN = "xapp-1-test-app-token"


async def test_reaction_over_socket_mode_creates_a_ticket(database: Database) -> None:
    """`ticketbolt run` in Socket Mode: events arrive over the socket, are acknowledged, and a
    🎫 becomes a ticket; a retried envelope is acknowledged without a second ticket."""
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
    ):
        customer = slack.add_user("dana", email="dana@shop.example")
        agent = slack.add_user("alex")
        channel = slack.add_channel("support", members=[customer, agent])
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_API_URL": slack.api_url,
                "GORGIAS_BASE_URL": gorgias.base_url,
                "GORGIAS_USERNAME": "api@example.com",
                "GORGIAS_API_KEY": "emulator-key",
                "DATABASE_URL": database.url,
                "TICKETBOLT_PORT": 0,
                "TICKETBOLT_JOB_POLL_INTERVAL": 0.05,
            }
        )
        stop, ready = asyncio.Event(), asyncio.Event()

        async def on_ready(_runtime: Runtime, _runner: web.AppRunner) -> None:
            ready.set()

        server = asyncio.create_task(
            serve(settings, stop=stop, on_ready=on_ready, search_path=database.search_path)
        )
        try:
            await asyncio.wait_for(ready.wait(), 30)
            await eventually(lambda: slack.socket.connected, what="the Socket Mode connection")
            ts = await slack.user_posts(customer, channel, "Where is my order?")
            reaction = await slack.user_reacts(agent, channel, ts, "ticket")
            assert reaction is not None
            assert ("socket-mode", 200) == (reaction.url, reaction.status)
            envelope = json.loads(reaction.request_body)["payload"]
            retry = await slack.deliver(envelope, retry_num=1)
            assert 200 == retry.status
            await eventually(lambda: len(gorgias.tickets) == 1, what="the ticket")
            await eventually(
                lambda: any(
                    m.thread_ts == ts and m.user == slack.bot_user.id
                    for m in channel.messages.values()
                ),
                what="the thread reply",
            )
        finally:
            stop.set()
            await asyncio.wait_for(server, 30)
        assert 1 == len(gorgias.tickets)
