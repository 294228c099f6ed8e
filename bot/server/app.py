"""The aiohttp application: Slack's endpoint, health, readiness, metrics and the admin API."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from ticketbolt.bot.health import HealthChecker
from ticketbolt.bot.metrics import Metrics
from ticketbolt.bot.server.slack_http import SlackEndpoint

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StatsSource = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class ServerParts:
    bolt: AsyncApp
    health: HealthChecker
    metrics: Metrics
    stats: StatsSource
    # Refreshes the gauges /metrics shows, at a cost that does not grow with history.
    gauges: StatsSource | None = None
    admin_token: str | None = None
    max_body_bytes: int = 1_048_576
    # Checked before the body is parsed; without it /slack/events admits nothing (Socket Mode).
    signing_secret: str | None = None
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    # With an operations port, /metrics moves there and leaves the public port.
    metrics_apart: bool = False


def bearer_ok(request: web.Request, token: str | None) -> bool:
    """Constant-time comparison of the bearer token; no token configured means no access."""
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # aiohttp keeps header bytes that are not UTF-8 as surrogates; they must not raise here.
    given_bytes = given.encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode())


def _count_requests(metrics: Metrics) -> Any:
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

    return count_requests


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def readiness(parts: ServerParts, *, details: bool) -> Handler:
    """/readyz: 200 while the required dependencies answer. Without `details` (the public
    port) each dependency shows its state only: no host names, ports or workspace names."""

    async def readyz(_: web.Request) -> web.Response:
        results = await parts.health.run()
        for result in results:
            parts.metrics.dependency_up.labels(result.name).set(1 if result.ok else 0)
        ready = parts.health.ready(results)
        rows = [r.as_json() for r in results]
        if not details:
            rows = [{**row, "detail": row["state"], "setting": ""} for row in rows]
        return web.json_response(
            {"status": "ready" if ready else "not ready", "dependencies": rows},
            status=200 if ready else 503,
        )

    return readyz


def metrics_page(parts: ServerParts) -> Handler:
    async def metrics_endpoint(_: web.Request) -> web.Response:
        await (parts.gauges or parts.stats)()  # refreshes the queue and cache gauges
        return web.Response(
            body=parts.metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    return metrics_endpoint


def build_ops_app(parts: ServerParts) -> web.Application:
    """The operations port (TICKETBOLT_METRICS_PORT, loopback by default): /metrics, and
    /readyz with each dependency's details."""
    app = web.Application(middlewares=[_count_requests(parts.metrics)])
    app.add_routes(
        [
            web.get("/metrics", metrics_page(parts)),
            web.get("/readyz", readiness(parts, details=True)),
            web.get("/healthz", healthz),
        ]
    )
    return app


def build_web_app(parts: ServerParts) -> web.Application:
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

    app = web.Application(
        client_max_size=parts.max_body_bytes, middlewares=[_count_requests(parts.metrics)]
    )
    app.add_routes(
        [
            web.post("/slack/events", SlackEndpoint(parts.bolt, parts.signing_secret).handle),
            web.get("/healthz", healthz),
            web.get("/readyz", readiness(parts, details=False)),
            web.get("/admin/stats", admin_stats),
            *parts.extra_routes,
        ]
    )
    if not parts.metrics_apart:
        app.router.add_get("/metrics", metrics_page(parts))
    return app
