"""The HTTP face of the emulated Web API: parsing, auth, scopes, faults and call recording."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Importing the method modules fills the method table.
from ticketbolt.integrations.slack.emulator import methods_groups, methods_read, methods_write
from ticketbolt.integrations.slack.emulator.faults import Fault, Faults
from ticketbolt.integrations.slack.emulator.limits import RateLimits
from ticketbolt.integrations.slack.emulator.registry import (
    METHODS,
    ApiContext,
    ApiError,
    Params,
    needed_scope,
)

__all__ = [
    "Call",
    "WebApi",
    "methods_groups",
    "methods_read",
    "methods_write",
]

_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


@dataclass(frozen=True)
class Call:
    """One Web API request the emulator received (recorded before any fault or auth check)."""

    method: str
    http_method: str
    content_type: str
    params: dict[str, Any]
    token_present: bool


async def read_params(request: web.Request) -> dict[str, Any]:
    """Arguments from the query string and a JSON or form body, as Slack accepts them all."""
    values: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return values
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError("invalid_json") from None
        if isinstance(body, dict):
            values.update(body)
    elif request.content_type in _FORM_TYPES:
        form = await request.post()
        values.update({key: value for key, value in form.items() if isinstance(value, str)})
    return values


def _token(request: web.Request, values: dict[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = values.get("token")
    return token if isinstance(token, str) and token else None


class WebApi:
    """Answers `POST|GET /api/{method}` like slack.com: always JSON, errors as `ok: false`."""

    def __init__(
        self,
        ctx: ApiContext,
        bot_token: str,
        faults: Faults,
        record: Callable[[Call], None],
        limits: RateLimits | None = None,
    ) -> None:
        self.ctx = ctx
        self.bot_token = bot_token
        self.faults = faults
        self.limits = limits or RateLimits(None)
        self._record = record

    def _reply(self, payload: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
        headers["X-OAuth-Scopes"] = ",".join(sorted(self.ctx.scopes))
        return web.json_response(payload, status=status, headers=headers)

    def _rate_limited(self, retry_after: int) -> web.Response:
        return self._reply(
            {"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": str(retry_after)}
        )

    def _fault_response(self, fault: Fault) -> web.Response:
        if fault.kind == "rate_limit":
            return self._rate_limited(fault.retry_after)
        if fault.kind == "server_error":
            # Slack's edge answers 5xx with an HTML page, not the API's JSON.
            return web.Response(
                status=fault.status,
                text=f"<html><body><h1>{fault.status} Server Error</h1></body></html>",
                content_type="text/html",
            )
        return self._reply({"ok": False, "error": fault.error})

    async def handle(self, request: web.Request) -> web.Response:
        """Record the call, then answer it: fault, unknown method, auth, scope, or the method."""
        name = request.match_info["method"]
        try:
            values = await read_params(request)
        except ApiError as error:
            return self._reply({"ok": False, "error": error.error})
        token = _token(request, values)
        values.pop("token", None)
        self._record(Call(name, request.method, request.content_type, values, token is not None))
        if delay := self.faults.delay_for(name):
            await asyncio.sleep(delay)
        fault = self.faults.take(name)
        if fault is not None and fault.kind != "error":
            return self._fault_response(fault)
        if token == self.bot_token and name in METHODS:
            channel = values.get("channel")
            wait = self.limits.retry_after(
                self.ctx.ws.team_id, name, channel if isinstance(channel, str) else None
            )
            if wait:
                return self._rate_limited(wait)
        try:
            return self._reply({"ok": True, **self._call(name, values, token, fault)})
        except ApiError as error:
            return self._reply({"ok": False, "error": error.error, **error.extra})

    def _call(
        self, name: str, values: dict[str, Any], token: str | None, fault: Fault | None
    ) -> dict[str, Any]:
        method = METHODS.get(name)
        if method is None:
            raise ApiError("unknown_method", req_method=name)
        if token is None:
            raise ApiError("not_authed")
        if token != self.bot_token:
            raise ApiError("invalid_auth")
        if fault is not None:
            raise ApiError(fault.error)
        params = Params(values)
        scope = needed_scope(self.ctx, method, params)
        if scope is not None and scope not in self.ctx.scopes:
            raise ApiError(
                "missing_scope", needed=scope, provided=",".join(sorted(self.ctx.scopes))
            )
        return method.handler(self.ctx, params)


def json_body(text: str) -> Any:
    """A request body as JSON, or None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None
