"""The composition root: opens every client once, wires features, and closes all on exit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketbolt import __version__
from ticketbolt.bot.assistant_setup import build_engine, llm_client
from ticketbolt.bot.channels import load_channels
from ticketbolt.bot.checks import build_checks
from ticketbolt.bot.db.audit import AuditLog
from ticketbolt.bot.db.batch import GroupCommit
from ticketbolt.bot.db.engine import make_engine, sessionmaker
from ticketbolt.bot.db.events import ProcessedEvents
from ticketbolt.bot.db.jobs import JobQueue
from ticketbolt.bot.db.links import TicketLinks
from ticketbolt.bot.db.mirror import MirrorLog  # thread sync (issue 7)
from ticketbolt.bot.db.retention import Retention, RetentionPolicy
from ticketbolt.bot.db.turns import Turns
from ticketbolt.bot.health import HealthChecker
from ticketbolt.bot.lanes import lanes
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.server.app import ServerParts, build_ops_app, build_web_app
from ticketbolt.bot.server.slack_app import build_app
from ticketbolt.bot.server.webhook import gorgias_webhook_routes  # thread sync (issue 7)
from ticketbolt.bot.settings import Settings
from ticketbolt.bot.sla_setup import satisfaction, sla_service, sla_watchdog
from ticketbolt.bot.socket_watch import SocketWatch
from ticketbolt.bot.summary_setup import summary_service
from ticketbolt.bot.worker import Worker
from ticketbolt.cache.base import Cache
from ticketbolt.cache.fallback import FallbackCache
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.cache.redis import RedisCache
from ticketbolt.handlers.deps import Deps, FeatureConfig
from ticketbolt.handlers.sla_watchdog import SlaWatchdog
from ticketbolt.handlers.slack_directory import SlackDirectory
from ticketbolt.integrations.gorgias import GorgiasClient, GorgiasMetrics, build_http_client
from ticketbolt.integrations.resilience import (
    BoundedRateLimiter,
    CircuitBreaker,
    FallbackRateLimiter,
    LocalLeakyBucket,
    RateLimiter,
    RedisLeakyBucket,
    parse_rate_limit,
)
from ticketbolt.integrations.slack.identity import BotIdentity, SharedAuthorize
from ticketbolt.integrations.slack.limits import Allowance
from ticketbolt.integrations.slack.throttle import SlackThrottle, ThrottledWebClient


@dataclass
class Runtime:
    """Everything a running process holds; built and closed by `open_runtime`."""

    settings: Settings
    metrics: Metrics
    engine: AsyncEngine
    cache: Cache
    redis: Redis | None
    slack: AsyncWebClient
    gorgias: GorgiasClient | None
    deps: Deps
    queue: JobQueue
    links: TicketLinks
    events: ProcessedEvents
    audit: AuditLog
    bolt: AsyncApp | None
    health: HealthChecker
    web_app: web.Application
    started_at: float
    socket_watch: SocketWatch | None = None  # Socket Mode only; attached by `serve`
    retention: Retention | None = None
    ops_app: web.Application | None = None  # served on TICKETBOLT_METRICS_PORT when set
    sla_watchdog: SlaWatchdog | None = None  # periodic SLA runs (bot/sla_setup.py)

    def worker(self, **overrides: Any) -> Worker:
        s = self.settings
        options: dict[str, Any] = {
            "lanes": lanes(s),
            "poll_interval": s.job_poll_interval,
            "grace_seconds": s.shutdown_grace,
            "settle_seconds": s.upstream_settle,
            "maintenance": self.housekeeping,
        }
        options.update(overrides)
        return Worker(self.queue, self.deps.job_handlers, self.metrics, **options)

    async def housekeeping(self) -> None:
        """Hourly, in every worker: expire Slack event ids, purge what retention drops."""
        await self.events.purge()
        if self.retention is not None:
            await self.retention.purge()

    async def refresh_gauges(self) -> dict[str, Any]:
        """What a /metrics scrape needs: unfinished jobs only, through the claim index."""
        return await self.stats(count_done=False)

    async def stats(self, *, count_done: bool = True) -> dict[str, Any]:
        """The facts of /admin/stats; also refreshes the gauges /metrics exposes."""
        queue = await self.queue.stats(count_done=count_done)
        for state, count in queue["by_state"].items():
            self.metrics.queue_depth.labels(state).set(count)
        self.metrics.queue_oldest.set(queue["oldest_queued_seconds"])
        cache_layers = self.deps.assistant.cache_snapshot() if self.deps.assistant else {}
        summaries = self.deps.summaries  # its own layer and breaker (bot/summary_setup.py)
        if summaries is not None:
            cache_layers = {**cache_layers, **summaries.snapshot()}
        return {
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started_at, 1),
            "queue": queue,
            "tickets": await self.links.counts(),
            "cache": {
                "backend": self.cache.backend,
                "entries": await self.cache.size(),
                "hits": self.cache.stats.hits,
                "misses": self.cache.stats.misses,
                "hit_rate": round(self.cache.stats.hit_rate, 4),
                "layers": cache_layers,
            },
            "circuits": {
                "gorgias": self.gorgias.breaker_state if self.gorgias else "unconfigured",
                "llm_summaries": summaries.circuit if summaries else "unconfigured",
            },
        }

    async def status_report(self) -> dict[str, Any]:
        """What `/ticketbolt status` shows: every dependency check, then the facts of `stats()`.

        Checks run first, so the circuit state and rate-limit headroom reflect their Gorgias
        call. With the database down the checks still report; only the facts are missing.
        """
        checks = await self.health.run()
        report: dict[str, Any] = {"checks": [c.as_json() for c in checks]}
        try:
            report.update(await self.stats())
        except SQLAlchemyError as exc:  # the database check above already says what is wrong
            report["stats_error"] = type(exc).__name__
        usage = self.gorgias.rate_limit if self.gorgias else None
        report["gorgias_rate_limit"] = (
            None
            if usage is None
            else {
                "used": usage.used,
                "limit": usage.limit,
                "headroom": usage.headroom,
            }
        )
        report["circuits"] = {
            "gorgias": self.gorgias.breaker_state if self.gorgias else "unconfigured"
        }
        watchdog = self.sla_watchdog
        report["sla_watchdog"] = None if watchdog is None else await watchdog.report()
        return report


def slack_client(
    settings: Settings,
    session: aiohttp.ClientSession,
    redis: Redis | None = None,
    metrics: Metrics | None = None,
) -> AsyncWebClient:
    """The pooled Web API client. Slack's 429s are not retried asleep here: calls pass a
    per-method limiter first, and in a job a long wait or a 429 defers the job instead."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return ThrottledWebClient(
        throttle=slack_throttle(settings, redis, metrics, token or ""),
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def slack_throttle(
    settings: Settings, redis: Redis | None, metrics: Metrics | None, token: str
) -> SlackThrottle:
    """Limiters per Slack method (and channel), shared through Redis by every replica that uses
    the same bot token, local otherwise."""
    workspace = hashlib.sha256(token.encode()).hexdigest()[:16]

    def limiter(key: str, allowance: Allowance) -> BoundedRateLimiter:
        local = LocalLeakyBucket(allowance.capacity, allowance.bucket_window)
        if redis is None:
            return local
        shared = RedisLeakyBucket(
            redis,
            f"ticketbolt:ratelimit:slack:{workspace}:{key}",
            allowance.capacity,
            allowance.bucket_window,
        )
        return FallbackRateLimiter(shared, local)

    return SlackThrottle(
        settings.slack_limits_table,
        limiter,
        max_inline_wait=settings.slack_max_inline_wait,
        observer=metrics.slack_limits if metrics else None,
    )


