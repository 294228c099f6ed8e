"""Fixtures for the LLM emulator and an openai client pointed at it (imported by conftests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from ticketbolt.integrations.llm.emulator import LlmEmulator

API_KEY = "test-key"


@pytest.fixture
async def emulator() -> AsyncIterator[LlmEmulator]:
    """The OpenAI-compatible emulator on a free loopback port."""
    async with LlmEmulator(api_key=API_KEY) as running:
        yield running


@pytest.fixture
async def llm_client(emulator: LlmEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    """A real AsyncOpenAI client on the emulator, with one retry as the composition root sets."""
    client = openai.AsyncOpenAI(
        api_key=API_KEY, base_url=emulator.base_url, max_retries=1, timeout=5.0
    )
    try:
        yield client
    finally:
        await client.close()
