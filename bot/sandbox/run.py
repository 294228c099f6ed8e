"""`ticketbolt run` without Slack credentials: the real service against in-process emulators."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from ticketbolt.bot.container import Runtime
from ticketbolt.bot.sandbox.web import Sandbox, sandbox_routes
from ticketbolt.bot.serve import serve, stop_on_signals
from ticketbolt.bot.settings import Settings
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.seed import seed_demo

GORGIAS_USER, GORGIAS_KEY = "sandbox@ticketbolt.example", "sandbox-key"
# A short conversation to react to at once, so the page is never empty.
SEED_MESSAGES = (
    ("bob", "support", "Hi! My order #1042 arrived with a cracked screen. Can I get a new one?"),
    ("alice", "support", "Sorry to hear that, Bob. Let me look into it."),
    ("bob", "support", "Also, I was charged twice for the same order."),
    ("alice", "general", "Reminder: react 🎫 on a customer message to open a ticket."),
    ("alice", "orders", "Every message a customer posts here becomes a ticket (auto mode)."),
)
# The sandbox's channels file: one channel in `auto` mode (docs/configuration.md).
AUTO_CHANNEL = "orders"


@dataclass(frozen=True)
class RunningSandbox:
    """What `on_ready` receives: the page's URL and the emulators behind it."""

    url: str
    runtime: Runtime
    slack: SlackEmulator
    gorgias: GorgiasEmulator


def self_url(host: str, port: int) -> str:
    """How the process reaches itself (a wildcard bind is reachable on loopback)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104  # compared, not bound
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def free_port(host: str) -> int:
    """An unused port, so the emulator's URLs are known before the server binds it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def sandbox_settings(
    settings: Settings,
    *,
    port: int,
    slack: SlackEmulator,
    gorgias: GorgiasEmulator,
    database_path: Path,
    channels_path: Path | None = None,
    agents: list[str] | None = None,
) -> Settings:
    """The operator's settings with every external system replaced by an in-process one, and
    the emulated workspace's own agents and channels file."""
    return settings.model_copy(
        update={
            "channels_path": channels_path,
            "agents": agents or [],
            "slack_bot_token": SecretStr(slack.bot_token),
            "slack_signing_secret": SecretStr(slack.signing_secret),
            "slack_app_token": None,
            "slack_api_url": slack.api_url,
            "gorgias_account": None,
            "gorgias_base_url": gorgias.base_url,
            "gorgias_username": GORGIAS_USER,
            "gorgias_api_key": SecretStr(GORGIAS_KEY),
            "gorgias_webhook_token": None,
            # The emulated workspace lives in memory; a database outliving it would hold links and
            # queued jobs for tickets that no longer exist, so each run starts from an empty file.
            "database_url": f"sqlite+aiosqlite:///{database_path}",
            "redis_url": None,
            "openai_api_key": None,
            "port": port,
        }
    )


def banner(url: str) -> str:
    return (
        f"ticketbolt sandbox: open {url} (emulated Slack and Gorgias; nothing leaves this "
        "machine). To connect a real workspace, see docs/slack-setup.md."
    )


def seed_triage(
    slack: SlackEmulator, gorgias: GorgiasEmulator, ids: dict[str, str], folder: Path
) -> Path:
    """An `auto` channel, its channels file, and a Gorgias user for the agent so that her 🙋
    and "Take it" assign tickets to her. The channels file's path."""
    ids[AUTO_CHANNEL] = slack.add_channel(AUTO_CHANNEL, members=[ids["alice"], ids["bob"]]).id
    alice = slack.state.users[ids["alice"]]
    gorgias.state.add_user(alice.real_name, alice.email or "")
    path = folder / "channels.yml"
    path.write_text(
        f"channels:\n  {ids[AUTO_CHANNEL]}: {{mode: auto, tags: [{AUTO_CHANNEL}]}}\n",
        encoding="utf-8",
    )
    return path


