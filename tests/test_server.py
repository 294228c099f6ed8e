"""The service over real HTTP: Slack's signed requests, de-duplication, health and metrics."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import POSTGRES_URL, require_service
from tests.support.db import Database
from tests.support.proxy import TcpProxy
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.bot.db.engine import make_engine
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as running:
        yield running


async def test_signed_url_verification_is_answered(stack: Stack) -> None:
    """Slack's url_verification handshake, correctly signed, gets its challenge back."""
    delivery = await stack.slack.deliver(
        {"type": "url_verification", "challenge": "c-123", "token": "x"}
    )
    assert (200, {"challenge": "c-123"}) == (delivery.status, delivery.json())


@pytest.mark.parametrize("signature", ["wrong_secret", "stale", "missing"])
async def test_bad_or_stale_signatures_are_rejected(stack: Stack, signature: str) -> None:
    """A request signed with another secret, five minutes old, or unsigned gets 401."""
    delivery = await stack.slack.deliver(
        {"type": "url_verification", "challenge": "c"},
        signature=signature,  # type: ignore[arg-type]
    )
    assert 401 == delivery.status


async def test_retried_event_reaches_a_listener_once(stack: Stack) -> None:
    """One event_id delivered four times (retries 1–3) is processed once; each delivery gets 200."""
    slack = stack.slack
    agent = slack.state.add_user("agent")
    channel = slack.state.add_channel("support", members=[agent.id, slack.bot_user.id])
    ts = await slack.user_posts(agent, channel, "printer on fire")
    envelope = slack.make_event_envelope(
        {
            "type": "reaction_added",
            "user": agent.id,
            "reaction": "white_check_mark",
            "item": {"type": "message", "channel": channel.id, "ts": ts},
            "item_user": agent.id,
            "event_ts": ts,
        },
        event_id="EvRETRY1",
    )
    statuses = [(await slack.deliver(envelope, retry_num=n or None)).status for n in range(4)]
    assert [200, 200, 200, 200] == statuses
    stats = await stack.runtime.queue.stats()
    assert 1 == sum(stats["by_state"].values())
    metrics = stack.runtime.metrics
    assert 3 == metrics.events_deduplicated._value.get()


async def test_event_without_listener_gets_200(stack: Stack) -> None:
    """An event nobody handles is still answered 200 (a 404 would be retried by Slack)."""
    envelope = stack.slack.make_event_envelope({"type": "channel_rename", "channel": {"id": "C1"}})
    assert 200 == (await stack.slack.deliver(envelope)).status


async def test_healthz_and_metrics(stack: Stack) -> None:
    """/healthz answers ok; /metrics exposes request and de-duplication counters."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.url}/healthz") as response:
            assert (200, {"status": "ok"}) == (response.status, await response.json())
        await stack.slack.deliver({"type": "url_verification", "challenge": "c"})
        async with http.get(f"{stack.url}/metrics") as response:
            text = await response.text()
    assert 200 == response.status
    assert 'ticketbolt_http_requests_total{route="/slack/events",status="200"}' in text
    assert "ticketbolt_slack_events_deduplicated_total" in text


async def test_admin_stats_requires_the_bearer_token(database: Database) -> None:
    """/admin/stats answers 401 without or with a wrong token, and JSON with the right one."""
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, TICKETBOLT_ADMIN_TOKEN="s3cret-admin") as stack,
        aiohttp.ClientSession() as http,
    ):
        url = f"{stack.url}/admin/stats"
        async with http.get(url) as missing:
            assert 401 == missing.status
        async with http.get(url, headers={"Authorization": "Bearer nope"}) as wrong:
            assert 401 == wrong.status
        async with http.get(url, headers={"Authorization": "Bearer s3cret-admin"}) as ok:
            body = await ok.json()
    assert {"version", "uptime_seconds", "queue", "tickets", "cache", "circuits"} <= set(body)


async def test_readyz_follows_the_database(tmp_path: Path, unique: str) -> None:
    """/readyz is 503 naming the database while PostgreSQL is unreachable, 200 when it is back."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    schema_db = Database(url, make_engine(url), None, None)  # type: ignore[arg-type]
    await upgrade(schema_db.engine)
    await schema_db.engine.dispose()
    try:
        async with (
            emulators() as (slack, gorgias),
            running_app(schema_db, slack, gorgias, worker=False) as stack,
            aiohttp.ClientSession() as http,
        ):

            async def ready() -> tuple[int, dict[str, object]]:
                async with http.get(f"{stack.url}/readyz") as response:
                    return response.status, await response.json()

            assert 200 == (await ready())[0]
            await proxy.cut()
            stack.runtime.health._last = None  # a fresh check, not the few-second cached one
            status, body = await ready()
            database = next(d for d in body["dependencies"] if d["name"] == "database")  # type: ignore[union-attr]
            assert (503, False) == (status, database["ok"])
            await proxy.start()

            async def recovered() -> bool:
                stack.runtime.health._last = None
                return (await ready())[0] == 200

            await eventually(recovered, what="readiness after the database returned")
    finally:
        await proxy.cut()


def test_invalid_setting_is_named() -> None:
    """A malformed value fails validation with the variable's name in the message."""
    with pytest.raises(Exception, match="TICKETBOLT_PORT"):
        load_settings({"TICKETBOLT_PORT": "eighty"})
    assert json.dumps  # keep the json import meaningful for readers of failures


async def test_redis_down_keeps_the_service_ready_on_the_memory_cache(database: Database) -> None:
    """With REDIS_URL unreachable the service is ready, reports the cache degraded, and works."""
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, REDIS_URL="redis://127.0.0.1:1/0") as stack,
        aiohttp.ClientSession() as http,
    ):
        customer = slack.state.add_user("sam")
        dm = slack.state.open_dm(customer.id)
        await slack.user_posts(customer, dm, "hello, what is your return policy?")
        await eventually(
            lambda: any(m.user == slack.bot_user.id for m in dm.messages.values()),
            what="an answer served while Redis is down",
        )
        async with http.get(f"{stack.url}/readyz") as response:
            body = await response.json()
    cache = next(d for d in body["dependencies"] if d["name"] == "cache")
    assert (200, "degraded") == (response.status, cache["state"])


async def test_oversized_request_bodies_are_refused(stack: Stack) -> None:
    """A body over TICKETBOLT_MAX_BODY_BYTES is refused with 413 before anything parses it."""
    async with aiohttp.ClientSession() as http:
        body = io.BytesIO(b"x" * 2_000_000)
        async with http.post(f"{stack.url}/slack/events", data=body) as response:
            assert 413 == response.status
