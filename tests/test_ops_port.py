"""Operations apart: with TICKETBOLT_METRICS_PORT, /metrics and readiness details leave the
public port for a loopback one; the public /readyz never shows details."""

from __future__ import annotations

import aiohttp

from tests.support.db import Database
from tests.support.process import free_port
from tests.support.stack import emulators, running_app
from ticketbolt.bot.serve import start_ops


async def test_metrics_and_details_move_to_the_operations_port(database: Database) -> None:
    """Public: /metrics is 404 and /readyz has states only. Operations port: both, in full."""
    port = free_port()
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, TICKETBOLT_METRICS_PORT=port) as stack,
        aiohttp.ClientSession() as http,
    ):
        ops = await start_ops(stack.runtime)
        assert ops is not None
        try:
            async with http.get(f"{stack.url}/metrics") as public_metrics:
                assert 404 == public_metrics.status
            async with http.get(f"{stack.url}/readyz") as public_ready:
                public = await public_ready.json()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as ops_metrics:
                text = await ops_metrics.text()
            async with http.get(f"http://127.0.0.1:{port}/readyz") as ops_ready:
                detailed = await ops_ready.json()
        finally:
            await ops.cleanup()
    assert 200 == ops_metrics.status
    assert 'ticketbolt_queue_jobs{state="queued"}' in text
    slack_public = next(d for d in public["dependencies"] if d["name"] == "slack")
    slack_detailed = next(d for d in detailed["dependencies"] if d["name"] == "slack")
    assert ("ok", "ok") == (slack_public["state"], slack_public["detail"])
    assert slack_detailed["detail"].startswith("team ")  # the workspace, only on loopback


async def test_without_an_operations_port_metrics_stay_public_and_readyz_is_terse(
    database: Database,
) -> None:
    """The default keeps /metrics where Prometheus finds it; /readyz still shows no details."""
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias) as stack,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{stack.url}/metrics") as metrics:
            assert 200 == metrics.status
        async with http.get(f"{stack.url}/readyz") as ready:
            body = await ready.json()
        assert await start_ops(stack.runtime) is None
    details = {d["name"]: d["detail"] for d in body["dependencies"]}
    assert {d["name"]: d["state"] for d in body["dependencies"]} == details
