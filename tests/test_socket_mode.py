"""Socket Mode: with SLACK_APP_TOKEN the app connects out over a WebSocket, no public URL needed."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from tests.support.db import Database
from tests.support.process import free_port
from tests.support.stack import BOT_TOKEN, SIGNING_SECRET, eventually
from ticketbolt.bot.container import Runtime
from ticketbolt.bot.logs import configure_logging
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.serve import serve
from ticketbolt.bot.settings import load_settings
from ticketbolt.bot.socket_watch import SocketWatch
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.slack.emulator import SlackEmulator

APP_TOKEN = "xapp-1-test-app-token"
# Short enough that a replaced socket shows within the tests' waits (slack_sdk's default is 10),
# long enough that a busy test machine does not miss a pong on a healthy socket.
PING_SECONDS = 2.0


@dataclass
class SocketApp:
    """`ticketbolt run` in Socket Mode, and its operations port for /readyz and /metrics."""

    runtime: Runtime
    url: str  # the operations port: /readyz with details, and /metrics
    http: aiohttp.ClientSession

    async def socket_row(self) -> dict[str, Any]:
        """The `slack_socket` dependency of the detailed /readyz, with the overall status."""
        async with self.http.get(f"{self.url}/readyz") as response:
            body = await response.json()
        row = next(d for d in body["dependencies"] if d["name"] == "slack_socket")
        return {**row, "status": body["status"]}

    async def metric(self, name: str, labels: dict[str, str]) -> float | None:
        """One sample of /metrics, or None when it is not exported."""
        async with self.http.get(f"{self.url}/metrics") as response:
            text = await response.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return None


@asynccontextmanager
async def socket_mode_app(
    database: Database, slack: SlackEmulator, gorgias: GorgiasEmulator
) -> AsyncIterator[SocketApp]:
    """Run the service in Socket Mode against the emulators until the block ends."""
    ops_port = free_port()
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
            "TICKETBOLT_SOCKET_PING_SECONDS": PING_SECONDS,
            "TICKETBOLT_METRICS_PORT": ops_port,
        }
    )
    stop = asyncio.Event()
    started: asyncio.Future[tuple[Runtime, web.AppRunner]] = (
        asyncio.get_running_loop().create_future()
    )

    async def on_ready(runtime: Runtime, runner: web.AppRunner) -> None:
        started.set_result((runtime, runner))

    server = asyncio.create_task(
        serve(settings, stop=stop, on_ready=on_ready, search_path=database.search_path)
    )
    try:
        runtime, _ = await asyncio.wait_for(started, 30)
        async with aiohttp.ClientSession() as http:
            yield SocketApp(runtime, f"http://127.0.0.1:{ops_port}", http)
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)


def ticket_ids(team: str, channel: str, stamps: list[str]) -> list[str]:
    """The Gorgias `external_id` of one ticket per message, in the order `sorted` gives."""
    return sorted(f"slack:{team}:{channel}:{ts}" for ts in stamps)


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
        async with socket_mode_app(database, slack, gorgias) as app:
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
            row = await app.socket_row()
            assert ("ok", "connected; reconnects since start: 0") == (row["state"], row["detail"])
        assert 1 == len(gorgias.tickets)


async def test_dropped_socket_is_reported_then_replaced_without_losing_a_ticket(
    database: Database,
) -> None:
    """The socket drops and Slack refuses new connections for a while: /readyz shows
    `slack_socket` degraded, naming the setting, while the replica stays ready. Once Slack
    accepts again the bot reconnects, counts one `dropped` reconnect, and every acknowledged 🎫
    is exactly one ticket."""
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
    ):
        customer = slack.add_user("dana", email="dana@shop.example")
        agent = slack.add_user("alex")
        channel = slack.add_channel("support", members=[customer, agent])
        stamps: list[str] = []
        async with socket_mode_app(database, slack, gorgias) as app:
            await eventually(lambda: slack.socket.live, what="the Socket Mode connection")
            stamps.append(await slack.user_posts(customer, channel, "Where is my order?"))
            before = await slack.user_reacts(agent, channel, stamps[0], "ticket")
            assert before is not None
            assert 200 == before.status

            slack.socket.refuse()
            assert 1 == slack.socket.drop()

            async def degraded() -> bool:
                return "degraded" == (await app.socket_row())["state"]

            await eventually(degraded, what="/readyz to show the socket degraded")
            row = await app.socket_row()
            assert "ready" == row["status"]
            assert "TICKETBOLT_SOCKET_PING_SECONDS=2" in row["detail"]
            state = {"state": "reconnecting"}
            assert 1.0 == await app.metric("ticketbolt_slack_socket_state", state)

            slack.socket.accept()
            await eventually(
                lambda: slack.socket.opened >= 2 and slack.socket.live, what="a new connection"
            )

            async def ok() -> bool:
                return "ok" == (await app.socket_row())["state"]

            await eventually(ok, what="/readyz to show the socket connected again")
            stamps.append(await slack.user_posts(customer, channel, "And my refund?"))
            after = await slack.user_reacts(agent, channel, stamps[1], "ticket")
            assert after is not None
            assert 200 == after.status
            await eventually(lambda: len(gorgias.tickets) == 2, what="both tickets")
            reconnects = "ticketbolt_slack_socket_reconnects_total"
            assert 1.0 == await app.metric(reconnects, {"reason": "dropped"})
            assert 2 == slack.socket.opened
        external_ids = sorted(t["external_id"] for t in gorgias.tickets.values())
        assert ticket_ids(slack.state.team_id, channel.id, stamps) == external_ids


async def test_stalled_socket_is_replaced_and_slacks_retry_of_an_unacked_event_is_one_ticket(
    database: Database,
) -> None:
    """A socket that stays open but goes silent (no pongs, no envelopes) is replaced within the
    configured bound and counted as one `stalled` reconnect. The 🎫 sent into the silent socket
    is never acknowledged; Slack's retry over the new connection makes it one ticket, and every
    acknowledged 🎫 is exactly one ticket."""
    async with (
        SlackEmulator(
            SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN, delivery_timeout=3.0
        ) as slack,
        GorgiasEmulator(rate_limit=None) as gorgias,
    ):
        customer = slack.add_user("dana", email="dana@shop.example")
        agent = slack.add_user("alex")
        channel = slack.add_channel("support", members=[customer, agent])
        stamps: list[str] = []
        async with socket_mode_app(database, slack, gorgias) as app:
            await eventually(lambda: slack.socket.live, what="the Socket Mode connection")
            for text in ("Where is my order?", "Is it shipped?", "And my refund?"):
                stamps.append(await slack.user_posts(customer, channel, text))
            before = await slack.user_reacts(agent, channel, stamps[0], "ticket")
            assert before is not None
            assert 200 == before.status

            assert 1 == slack.socket.stall()
            unheard = await slack.user_reacts(agent, channel, stamps[1], "ticket")
            assert unheard is not None
            assert 0 == unheard.status
            await eventually(
                lambda: slack.socket.opened >= 2 and slack.socket.live,
                timeout=PING_SECONDS * 5,
                what="a new connection within the bound",
            )
            retry = await slack.deliver(json.loads(unheard.request_body)["payload"], retry_num=1)
            assert 200 == retry.status
            after = await slack.user_reacts(agent, channel, stamps[2], "ticket")
            assert after is not None
            assert 200 == after.status
            await eventually(lambda: len(gorgias.tickets) == 3, what="three tickets")
            reconnects = "ticketbolt_slack_socket_reconnects_total"
            assert 1.0 == await app.metric(reconnects, {"reason": "stalled"})
            assert 2 == slack.socket.opened
        external_ids = sorted(t["external_id"] for t in gorgias.tickets.values())
        assert ticket_ids(slack.state.team_id, channel.id, stamps) == external_ids


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The service's JSON log lines written during the test (root logging restored after)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.handlers, root.level = handlers, level


@pytest.mark.parametrize(("fault", "reason"), [("drop", "dropped"), ("stall", "stalled")])
async def test_the_watch_alone_replaces_a_dropped_or_stalled_socket(
    fault: str, reason: str, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """With slack_sdk's own reconnection turned off, the watch notices that nothing arrived for
    three pings, opens a new connection with a fresh URL, counts it once by reason, and logs
    the reconnect once, without the app token."""
    ping_seconds = 1.0
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
        aiohttp.ClientSession() as session,
    ):
        web_client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, session=session)
        client = SocketModeClient(
            APP_TOKEN,
            web_client=web_client,
            auto_reconnect_enabled=False,
            ping_interval=ping_seconds,
        )
        metrics = Metrics()
        watch = SocketWatch(metrics, ping_seconds)
        watch.attach(client)
        watching = asyncio.create_task(watch.run())
        try:
            await client.connect()  # type: ignore[no-untyped-call]
            await eventually(lambda: "connected" == watch.state, what="the first hello")
            assert 1 == getattr(slack.socket, fault)()
            await eventually(lambda: "reconnecting" == watch.state, what="the loss noticed")
            await eventually(lambda: "connected" == watch.state, what="a new connection")
            assert (2, True) == (slack.socket.opened, slack.socket.live)
            counted = metrics.registry.get_sample_value(
                "ticketbolt_slack_socket_reconnects_total", {"reason": reason}
            )
            assert (1.0, 1) == (counted, watch.reconnects)
            logged = [
                (line["reason"], line["reconnects"])
                for line in log_lines()
                if line["event"] == "slack socket reconnected"
            ]
            assert [(reason, 1)] == logged
            assert all(APP_TOKEN not in json.dumps(line) for line in log_lines())
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await client.close()  # type: ignore[no-untyped-call]


async def test_emulator_socket_faults_are_commanded_over_http() -> None:
    """`POST /emulator/socket-mode/{action}`: `stall` keeps the socket open but no longer live,
    `drop` cuts it without a close frame, `refuse` fails `apps.connections.open` until
    `accept`."""
    async with (
        SlackEmulator(SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
        aiohttp.ClientSession() as http,
    ):

        async def command(action: str) -> Any:
            async with http.post(f"{slack.base_url}emulator/socket-mode/{action}") as response:
                return await response.json()

        async def connections_open() -> Any:
            headers = {"Authorization": f"Bearer {APP_TOKEN}"}
            async with http.post(f"{slack.api_url}apps.connections.open", headers=headers) as r:
                return await r.json()

        async with http.ws_connect((await connections_open())["url"]) as ws:
            assert "hello" == (await ws.receive_json())["type"]
            assert {"ok": True, "connections": 1} == await command("stall")
            assert (True, False) == (slack.socket.connected, slack.socket.live)
            assert {"ok": True, "connections": 1} == await command("drop")
            assert WSMsgType.CLOSED == (await ws.receive()).type
        await eventually(lambda: not slack.socket.connected, what="the dropped socket gone")

        assert {"ok": True, "refusing": True} == await command("refuse")
        assert {"ok": False, "error": "internal_error"} == await connections_open()
        assert {"ok": True, "refusing": False} == await command("accept")
        assert True is (await connections_open())["ok"]
