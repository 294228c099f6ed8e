"""Builds the assistant's parts from settings: encoder, classifiers, knowledge base, LLM, caches."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ticketbolt.bot.settings import Settings
from ticketbolt.cache.base import Cache
from ticketbolt.cache.layers import CacheLayers
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.handlers.assistant_engine import AssistantEngine
from ticketbolt.integrations.intents.cascade import IntentCascade
from ticketbolt.integrations.intents.config import load_intents
from ticketbolt.integrations.intents.encoders import (
    Encoder,
    EncoderError,
    load_tier2,
    load_wordllama,
)
from ticketbolt.integrations.intents.kb import KnowledgeBase
from ticketbolt.integrations.intents.tiers import TieredClassifier
from ticketbolt.integrations.llm.client import LlmClassifier, LlmWriter

if TYPE_CHECKING:  # imported only when an LLM is configured: ~14 MB and 1.5 s at start
    import openai


def model_cache_dir(settings: Settings) -> Path:
    """Where the fitted intent model is kept between starts: the setting, else the user cache."""
    if settings.model_cache_dir is not None:
        return settings.model_cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ticketbolt"


class AssistantSetupError(Exception):
    """The intents file or knowledge base cannot be used; the message names the setting."""


def llm_client(settings: Settings) -> openai.AsyncOpenAI | None:
    if settings.openai_api_key is None:
        return None
    import openai  # noqa: PLC0415  (see the TYPE_CHECKING import above)

    return openai.AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout,
        max_retries=2,
    )


def build_engine(
    settings: Settings, cache: Cache, llm: openai.AsyncOpenAI | None
) -> AssistantEngine:
    try:
        intents = load_intents(settings.intents_path)
    except (OSError, ValueError) as exc:
        raise AssistantSetupError(f"TICKETBOLT_INTENTS: {exc}") from exc
    encoder = load_wordllama()
    try:
        # Unset: the pinned model when ticketbolt[accurate] is installed, else tier 1 alone.
        tier2, tier2_status = load_tier2(settings.encoder_model or "")
    except EncoderError as exc:
        raise AssistantSetupError(str(exc)) from exc
    encoders: list[Encoder] = [encoder] if tier2 is None else [encoder, tier2]
    try:
        offline = TieredClassifier.from_config(
            encoders,
            intents,
            threshold=settings.intent_threshold,
            precision=settings.intent_precision,
            cache_dir=model_cache_dir(settings),
            tier2=tier2_status,
        )
    except OSError:  # an unwritable cache only costs a refit at each start
        offline = TieredClassifier.from_config(
            encoders,
            intents,
            threshold=settings.intent_threshold,
            precision=settings.intent_precision,
            tier2=tier2_status,
        )
    try:
        kb = KnowledgeBase.from_dir(encoder, settings.kb_dir)
    except (OSError, ValueError) as exc:
        raise AssistantSetupError(f"TICKETBOLT_KB_DIR: {exc}") from exc
    missing = {i.kb_topic for i in intents.intents if i.kb_topic} - kb.topics
    if missing:
        raise AssistantSetupError(
            f"TICKETBOLT_KB_DIR: no knowledge-base file for topics {sorted(missing)} "
            "named by TICKETBOLT_INTENTS"
        )
    layers = CacheLayers(
        cache,
        intents_ttl=settings.cache_ttl_intents,
        kb_ttl=settings.cache_ttl_kb,
        responses_ttl=settings.cache_ttl_responses,
        price_per_1k_tokens=settings.llm_price_per_1k_tokens,
    )
    classifier = LlmClassifier(llm, settings.llm_model, intents) if llm else None
    writer = LlmWriter(llm, settings.llm_model) if llm else None
    cascade = IntentCascade(offline, classifier, layers.intents, settings.intent_threshold)
    return AssistantEngine(cascade, intents, kb, layers, writer)


@asynccontextmanager
async def build_cascade(settings: Settings) -> AsyncIterator[IntentCascade]:
    """The cascade alone, for `ticketbolt classify` (in-process cache only)."""
    async with AsyncExitStack() as stack:
        llm = llm_client(settings)
        if llm is not None:
            stack.push_async_callback(llm.close)
        yield build_engine(settings, MemoryCache(), llm).cascade
