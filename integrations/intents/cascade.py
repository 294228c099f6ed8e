"""The intent cascade: the offline tiers first, then the cached LLM when they are unsure."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from ticketbolt.cache.layers import CacheLayer
from ticketbolt.integrations.intents.normalize import normalize
from ticketbolt.integrations.intents.offline import OfflineClassifier, Prediction
from ticketbolt.integrations.intents.tiers import TieredClassifier
from ticketbolt.integrations.llm.client import LlmClassifier, LlmError

Stage = Literal["offline", "cache", "llm"]

logger = logging.getLogger(__name__)

# The LLM's own confidence under which its answer is a guess, like an offline one under the
# threshold. Models state 0.8-0.95 for answers they are sure of; a stated 0.3 (an `other` that
# means "no idea", say) is not a decision to act on.
LLM_THRESHOLD = 0.6


@dataclass(frozen=True)
class Decision:
    """The chosen intent, its confidence, the stage that decided, and whether it is a guess.

    `uncertain` is set when nothing confident was available: every offline tier was under its
    threshold and the LLM was not configured, failed, or gave a confidence under
    `LLM_THRESHOLD`. The assistant then asks the customer which of `candidates` (the offline
    tiers' likeliest intents, best first) they mean, instead of acting on a guess. `tier` is
    the offline tier that answered (the last one asked when the decision went further).
    """

    intent: str
    confidence: float
    stage: Stage
    uncertain: bool = False
    tier: int = 1
    candidates: tuple[tuple[str, float], ...] = ()


# Recent messages' offline predictions, by exact text: customers repeat "where is my order?"
# often, and a prediction is a function of the text and the fitted model alone.
RECENT_PREDICTIONS = 4096


@functools.cache
def _classifier_thread() -> ThreadPoolExecutor:
    """One thread for every offline classification of this process: tier 2's encoder releases
    the GIL for its milliseconds, so acknowledgements keep being served meanwhile, and one
    thread means the classifiers' row caches are never filled from two threads at once."""
    return ThreadPoolExecutor(1, thread_name_prefix="ticketbolt-classify")


class IntentCascade:
    """offline tier 1 ≥ its threshold → tier 1; else tier 2 (when installed) ≥ its threshold →
    tier 2; else cache → LLM (cached on success); else the offline guess, flagged uncertain.

    Only valid LLM answers are cached: failures and refusals raise `LlmError` and fall back to
    the offline guess, so the next identical message asks the LLM again. An LLM answer (fresh
    or cached) under `llm_threshold` is returned flagged uncertain.
    """

    def __init__(
        self,
        offline: TieredClassifier | OfflineClassifier,
        llm: LlmClassifier | None,
        layer: CacheLayer,
        threshold: float | None = None,
        llm_threshold: float = LLM_THRESHOLD,
    ):
        """`threshold`, when given, replaces every tier's fitted threshold."""
        if isinstance(offline, OfflineClassifier):
            offline = TieredClassifier([offline])
        self.offline = offline
        self._llm = llm
        self._layer = layer
        self.threshold = threshold
        self.llm_threshold = llm_threshold
        self._recent: OrderedDict[tuple[str, float | None], Prediction] = OrderedDict()

    def cache_key(self, text: str) -> str | None:
        """The intent-layer key of a message, or None without an LLM (nothing is cached then)."""
        if self._llm is None:
            return None
        return self._layer.key(
            normalize(text),
            self._llm.model,
            self._llm.prompt_version,
            self._llm.prompt_hash,
            self._llm.intents.version,
        )

    async def offline_prediction(self, text: str) -> Prediction:
        """The offline tiers' answer, computed off the event loop and kept for repeats."""
        key = (text, self.threshold)
        prediction = self._recent.get(key)
        if prediction is not None:
            self._recent.move_to_end(key)
            return prediction
        prediction = await asyncio.get_running_loop().run_in_executor(
            _classifier_thread(), self.offline.classify, text, self.threshold
        )
        self._recent[key] = prediction
        if len(self._recent) > RECENT_PREDICTIONS:
            self._recent.popitem(last=False)
        return prediction

    async def decide(self, text: str) -> Decision:
        prediction = await self.offline_prediction(text)
        offline = Decision(
            prediction.intent,
            prediction.confidence,
            "offline",
            prediction.uncertain,
            prediction.tier,
            prediction.candidates,
        )
        if not prediction.uncertain:
            return offline
        guess = offline
        key = self.cache_key(text)
        if self._llm is None or key is None:
            return guess
        cached = await self._layer.get_json(key)
        if isinstance(cached, dict) and cached.get("intent") in self._llm.intents.labels:
            confidence = float(cached.get("confidence", 0.0))
            return dataclasses.replace(
                guess,
                intent=str(cached["intent"]),
                confidence=confidence,
                stage="cache",
                uncertain=confidence < self.llm_threshold,
            )
        try:
            answer = await self._llm.classify(normalize(text))
        except LlmError as error:
            logger.warning("LLM classification failed, using the offline guess: %s", error)
            return guess
        await self._layer.set_json(
            key,
            {"intent": answer.intent, "confidence": answer.confidence},
            tokens=answer.usage.total_tokens,
        )
        return dataclasses.replace(
            guess,
            intent=answer.intent,
            confidence=answer.confidence,
            stage="llm",
            uncertain=answer.confidence < self.llm_threshold,
        )
