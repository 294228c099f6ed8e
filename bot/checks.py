"""The dependency checks of this service, each naming the setting to fix when it fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketbolt.bot.db.engine import ping as ping_database
from ticketbolt.bot.health import Check, Degraded, Misconfigured, NotConfigured
from ticketbolt.bot.settings import Settings
from ticketbolt.cache.base import Cache, CacheUnavailable
from ticketbolt.cache.fallback import FallbackCache
from ticketbolt.handlers import required_scopes
from ticketbolt.handlers.channel_rules import Routing


def granted_scopes(answer: Any) -> set[str]:
    """The bot token's scopes, from the `x-oauth-scopes` header Slack sends with every answer
    (all of `required_scopes()` when the header is absent, so nothing is reported missing)."""
    headers = {str(k).lower(): v for k, v in (getattr(answer, "headers", None) or {}).items()}
    raw = headers.get("x-oauth-scopes")
    if raw is None:
        return required_scopes()
    value = raw[0] if isinstance(raw, list) else raw
    return {scope.strip() for scope in str(value).split(",") if scope.strip()}


async def channels_without_bot(slack: Any, routing: Routing) -> list[str]:
    """Channel IDs of the channels file (and their alert channels) the bot is not a member of."""
    named = set(routing.channels) | {
        r.alert_channel for r in routing.channels.values() if r.alert_channel
    }
    outside: list[str] = []
    for channel_id in sorted(named):
        try:
            info = (await slack.conversations_info(channel=channel_id))["channel"]
        except SlackApiError:
            outside.append(channel_id)
            continue
        if not info.get("is_member") and not info.get("is_im"):
            outside.append(channel_id)
    return outside


def intents_check(assistant: Any, llm: Any) -> Callable[[], Awaitable[str]]:
    """Which offline tiers classify customer messages, and whether an LLM follows them."""

    async def intents() -> str:
        if assistant is None:
            raise NotConfigured("the assistant is not running in this process")
        offline = assistant.cascade.offline
        tiers = offline.describe()
        if not offline.tier2.active:
            tiers.append(offline.tier2.detail)
        tiers.append("then the LLM" if llm is not None else "no LLM")
        return "; ".join(tiers)

    return intents


def build_checks(
    settings: Settings,
    engine: AsyncEngine,
    cache: Cache,
    slack: Any,
    gorgias: Any,
    llm: Any = None,
    *,
    routing: Routing | None = None,
    assistant: Any = None,
) -> list[Check]:
    async def database() -> str:
        await ping_database(engine)
        return engine.dialect.name

    async def cache_check() -> str:
        try:
            await cache.ping()
        except CacheUnavailable as exc:
            if isinstance(cache, FallbackCache):
                raise Degraded(f"Redis does not answer, serving from memory ({exc})") from exc
            raise
        return cache.backend

    async def slack_check() -> str:
        if settings.slack_bot_token is None:
            raise NotConfigured("not configured (the sandbox runs instead): set SLACK_BOT_TOKEN")
        answer = await slack.auth_test()
        team = f"team {answer.get('team') or answer.get('team_id')}"
        missing = sorted(required_scopes() - granted_scopes(answer))
        if missing:
            raise Degraded(
                f"{team}; the app lacks the scopes {', '.join(missing)}: add them to the app "
                "(manifest.yml) and reinstall it"
            )
        return team

    async def gorgias_check() -> str:
        if gorgias is None:
            missing = settings.gorgias_missing()
            if len(missing) == 3:
                raise NotConfigured("not configured: tickets cannot be created")
            raise Misconfigured(f"incomplete: set {' and '.join(missing)}")
        latency = await gorgias.ping()
        state = gorgias.breaker_state
        usage = gorgias.rate_limit
        detail = f"circuit {state}" + (f", rate limit {usage}" if usage else "")
        if state != "closed":
            raise Degraded(detail)
        return f"{detail}, answered in {latency * 1000:.0f} ms"

    async def llm_check() -> str:
        if llm is None:
            raise NotConfigured("offline classifier only: set OPENAI_API_KEY to add an LLM")
        await llm.models.list(timeout=2.0)
        return f"model {settings.llm_model}"

    async def agents() -> str:
        if not settings.agents:
            raise Degraded("anyone in the workspace can resolve and reopen tickets")
        return f"{len(settings.agents)} user or group id(s) may resolve"

    async def channels() -> str:
        if routing is None or not routing.source:
            raise NotConfigured("no channels file: tickets come from the create reaction only")
        if settings.slack_bot_token is None:
            return f"{len(routing.channels)} channel(s) in {routing.source}"
        outside = await channels_without_bot(slack, routing)
        if outside:
            raise Degraded(
                f"the bot is not a member of {', '.join(outside)} ({routing.source}): "
                "invite it there, or remove them from the file"
            )
        return f"{len(routing.channels)} channel(s) in {routing.source}"

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
        Check(
            "intents",
            intents_check(assistant, llm),
            required=False,
            setting="TICKETBOLT_ENCODER_MODEL",
        ),
        Check("agents", agents, required=False, setting="TICKETBOLT_AGENTS"),
        Check("channels", channels, required=False, setting="TICKETBOLT_CHANNELS"),
    ]
