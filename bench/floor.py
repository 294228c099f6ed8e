"""The floor for `bench ingest`: a bare Bolt `AsyncApp` on aiohttp whose listener does nothing.

`python -m ticketbolt.bench.floor` serves `/slack/events` on TICKETBOLT_HOST:TICKETBOLT_PORT with
the same request signing (SLACK_SIGNING_SECRET) and `process_before_response=True` as the service,
and a static `authorize` so no request waits on Slack; `/readyz` answers 200 once it listens."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult


def build_floor(signing_secret: str) -> AsyncApp:
    async def authorize(enterprise_id: Any, team_id: Any, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token="xoxb-floor",
            bot_user_id="U0BOT",
            bot_id="B0BOT",
        )

    app = AsyncApp(
        signing_secret=signing_secret,
        process_before_response=True,
        authorize=authorize,
        logger=logging.getLogger("slack_bolt"),
    )

    @app.event("reaction_added")
    async def nothing() -> None:
        return None

    return app


async def serve() -> None:
    bolt = build_floor(os.environ["SLACK_SIGNING_SECRET"])

    async def events(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def ready(_: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.add_routes([web.post("/slack/events", events), web.get("/readyz", ready)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = int(os.environ.get("TICKETBOLT_PORT", "3001"))
    await web.TCPSite(runner, os.environ.get("TICKETBOLT_HOST", "127.0.0.1"), port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve())
