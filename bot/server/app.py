"""The aiohttp application: Slack's endpoint, health, readiness, metrics and the admin API."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from ticketbolt.bot.health import HealthChecker
from ticketbolt.bot.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StatsSource = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class ServerParts:
    bolt: AsyncApp
    health: HealthChecker
    metrics: Metrics
    stats: StatsSource
    admin_token: str | None = None
    max_body_bytes: int = 1_048_576
    extra_routes: list[web.RouteDef] = field(default_factory=list)


def bearer_ok(request: web.Request, token: str | None) -> bool:
    """Constant-time comparison of the bearer token; no token configured means no access."""
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def build_web_app(parts: ServerParts) -> web.Application:
    metrics = parts.metrics

    @web.middleware
    async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.http_requests.labels(name, str(status)).inc()
            if name == "/slack/events":
                metrics.ack_latency.observe(time.perf_counter() - started)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        bolt_request = await to_bolt_request(request)
        return await to_aiohttp_response(await parts.bolt.async_dispatch(bolt_request))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        results = await parts.health.run()
        for result in results:
            metrics.dependency_up.labels(result.name).set(1 if result.ok else 0)
        ready = parts.health.ready(results)
        return web.json_response(
            {
                "status": "ready" if ready else "not ready",
                "dependencies": [r.as_json() for r in results],
            },
            status=200 if ready else 503,
        )

    async def metrics_endpoint(_: web.Request) -> web.Response:
        await parts.stats()  # refreshes the queue and cache gauges
        return web.Response(
            body=metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    async def admin_stats(request: web.Request) -> web.Response:
        if not parts.admin_token:
            return web.json_response(
                {"error": "admin API disabled: set TICKETBOLT_ADMIN_TOKEN"}, status=404
            )
        if not bearer_ok(request, parts.admin_token):
            return web.json_response(
                {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return web.json_response(await parts.stats())

    app = web.Application(client_max_size=parts.max_body_bytes, middlewares=[count_requests])
    app.add_routes(
        [
            web.post("/slack/events", slack_events),
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics_endpoint),
            web.get("/admin/stats", admin_stats),
            *parts.extra_routes,
        ]
    )
    return app
