"""Fixtures for the Gorgias client tests: a loopback emulator and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ticketbolt.integrations.gorgias import GorgiasClient, build_http_client
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator

USERNAME = "api@example.com"
API_KEY = "emulator-key"


@pytest.fixture
async def emulator() -> AsyncIterator[GorgiasEmulator]:
    """A Gorgias emulator without rate limit or faults, on an ephemeral loopback port."""
    async with GorgiasEmulator(username=USERNAME, api_key=API_KEY, rate_limit=None) as emu:
        yield emu


@pytest.fixture
async def http(emulator: GorgiasEmulator) -> AsyncIterator[httpx.AsyncClient]:
    """The pooled httpx client for the emulator, as production builds it."""
    async with build_http_client(emulator.base_url, USERNAME, API_KEY, timeout=5.0) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient) -> GorgiasClient:
    """A client with tiny backoff so retries do not slow the suite."""
    return GorgiasClient(http, backoff_base=0.001, backoff_max=0.01)
