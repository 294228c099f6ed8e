"""The dependency checks of this service, each naming the setting to fix when it fails."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ticketbolt.bot.db.engine import ping as ping_database
from ticketbolt.bot.health import Check, Degraded
from ticketbolt.bot.settings import Settings
from ticketbolt.cache.base import Cache, CacheUnavailable
from ticketbolt.cache.fallback import FallbackCache


def build_checks(
    settings: Settings,
    engine: AsyncEngine,
    cache: Cache,
    slack: Any,
    gorgias: Any,
    llm: Any = None,
) -> list[Check]:
    async def database() -> str:
        await ping_database(engine)
        return engine.dialect.name

    async def cache_check() -> str:
        try:
            await cache.ping()
        except CacheUnavailable as exc:
            if isinstance(cache, FallbackCache):
                raise Degraded(f"Redis unreachable, serving from memory ({exc})") from exc
            raise
        return cache.backend

    async def slack_check() -> str:
        if settings.slack_bot_token is None:
            raise Degraded("not configured: set SLACK_BOT_TOKEN")
        answer = await slack.auth_test()
        return f"team {answer.get('team') or answer.get('team_id')}"

    async def gorgias_check() -> str:
        if gorgias is None:
            raise Degraded("not configured: tickets cannot be created")
        latency = await gorgias.ping()
        state = gorgias.breaker_state
        usage = gorgias.rate_limit
        detail = f"circuit {state}" + (f", rate limit {usage}" if usage else "")
        if state != "closed":
            raise Degraded(detail)
        return f"{detail}, answered in {latency * 1000:.0f} ms"

    async def llm_check() -> str:
        if llm is None:
            return "offline classifier only"
        await llm.models.list(timeout=2.0)
        return f"model {settings.llm_model}"

    return [
        Check("database", database, required=True, setting="DATABASE_URL"),
        Check("cache", cache_check, required=True, setting="REDIS_URL"),
        Check("slack", slack_check, required=False, setting="SLACK_BOT_TOKEN / SLACK_API_URL"),
        Check(
            "gorgias",
            gorgias_check,
            required=False,
            setting="GORGIAS_ACCOUNT / GORGIAS_USERNAME / GORGIAS_API_KEY",
        ),
        Check("llm", llm_check, required=False, setting="OPENAI_API_KEY / OPENAI_BASE_URL"),
    ]
