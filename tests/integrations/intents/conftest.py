"""Fixtures for the intent tests: the encoder and the default classifier, built once per session."""

from __future__ import annotations

import pytest

from tests.integrations.llm.emulated import emulator, llm_client
from ticketbolt.integrations.intents.config import IntentsConfig, load_intents
from ticketbolt.integrations.intents.offline import Encoder, OfflineClassifier, load_encoder

__all__ = ["emulator", "llm_client"]  # the cascade tests talk to the LLM emulator too


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The wordllama encoder, loaded from the installed wheel (no network)."""
    return load_encoder()


@pytest.fixture(scope="session")
def default_intents() -> IntentsConfig:
    return load_intents()


@pytest.fixture(scope="session")
def classifier(encoder: Encoder, default_intents: IntentsConfig) -> OfflineClassifier:
    """The offline classifier fitted on the built-in intents."""
    return OfflineClassifier.from_config(encoder, default_intents)
