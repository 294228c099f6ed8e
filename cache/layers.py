"""LLM cache layers over any `Cache` backend: JSON values, hashed keys and per-layer savings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ticketbolt.cache.base import Cache, CacheUnavailable

# Roughly gpt-4o-mini's blended price (classification prompts are mostly input tokens), in US
# dollars; the composition root passes the configured model's price.
DEFAULT_PRICE_PER_1K_TOKENS = 0.0003

INTENTS_TTL = 3600.0
KB_TTL = 24 * 3600.0
RESPONSES_TTL = 1800.0


def content_hash(*parts: str) -> str:
    """A short, stable digest of texts (a prompt, knowledge-base passages) for cache keys.

    Keys carry the content itself, hashed, rather than a version someone must remember to bump:
    editing a prompt or a passage changes the key at once.
    """
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


@dataclass
class LayerStats:
    """What one layer has saved: hits and misses, and the tokens the hits did not spend."""

    hits: int = 0
    misses: int = 0
    errors: int = 0
    tokens_saved: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class CacheLayer:
    """One named layer (intents, kb, responses) with its own TTL and statistics.

    Values are stored as JSON with the tokens the LLM spent producing them, so a hit can credit
    those tokens as saved. A backend that is down counts as a miss (and an error): the caller
    then asks the LLM, which is slower but correct.
    """

    def __init__(
        self,
        cache: Cache,
        name: str,
        ttl: float,
        price_per_1k_tokens: float = DEFAULT_PRICE_PER_1K_TOKENS,
    ):
        self._cache = cache
        self.name = name
        self.ttl = ttl
        self.price_per_1k_tokens = price_per_1k_tokens
        self.stats = LayerStats()

    def key(self, *parts: str) -> str:
        """A key from the (already normalised) text, the model, and hashes of what shaped the
        value: the prompt text, the intents file, the knowledge-base passages (`content_hash`).

        The parts are hashed, so customer text never appears in key names or in Redis MONITOR.
        """
        digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
        return f"llm:{self.name}:{digest}"

    async def get_json(self, key: str) -> Any | None:
        """The stored value, or None on a miss (an expired entry or an unreachable backend)."""
        try:
            raw = await self._cache.get(key)
        except CacheUnavailable:
            self.stats.errors += 1
            raw = None
        entry = _decode(raw)
        if entry is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        self.stats.tokens_saved += entry["tokens"]
        return entry["value"]

    async def set_json(self, key: str, value: Any, *, tokens: int = 0) -> None:
        """Store a successful result with the tokens it cost; a backend failure is only counted."""
        payload = json.dumps({"value": value, "tokens": tokens}, ensure_ascii=False).encode()
        try:
            await self._cache.set(key, payload, self.ttl)
        except CacheUnavailable:
            self.stats.errors += 1

    def snapshot(self) -> dict[str, float | int | str]:
        """Counters as plain numbers, for `/admin/stats`, `/ticketbolt cache` and Prometheus."""
        return {
            "layer": self.name,
            "ttl_seconds": self.ttl,
            "hits": self.stats.hits,
            "misses": self.stats.misses,
            "errors": self.stats.errors,
            "hit_rate": round(self.stats.hit_rate, 4),
            "tokens_saved": self.stats.tokens_saved,
            "cost_saved_usd": round(self.stats.tokens_saved / 1000 * self.price_per_1k_tokens, 6),
        }


def _decode(raw: bytes | None) -> dict[str, Any] | None:
    """The stored envelope, or None when absent or unreadable (a foreign or truncated value)."""
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or "value" not in entry:
        return None
    tokens = entry.get("tokens")
    entry["tokens"] = tokens if isinstance(tokens, int) and tokens >= 0 else 0
    return entry


class CacheLayers:
    """The three default layers on one backend: intent classifications, KB retrievals, responses."""

    def __init__(
        self,
        cache: Cache,
        *,
        intents_ttl: float = INTENTS_TTL,
        kb_ttl: float = KB_TTL,
        responses_ttl: float = RESPONSES_TTL,
        price_per_1k_tokens: float = DEFAULT_PRICE_PER_1K_TOKENS,
    ):
        self.intents = CacheLayer(cache, "intents", intents_ttl, price_per_1k_tokens)
        self.kb = CacheLayer(cache, "kb", kb_ttl, price_per_1k_tokens)
        self.responses = CacheLayer(cache, "responses", responses_ttl, price_per_1k_tokens)

    def __iter__(self) -> Iterator[CacheLayer]:
        return iter((self.intents, self.kb, self.responses))

    def snapshot(self) -> dict[str, dict[str, float | int | str]]:
        return {layer.name: layer.snapshot() for layer in self}
