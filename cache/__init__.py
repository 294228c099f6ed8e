"""Caches: the `Cache` protocol, its in-process and Redis backends, and the LLM cache layers."""

from ticketbolt.cache.base import Cache, CacheStats, CacheUnavailable

__all__ = ["Cache", "CacheStats", "CacheUnavailable"]
