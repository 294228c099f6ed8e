"""The whole service over real HTTP, wired to the Slack and Gorgias emulators on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.db import Database
from ticketbolt.bot.container import Runtime, open_runtime
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.serve import start_http
from ticketbolt.bot.settings import load_settings
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"


@dataclass
class Stack:
    runtime: Runtime
    slack: SlackEmulator
    gorgias: GorgiasEmulator
    url: str
    worker_stop: asyncio.Event
    worker_task: asyncio.Task[None] | None

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"


def emulator_settings(
    database_url: str, slack: SlackEmulator, gorgias: GorgiasEmulator, **extra: Any
) -> dict[str, Any]:
    """Settings that point the service at the emulators, with short waits for quick tests."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "GORGIAS_BASE_URL": gorgias.base_url,
        "GORGIAS_USERNAME": "api@example.com",
        "GORGIAS_API_KEY": "emulator-key",
        "GORGIAS_RATE_LIMIT": "1000/1",
        "DATABASE_URL": database_url,
        "TICKETBOLT_JOB_POLL_INTERVAL": 0.05,
        "TICKETBOLT_JOB_BACKOFF_BASE": 0.05,
        "TICKETBOLT_JOB_BACKOFF_MAX": 0.5,
        # Slack's real tiers would make a 200-message scenario take minutes; the tests of the
        # limiter turn it on with tiers of their own.
        "TICKETBOLT_SLACK_LIMITS": "off",
        **extra,
    }


@asynccontextmanager
async def running_app(
    db: Database,
    slack: SlackEmulator,
    gorgias: GorgiasEmulator,
    *,
    worker: bool = True,
    **extra: Any,
) -> AsyncIterator[Stack]:
    """Start the service on an ephemeral port, with its worker unless told otherwise."""
    settings = load_settings(emulator_settings(db.url, slack, gorgias, TICKETBOLT_PORT=0, **extra))
    async with open_runtime(settings, search_path=db.search_path) as runtime:
        await upgrade(runtime.engine)
        runner: web.AppRunner = await start_http(runtime, "127.0.0.1", 0)
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}"
        slack.events_url = f"{url}/slack/events"
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.worker(poll_interval=0.05).run(stop)) if worker else None
        try:
            yield Stack(runtime, slack, gorgias, url, stop, task)
        finally:
            stop.set()
            if task is not None:
                await task
            await runner.cleanup()


@asynccontextmanager
async def emulated_app(db: Database, *, worker: bool = True, **extra: Any) -> AsyncIterator[Stack]:
    """The service (`running_app`) wired to a fresh pair of Slack and Gorgias emulators."""
    async with (
        emulators() as (slack, gorgias),
        running_app(db, slack, gorgias, worker=worker, **extra) as running,
    ):
        yield running


def guarded_app(
    db: Database, admin_token: str, webhook_token: str
) -> AbstractAsyncContextManager[Stack]:
    """The service with its admin API and Gorgias webhook on behind these tokens, and no worker:
    the jobs it records stay queued for a test to see."""
    return emulated_app(
        db,
        worker=False,
        TICKETBOLT_ADMIN_TOKEN=admin_token,
        TICKETBOLT_GORGIAS_WEBHOOK_TOKEN=webhook_token,
    )


async def drained(stack: Stack) -> None:
    """Wait until the job queue has nothing queued and nothing running."""

    async def idle() -> bool:
        states = (await stack.runtime.queue.stats())["by_state"]
        return states["queued"] == 0 and states["running"] == 0

    await eventually(idle, timeout=60, what="the job queue to drain")


@asynccontextmanager
async def emulators(**gorgias_options: Any) -> AsyncIterator[tuple[SlackEmulator, GorgiasEmulator]]:
    options: dict[str, Any] = {"rate_limit": None}
    options.update(gorgias_options)
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN) as slack,
        GorgiasEmulator(**options) as gorgias,
    ):
        yield slack, gorgias


async def eventually(
    condition: Callable[[], Awaitable[bool] | bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Wait until `condition` holds, polling; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def worker_running(worker: Any) -> AsyncIterator[None]:
    """`worker` runs inside the block, and is stopped (drained) when the block ends."""
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await running
