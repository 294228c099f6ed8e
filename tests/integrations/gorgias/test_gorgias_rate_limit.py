"""Client-side rate limiting keeps under the emulator's leaky bucket: no 429 is ever served."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from ticketbolt.integrations.gorgias import GorgiasClient, GorgiasRateLimited, build_http_client
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator
from ticketbolt.integrations.resilience import LocalLeakyBucket, RedisLeakyBucket

USERNAME, API_KEY = "api@example.com", "emulator-key"
CAPACITY, WINDOW = 20, 1.0


async def hammer(client: GorgiasClient, requests: int) -> None:
    await asyncio.gather(*(client.get_account() for _ in range(requests)))


async def test_local_bucket_serves_no_429() -> None:
    """100 concurrent requests through one client with a matching bucket draw no 429."""
    async with (
        GorgiasEmulator(username=USERNAME, api_key=API_KEY, rate_limit=(CAPACITY, WINDOW)) as emu,
        build_http_client(emu.base_url, USERNAME, API_KEY) as http,
    ):
        client = GorgiasClient(http, limiter=LocalLeakyBucket(CAPACITY, WINDOW), max_attempts=1)
        await hammer(client, 100)

    assert (0, 100) == (emu.rate_limited, emu.count("GET", "/api/account", status=200))
    assert client.rate_limit is not None
    assert CAPACITY == client.rate_limit.limit


async def test_without_a_limiter_the_emulator_does_throttle() -> None:
    """The check above can fail: without a limiter the same burst is answered with 429s."""
    async with (
        GorgiasEmulator(username=USERNAME, api_key=API_KEY, rate_limit=(CAPACITY, WINDOW)) as emu,
        build_http_client(emu.base_url, USERNAME, API_KEY) as http,
    ):
        client = GorgiasClient(http, max_attempts=1)
        calls = (client.get_account() for _ in range(60))
        results = await asyncio.gather(*calls, return_exceptions=True)

    refused = sum(isinstance(result, GorgiasRateLimited) for result in results)
    assert emu.rate_limited == refused > 0


@pytest.mark.redis
async def test_two_processes_share_one_redis_bucket(redis_client: Redis, unique: str) -> None:
    """Two clients, each with its own RedisLeakyBucket on one key, together draw no 429."""
    key = f"ticketbolt:test:gorgias-bucket:{unique}"
    async with (
        GorgiasEmulator(username=USERNAME, api_key=API_KEY, rate_limit=(CAPACITY, WINDOW)) as emu,
        build_http_client(emu.base_url, USERNAME, API_KEY) as http_a,
        build_http_client(emu.base_url, USERNAME, API_KEY) as http_b,
    ):
        limiters = [RedisLeakyBucket(redis_client, key, CAPACITY, WINDOW) for _ in range(2)]
        clients = [
            GorgiasClient(http, limiter=limiter, max_attempts=1)
            for http, limiter in zip((http_a, http_b), limiters, strict=True)
        ]
        await asyncio.gather(*(hammer(client, 40) for client in clients))

    assert (0, 80) == (emu.rate_limited, emu.count("GET", "/api/account", status=200))


async def test_no_rate_limit_header_means_no_usage(http: httpx.AsyncClient) -> None:
    """Without a limit on the emulator there is no header, and the client reports None."""
    client = GorgiasClient(http)

    await client.get_account()

    assert client.rate_limit is None