def slack_directory(
    settings: Settings,
    slack: AsyncWebClient,
    redis: Redis | None,
    stack: AsyncExitStack,
    identity: BotIdentity,
) -> SlackDirectory:
    """People, channel names and messages seen live (handlers/slack_directory.py): apart from
    the LLM layers, so a busy channel never evicts those; in Redis, shared by replicas."""
    cache: Cache = MemoryCache(settings.cache_max_entries)
    if redis is not None:
        shared = FallbackCache(
            RedisCache(redis, prefix="ticketbolt:slack:"), MemoryCache(settings.cache_max_entries)
        )
        stack.push_async_callback(shared.aclose)
        cache = shared
    return SlackDirectory(
        slack, cache, message_ttl=settings.message_cache_minutes * 60, identity=identity
    )


def gorgias_client(
    settings: Settings, redis: Redis | None, metrics: Metrics, http: Any
) -> GorgiasClient:
    capacity, window = parse_rate_limit(settings.gorgias_rate_limit)
    limiter: RateLimiter
    if redis is not None:
        # One budget for every replica that shares this Redis and this Gorgias account.
        key = f"ticketbolt:ratelimit:gorgias:{settings.gorgias_api_url}"
        limiter = FallbackRateLimiter(
            RedisLeakyBucket(redis, key, capacity, window), LocalLeakyBucket(capacity, window)
        )
    else:
        limiter = LocalLeakyBucket(capacity, window)
    breaker = CircuitBreaker(
        name="gorgias",
        failure_threshold=settings.breaker_failures,
        reset_timeout=settings.breaker_reset_seconds,
    )
    return GorgiasClient(
        http,
        limiter=limiter,
        breaker=breaker,
        metrics=GorgiasMetrics(metrics.registry),
    )


