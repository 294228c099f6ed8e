"""`POST /gorgias/webhook`: token-checked Gorgias calls, recorded as jobs before the 200."""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from ticketbolt.bot.server.bodies import nested_deeper_than
from ticketbolt.handlers.deps import JobSink, LinkStore
from ticketbolt.handlers.sync import order_key
from ticketbolt.handlers.sync_gorgias import webhook_job

log = logging.getLogger("ticketbolt.webhook")

TOKEN_HEADER = "X-Ticketbolt-Token"  # noqa: S105  # a header name, not a secret
ROUTE = "/gorgias/webhook"
NO_TICKET_ID = (
    "no valid ticket id (digits, 1 to 2**63-1): register the integration with the body {{context}}"
)


def token_ok(request: web.Request, token: str) -> bool:
    given = request.headers.get(TOKEN_HEADER, "")
    # aiohttp keeps header bytes that are not UTF-8 as surrogates; they must not raise here.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


def gorgias_webhook_routes(
    token: str | None, jobs: JobSink, links: LinkStore
) -> list[web.RouteDef]:
    """The route; without a token configured it answers 404, like the admin API.

    404 rather than 503: no token means the operator has not enabled the endpoint on this
    deployment (a setting, not an outage), and a 503 would invite retries and alerts for a
    condition that time does not fix. Gorgias counts either as a failed delivery.
    """

    async def receive(request: web.Request) -> web.Response:
        if not token:
            return web.json_response(
                {"error": "webhook disabled: set TICKETBOLT_GORGIAS_WEBHOOK_TOKEN"}, status=404
            )
        if not token_ok(request, token):
            log.warning("gorgias webhook with a wrong or missing token refused")
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            # The bytes, not request.json(): a Content-Type charset must not pick the codec.
            body = json.loads(await request.read())
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if nested_deeper_than(body):
            return web.json_response({"error": "the body is nested too deeply"}, status=400)
        job = webhook_job(body)
        if job is None:
            return web.json_response({"error": NO_TICKET_ID}, status=400)
        link = await links.by_ticket(job.ticket_id)
        # One line per ticketed message (shared with its resolve and Slack-side sync jobs), so
        # a close made from Slack is recorded before its own webhook is compared with it.
        ordered = order_key(link) if link is not None else f"gorgias:{job.ticket_id}"
        created = await jobs.enqueue(
            job.kind, job.payload, key=job.key, order_key=ordered, correlation_id=job.key[:64]
        )
        return web.json_response({"ok": True, "duplicate": not created})

    return [web.post(ROUTE, receive)]
