"""LLM cache layers on every backend: JSON round trips, hashed keys, and what the hits saved."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.cache.conftest import FakeClock
from ticketbolt.cache.base import Cache
from ticketbolt.cache.layers import CacheLayer, CacheLayers
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.cache.redis import RedisCache


async def test_value_round_trips_as_json(cache: Cache) -> None:
    """A stored JSON value comes back equal; an unknown key is a miss."""
    layer = CacheLayer(cache, "intents", ttl=60)
    key = layer.key("where is my order", "gpt-4o-mini", "v1", "abc")
    assert await layer.get_json(key) is None
    await layer.set_json(key, {"intent": "order_status", "confidence": 0.93}, tokens=120)
    assert {"intent": "order_status", "confidence": 0.93} == await layer.get_json(key)


async def test_stats_credit_the_tokens_of_each_hit(cache: Cache) -> None:
    """Hits, misses and hit rate are counted; each hit saves the tokens stored with the entry."""
    layer = CacheLayer(cache, "intents", ttl=60, price_per_1k_tokens=0.5)
    key = layer.key("hello")
    await layer.get_json(key)
    await layer.set_json(key, "greeting", tokens=200)
    await layer.get_json(key)
    await layer.get_json(key)
    snapshot = layer.snapshot()
    assert (2, 1, 400) == (snapshot["hits"], snapshot["misses"], snapshot["tokens_saved"])
    assert pytest.approx(2 / 3, abs=1e-4) == snapshot["hit_rate"]
    assert pytest.approx(0.2) == snapshot["cost_saved_usd"]


async def test_layers_share_a_backend_without_colliding(cache: Cache) -> None:
    """The same parts in two layers are two different entries."""
    layers = CacheLayers(cache, intents_ttl=3600, kb_ttl=86400, responses_ttl=1800)
    await layers.intents.set_json(layers.intents.key("hi"), "greeting")
    assert await layers.responses.get_json(layers.responses.key("hi")) is None
    assert "greeting" == await layers.intents.get_json(layers.intents.key("hi"))


async def test_unreadable_entry_is_a_miss(cache: Cache) -> None:
    """A value that is not one of ours reads as a miss rather than an error."""
    layer = CacheLayer(cache, "kb", ttl=60)
    key = layer.key("x")
    await cache.set(key, b"\xff not json", ttl=60)
    assert await layer.get_json(key) is None
    assert 1 == layer.stats.misses


def test_key_hashes_every_part() -> None:
    """Keys are deterministic, differ when any part differs, and never contain the text."""
    layer = CacheLayer(MemoryCache(), "intents", ttl=60)
    key = layer.key("where is my order", "gpt-4o-mini", "intent-v1", "cfg1")
    assert key == layer.key("where is my order", "gpt-4o-mini", "intent-v1", "cfg1")
    assert key.startswith("llm:intents:")
    assert "order" not in key
    variants = [
        layer.key("where is my order?", "gpt-4o-mini", "intent-v1", "cfg1"),
        layer.key("where is my order", "gpt-4o", "intent-v1", "cfg1"),
        layer.key("where is my order", "gpt-4o-mini", "intent-v2", "cfg1"),
        layer.key("where is my order", "gpt-4o-mini", "intent-v1", "cfg2"),
    ]
    assert 5 == len({key, *variants})


async def test_entries_expire_after_the_layer_ttl() -> None:
    """An entry lives for the layer's TTL and then misses."""
    clock = FakeClock()
    layer = CacheLayer(MemoryCache(clock=clock), "responses", ttl=1800)
    key = layer.key("q")
    await layer.set_json(key, "answer")
    clock.now += 1799
    assert "answer" == await layer.get_json(key)
    clock.now += 2
    assert await layer.get_json(key) is None


async def test_unreachable_backend_counts_as_a_miss() -> None:
    """With the backend down, reads miss and writes are dropped; both are counted as errors."""
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        layer = CacheLayer(RedisCache(client), "intents", ttl=60)
        key = layer.key("hi")
        await layer.set_json(key, "greeting", tokens=10)
        assert await layer.get_json(key) is None
        assert (0, 1, 2) == (layer.stats.hits, layer.stats.misses, layer.stats.errors)
    finally:
        await client.aclose()


def test_default_layers_and_snapshot() -> None:
    """The bundle holds intents (1 h), kb (24 h) and responses (30 min), reported by name."""
    layers = CacheLayers(MemoryCache())
    snapshot = layers.snapshot()
    assert ["intents", "kb", "responses"] == list(snapshot)
    assert [3600.0, 86400.0, 1800.0] == [s["ttl_seconds"] for s in snapshot.values()]
    assert {"hits", "misses", "errors", "hit_rate", "tokens_saved", "cost_saved_usd"} <= set(
        snapshot["kb"]
    )