def web_apps(
    runtime: Runtime, bolt: AsyncApp, signing: SecretStr | None
) -> tuple[web.Application, web.Application]:
    """The public application and the operations one, over the same parts."""
    settings = runtime.settings
    parts = ServerParts(
        bolt=bolt,
        health=runtime.health,
        metrics=runtime.metrics,
        stats=runtime.stats,
        gauges=runtime.refresh_gauges,
        admin_token=settings.admin_token.get_secret_value() if settings.admin_token else None,
        max_body_bytes=settings.max_body_bytes,
        signing_secret=signing.get_secret_value() if signing else None,
        # thread sync (issue 7): Gorgias HTTP-integration callbacks
        extra_routes=gorgias_webhook_routes(
            settings.gorgias_webhook_token.get_secret_value()
            if settings.gorgias_webhook_token
            else None,
            runtime.queue,
            runtime.links,
        ),
        metrics_apart=settings.metrics_port is not None,
    )
    return build_web_app(parts), build_ops_app(parts)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, search_path: str | None = None
) -> AsyncIterator[Runtime]:
    """Open clients in order and close them in reverse, whatever happens in between."""
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        engine = make_engine(
            settings.database_url,
            search_path=search_path,
            pool_size=settings.database_pool_size,
        )
        stack.push_async_callback(engine.dispose)
        sessions = sessionmaker(engine)

        redis: Redis | None = None
        cache: Cache = MemoryCache(settings.cache_max_entries)
        if settings.redis_url:
            redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=2,
                socket_connect_timeout=2,
                health_check_interval=30,
            )
            stack.push_async_callback(redis.aclose)
            fallback = FallbackCache(RedisCache(redis), MemoryCache(settings.cache_max_entries))
            stack.push_async_callback(fallback.aclose)
            cache = fallback

        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20, connect=5))
        stack.push_async_callback(session.close)
        slack = slack_client(settings, session, redis, metrics)

        gorgias: GorgiasClient | None = None
        api_url, username, api_key = (
            settings.gorgias_api_url,
            settings.gorgias_username,
            settings.gorgias_api_key,
        )
        if api_url and username and api_key:
            http = build_http_client(
                api_url,
                username,
                api_key.get_secret_value(),
            )
            stack.push_async_callback(http.aclose)
            gorgias = gorgias_client(settings, redis, metrics, http)

        llm = llm_client(settings)
        if llm is not None:
            stack.push_async_callback(llm.close)
        assistant = build_engine(settings, cache, llm)

        queue = JobQueue(
            sessions,
            lease_seconds=settings.job_lease_seconds,
            max_attempts=settings.job_max_attempts,
            backoff_base=settings.job_backoff_base,
            backoff_max=settings.job_backoff_max,
        )
        # The ack path's writes share transactions; stopped before the engine is disposed.
        queue.group_commit = GroupCommit(sessions)
        queue.group_commit.start()
        stack.push_async_callback(queue.group_commit.stop)
        links, events, audit = TicketLinks(sessions), ProcessedEvents(sessions), AuditLog(sessions)
        deps = Deps(
            config=FeatureConfig(
                create_reaction=settings.create_reaction,
                resolve_reaction=settings.resolve_reaction,
                marker_reaction=settings.marker_reaction,
                agents=frozenset(settings.agents),
                claim_reaction=settings.claim_reaction,
                # A bad channels file stops the start here.
                routing=(
                    routing := (channels := load_channels(settings.channels_path)).routing(
                        str(settings.channels_path or "")
                    )
                ),
                # TICKETBOLT_ASSISTANT_CHANNELS and the channels file's `assistant` mode.
                assistant_channels=frozenset(settings.assistant_channels)
                | routing.in_mode("assistant"),
                assistant_rate_per_minute=settings.assistant_rate_per_minute,
                handoffs_per_customer_hour=settings.handoffs_per_customer_hour,
                handoffs_per_hour=settings.handoffs_per_hour,
                sync_gorgias_notes=settings.sync_internal_notes,  # thread sync (issue 7)
            ),
            jobs=queue,
            links=links,
            audit=audit,
            slack=slack,
            gorgias=gorgias,
            assistant=assistant,
            turns=Turns(sessions),
            cache=cache,
            mirror=MirrorLog(sessions),  # thread sync (issue 7)
            sla=(sla := sla_service(settings, channels, routing, sessions, queue.wakeup)),
            csat=satisfaction(settings, queue, gorgias, routing, sla),  # scores in the thread
            summaries=summary_service(settings, cache, llm),  # tickets open with a summary
            # One auth.test per process, for Bolt's authorisation and the permalinks.
            slack_directory=slack_directory(
                settings, slack, redis, stack, identity := BotIdentity(slack)
            ),
        )
        signing = settings.slack_signing_secret
        # Without a bot token there is no Slack app to serve (operator commands still work).
        bolt = (
            build_app(
                client=slack,
                signing_secret=signing.get_secret_value() if signing else None,
                events=events,
                metrics=metrics,
                deps=deps,
                authorize=SharedAuthorize(identity, settings.slack_bot_token.get_secret_value()),
            )
            if settings.slack_bot_token
            else None
        )
        checks = build_checks(
            settings, engine, cache, slack, gorgias, llm, routing=routing, assistant=assistant
        )
        socket_watch = None
        if settings.socket_mode and bolt is not None:
            socket_watch = SocketWatch(metrics, settings.socket_ping_seconds)
            checks.append(socket_watch.health_check())
        health = HealthChecker(checks)
        runtime = Runtime(
            retention=Retention(
                sessions,
                RetentionPolicy(settings.retention_days, settings.audit_retention_days),
            ),
            settings=settings,
            metrics=metrics,
            engine=engine,
            cache=cache,
            redis=redis,
            slack=slack,
            gorgias=gorgias,
            deps=deps,
            queue=queue,
            links=links,
            events=events,
            audit=audit,
            bolt=bolt,
            health=health,
            web_app=web.Application(),
            started_at=time.monotonic(),
            socket_watch=socket_watch,
            sla_watchdog=sla_watchdog(settings, deps, metrics),
        )
        deps.status = runtime
        if bolt is not None:
            runtime.web_app, runtime.ops_app = web_apps(runtime, bolt, signing)
        try:
            yield runtime
        finally:
            for task in list(deps.background):
                task.cancel()
