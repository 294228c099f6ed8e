"""Fixtures for the intent tests: the encoder and the default classifier, built once per session."""

from __future__ import annotations

import pytest

from tests.integrations.llm.emulated import emulator, llm_client
from ticketbolt.integrations.intents.config import IntentsConfig, load_intents
from ticketbolt.integrations.intents.encoders import (
    INSTALL_HINT,
    OnnxEncoder,
    load_onnx,
    pinned_model_path,
    tier2_installed,
)
from ticketbolt.integrations.intents.model_cache import classifier_from_config
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
    return classifier_from_config(encoder, default_intents)


@pytest.fixture(scope="session")
def tier2() -> OnnxEncoder:
    """The tier-2 encoder (ticketbolt[accurate], part of the dev extras), loaded once."""
    if not tier2_installed() or pinned_model_path() is None:
        pytest.skip(f"tier 2 is not installed: {INSTALL_HINT} (the dev extras include it)")
    return load_onnx()
