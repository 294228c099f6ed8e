"""The emulator's HTTP-integration calls: render the template, deliver in order, record results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from ticketbolt.integrations.gorgias.emulator.state import Json, now

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{\{\s*([\w.-]+)\s*\}\}")
# Gorgias disables an HTTP integration after this many failures in a row.
MAX_CONSECUTIVE_FAILURES = 100


@dataclass(frozen=True)
class Delivery:
    """One call Gorgias made to an integration: `status` is None when it never got an answer."""

    integration_id: int
    trigger: str
    url: str
    status: int | None
    body: Any
    headers: dict[str, str]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _lookup(context: Json, dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(template: Any, context: Json) -> Any:
    """Fill `{{ticket.id}}`-style placeholders; a bare `"{{context}}"` becomes the whole context."""
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, context) for value in template]
    if not isinstance(template, str):
        return template
    if _PLACEHOLDER.fullmatch(template.strip()) and template.strip("{} ") == "context":
        return context

    def text(match: re.Match[str]) -> str:
        name = match.group(1)
        value = context if name == "context" else _lookup(context, name)
        if value is None:
            return ""
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    return _PLACEHOLDER.sub(text, template)


class WebhookDispatcher:
    """Queues calls and delivers them one at a time, so a receiver sees events in order."""

    def __init__(self, *, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self.failures = 0
        self._queue: asyncio.Queue[tuple[Json, str, Json]] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self._streaks: dict[int, int] = {}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._worker = asyncio.create_task(self._run(), name="gorgias-emulator-webhooks")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._session is not None:
            await self._session.close()

    def fire(self, integrations: Iterable[Json], trigger: str, context: Json) -> None:
        """Queue a call to every active HTTP integration listening to `trigger`."""
        # A snapshot: the state goes on changing while the call waits in the queue.
        frozen = json.loads(json.dumps(context, default=str))
        for integration in integrations:
            http = integration.get("http") or {}
            wanted = (http.get("triggers") or {}).get(trigger)
            if (
                integration.get("type") == "http"
                and wanted
                and not integration.get("deactivated_datetime")
            ):
                self._queue.put_nowait((integration, trigger, frozen))

    async def wait_idle(self) -> None:
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            integration, trigger, context = await self._queue.get()
            try:
                await self._deliver(integration, trigger, context)
            finally:
                self._queue.task_done()

    async def _deliver(self, integration: Json, trigger: str, context: Json) -> None:
        assert self._session is not None, "start() the dispatcher first"
        http: Json = integration["http"]
        url = str(render(http["url"], context))
        headers = {str(k): str(render(v, context)) for k, v in (http.get("headers") or {}).items()}
        method = str(http.get("method") or "GET").upper()
        body = render(http.get("form"), context) if method not in ("GET", "HEAD") else None
        kwargs: dict[str, Any] = {}
        if body is not None:
            form_encoded = http.get("request_content_type") == "application/x-www-form-urlencoded"
            kwargs = {"data": body} if form_encoded and isinstance(body, dict) else {"json": body}
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.request(method, url, headers=headers, **kwargs) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
        delivery = Delivery(integration["id"], trigger, url, status, body, headers, error)
        self.deliveries.append(delivery)
        self._track(integration, delivery)

    def _track(self, integration: Json, delivery: Delivery) -> None:
        if delivery.ok:
            self._streaks[integration["id"]] = 0
            return
        self.failures += 1
        streak = self._streaks.get(integration["id"], 0) + 1
        self._streaks[integration["id"]] = streak
        logger.info("webhook %s to integration %d failed", delivery.trigger, integration["id"])
        if streak >= MAX_CONSECUTIVE_FAILURES:
            integration["deactivated_datetime"] = now()
