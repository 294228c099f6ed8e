"""A Redis that stops answering (SIGSTOP, sockets open) degrades the service, never stops it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.db import Database
from tests.support.process import free_port
from tests.support.stack import emulators, eventually, running_app


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own, which it may freeze without disturbing others."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian package 'redis-server')"
        if os.environ.get("TICKETBOLT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and TICKETBOLT_REQUIRE_SERVICES=1 demands it")
        pytest.skip(message)
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


async def _ready(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as response:
        body = await response.json()
        cache = next(d for d in body["dependencies"] if d["name"] == "cache")
        return response.status, cache


async def test_frozen_redis_is_degraded_and_dms_are_still_answered(
    database: Database, own_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    """Frozen: /readyz answers 200 with the cache "degraded", and a customer's DM is acked and
    answered from the in-process cache. Thawed: the cache is Redis again."""
    redis_url, redis = own_redis
    async with (
        emulators() as (slack, gorgias),
        running_app(database, slack, gorgias, REDIS_URL=redis_url) as stack,
    ):
        await eventually(lambda: _state(stack.url, "ok"), what="the cache on Redis")
        redis.send_signal(signal.SIGSTOP)
        await eventually(lambda: _state(stack.url, "degraded"), what="the cache degraded")
        status, cache = await _ready(stack.url)
        assert (200, "degraded") == (status, cache["state"])
        customer = slack.state.add_user("sam", email="sam@shop.example")
        dm = slack.state.open_dm(customer.id)
        await slack.user_posts(customer, dm, "What is your return policy?")
        assert [200] == [d.status for d in slack.deliveries[-1:]]
        bot = slack.bot_user.id
        await eventually(
            lambda: any(m.user == bot for m in dm.messages.values()), what="the answer"
        )
        redis.send_signal(signal.SIGCONT)
        await eventually(lambda: _state(stack.url, "ok"), timeout=20, what="Redis back in use")
        assert "redis" == stack.runtime.cache.backend


async def _state(url: str, expected: str) -> bool:
    return expected == (await _ready(url))[1]["state"]
