"""The summary writer's parts from settings: the LLM summarizer, its breaker and cache layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketbolt.bot.settings import Settings
from ticketbolt.cache.base import Cache
from ticketbolt.cache.layers import CacheLayer
from ticketbolt.handlers.summary import Summaries
from ticketbolt.integrations.llm.summary import LlmSummarizer
from ticketbolt.integrations.resilience import CircuitBreaker

if TYPE_CHECKING:  # the client is built, and openai imported, only when an LLM is configured
    import openai


def summary_service(
    settings: Settings, cache: Cache, llm: openai.AsyncOpenAI | None
) -> Summaries | None:
    """None when TICKETBOLT_SUMMARIES is off; quoted summaries only without an LLM."""
    if not settings.summaries:
        return None
    writer = None
    if llm is not None:
        breaker = CircuitBreaker(
            name="llm-summaries",
            failure_threshold=settings.breaker_failures,
            reset_timeout=settings.breaker_reset_seconds,
        )
        writer = LlmSummarizer(llm, settings.llm_model, breaker, budget=settings.summary_timeout)
    layer = CacheLayer(
        cache, "summaries", settings.cache_ttl_summaries, settings.llm_price_per_1k_tokens
    )
    return Summaries(writer, layer if writer else None, max_chars=settings.summary_max_chars)