async def seed_conversation(slack: SlackEmulator, ids: dict[str, str]) -> None:
    """Post the example messages through the signed Events API path, like any visitor's."""
    for person, channel, text in SEED_MESSAGES:
        await slack.user_posts(ids[person], ids[channel], text)


class Lifecycle:
    """Stops the sandbox in order: the worker first, while the emulated Slack it calls is still
    served by the same application, then the server.

    `serve` stops the server and its worker together on one event, so the sandbox runs its own
    worker and holds the server's event until the worker has finished its jobs.
    """

    def __init__(self, requested: asyncio.Event) -> None:
        self.requested = requested  # the visitor's Ctrl-C, SIGTERM, or the caller's `stop`
        self.server_stop = asyncio.Event()
        self._worker_stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, runtime: Runtime, slack: SlackEmulator) -> None:
        # `serve` pointed the signals at `server_stop`; the orderly path starts from `requested`.
        stop_on_signals(self.requested)
        worker = asyncio.create_task(runtime.worker().run(self._worker_stop))
        self._tasks = [worker, asyncio.create_task(self._stop_in_order(worker, slack))]

    async def _stop_in_order(self, worker: asyncio.Task[None], slack: SlackEmulator) -> None:
        try:
            await self.requested.wait()
            self._worker_stop.set()
            await worker
            await slack.drain()
        finally:
            self.server_stop.set()

    async def wait(self) -> None:
        """Re-raise whatever ended the worker abnormally."""
        await asyncio.gather(*self._tasks)

    async def cancel(self) -> None:
        """After a failed start-up: nothing may outlive the runtime the worker used."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def run_sandbox(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[RunningSandbox], Awaitable[None]] | None = None,
) -> int:
    """Serve the sandbox until SIGINT/SIGTERM (or `stop`); prints its URL once it answers."""
    lifecycle = Lifecycle(stop or asyncio.Event())
    # Installed before the slow start-up, so an early Ctrl-C still ends in a clean shutdown.
    stop_on_signals(lifecycle.server_stop)
    if "log_level" not in settings.model_fields_set:
        # The visitor's terminal shows the one line with the URL, then only what goes wrong.
        logging.getLogger().setLevel(logging.WARNING)
    port = settings.port or free_port(settings.host)
    url = self_url(settings.host, port)
    # The emulated Slack is served by the service's own application, on the same port.
    slack = SlackEmulator(secrets.token_hex(16), bot_token=f"xoxb-sandbox-{secrets.token_hex(12)}")
    slack.base_url, slack.events_url = url, f"{url}slack/events"
    ids = seed_demo(slack)
    with tempfile.TemporaryDirectory(prefix="ticketbolt-sandbox-") as tmp:
        async with GorgiasEmulator(
            rate_limit=None, username=GORGIAS_USER, api_key=GORGIAS_KEY
        ) as gorgias:
            config = sandbox_settings(
                settings,
                port=port,
                slack=slack,
                gorgias=gorgias,
                database_path=Path(tmp) / "sandbox.db",
                channels_path=seed_triage(slack, gorgias, ids, Path(tmp)),
                agents=[ids["alice"]],
            )
            sandbox = Sandbox(slack, gorgias, ids, config)

            async def ready(runtime: Runtime, _: web.AppRunner) -> None:
                if lifecycle.server_stop.is_set():
                    return  # interrupted while starting: nothing to show
                lifecycle.start(runtime, slack)
                await seed_conversation(slack, ids)
                print(banner(url), flush=True)
                if on_ready is not None:
                    await on_ready(RunningSandbox(url, runtime, slack, gorgias))

            try:
                await serve(
                    config,
                    stop=lifecycle.server_stop,
                    on_ready=ready,
                    with_worker=False,
                    extra_routes=[*slack.routes(), *sandbox_routes(sandbox)],
                    sandbox=True,
                )
                await lifecycle.wait()
            finally:
                await lifecycle.cancel()
                await slack.aclose()
    return 0
