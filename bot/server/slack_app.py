"""Builds the Bolt `AsyncApp`: signatures, event de-duplication, correlation ids, errors."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.bot.db.events import ProcessedEvents
from ticketbolt.bot.logs import bind_correlation_id
from ticketbolt.bot.metrics import Metrics
from ticketbolt.handlers import register_all
from ticketbolt.handlers.deps import Deps

log = logging.getLogger("ticketbolt.slack")


class _ClientGivenOnPurpose(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client and the `authorize` we pass
    win over it; both use that same token, so the warnings would only alarm operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "`token` will be unused" not in message and "will be ignored" not in message


_CLIENT_GIVEN = _ClientGivenOnPurpose()


def build_app(
    *,
    client: AsyncWebClient,
    signing_secret: str | None,
    events: ProcessedEvents,
    metrics: Metrics,
    deps: Deps,
    authorize: Callable[..., Awaitable[AuthorizeResult]] | None = None,
) -> AsyncApp:
    """One app for HTTP and Socket Mode.

    `process_before_response=True`: a listener finishes (its job is durably recorded) before the
    answer goes to Slack, so a failed insert becomes a 5xx that Slack retries. Listeners only
    record work; the worker does it.
    """
    bolt_logger = logging.getLogger("slack_bolt")
    if _CLIENT_GIVEN not in bolt_logger.filters:
        bolt_logger.addFilter(_CLIENT_GIVEN)
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret or "",
        process_before_response=True,
        raise_error_for_unhandled_request=True,
        request_verification_enabled=signing_secret is not None,
        authorize=authorize,
        logger=bolt_logger,
    )

    @app.middleware
    async def correlate_and_deduplicate(
        req: AsyncBoltRequest, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        bind_correlation_id(str(event_id or body.get("trigger_id") or uuid.uuid4().hex))
        if body.get("type") == "event_callback":
            event_type = str((body.get("event") or {}).get("type", "unknown"))
            metrics.events_received.labels(event_type).inc()
            # Only Slack's retries can be duplicates; first deliveries skip the lookup, and the
            # job's own idempotency key catches a retry that overtakes its first delivery.
            retry = req.headers.get("x-slack-retry-num")
            if event_id and retry and await events.seen(str(event_id)):
                metrics.events_deduplicated.inc()
                log.info("duplicate delivery dropped", extra={"event_type": event_type})
                return BoltResponse(status=200, body="")
        await next()
        return None

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse:
        if isinstance(error, BoltUnhandledRequestError):
            # An event nobody listens to is still a success for Slack: a 404 would be retried
            # and counted toward disabling the app's event subscriptions.
            return BoltResponse(status=200, body="")
        # Nothing of the delivery was recorded (one transaction), so Slack's retry will redo it.
        log.error("listener failed", exc_info=error)
        return BoltResponse(status=500, body="")

    register_all(app, deps)
    return app
