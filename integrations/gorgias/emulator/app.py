"""A local Gorgias: REST API, auth, leaky-bucket rate limit, webhooks and fault injection."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
from typing import Any

from aiohttp import web

from ticketbolt.integrations.gorgias.emulator.gateway import (
    RATE_LIMIT_HEADER,
    DropConnection,
    Faults,
    Gateway,
    RecordedRequest,
    ServerBucket,
)
from ticketbolt.integrations.gorgias.emulator.routes import HOOKS, STATE, Handler, add_routes, fire
from ticketbolt.integrations.gorgias.emulator.state import EmulatorState, Json
from ticketbolt.integrations.gorgias.emulator.webhooks import Delivery, WebhookDispatcher
from ticketbolt.integrations.loopback import LoopbackServer
from ticketbolt.integrations.resilience import parse_rate_limit


@web.middleware
async def _gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    text = await request.text()
    try:
        body = await request.json() if text else None
    except ValueError:
        body = text
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    record = RecordedRequest(request.method, request.path, dict(request.query), body, headers)
    emulator.requests.append(record)
    try:
        response = await emulator.gateway.serve(request, handler)
    except DropConnection:
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError from None
    record.status = response.status
    if emulator.gateway.bucket is not None:
        response.headers[RATE_LIMIT_HEADER] = emulator.gateway.bucket.header
    return response


class GorgiasEmulator(LoopbackServer):
    """An in-memory Gorgias account served over loopback HTTP.

    `async with GorgiasEmulator() as emu:` starts it on an ephemeral port; `emu.base_url` is the
    API base (`http://127.0.0.1:PORT/api/`). Tests steer `emu.faults` and read `emu.requests`.
    """

    def __init__(
        self,
        *,
        account: str = "acme",
        username: str = "api@example.com",
        api_key: str = "emulator-key",
        rate_limit: tuple[int, float] | None = (40, 20.0),
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        strict: bool = True,
        webhook_timeout: float = 5.0,
    ) -> None:
        self.state = EmulatorState(account=account, username=username, strict=strict)
        bucket = ServerBucket(*rate_limit) if rate_limit else None
        self.gateway = Gateway(username, api_key, faults or Faults(), bucket)
        self.hooks = WebhookDispatcher(timeout=webhook_timeout)
        self.requests: list[RecordedRequest] = []
        self.host, self.port = host, port
        self.app = create_app(self)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    @property
    def faults(self) -> Faults:
        return self.gateway.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.gateway.faults = faults

    @property
    def rate_limited(self) -> int:
        """How many 429s the leaky bucket served (injected 429s not included)."""
        return self.gateway.rate_limited

    @property
    def tickets(self) -> dict[int, Json]:
        return self.state.tickets

    @property
    def deliveries(self) -> list[Delivery]:
        return self.hooks.deliveries

    def count(self, method: str, path_prefix: str = "/api/", status: int | None = None) -> int:
        """How many requests with this method (`*` for any) and path prefix Gorgias received."""
        return sum(
            1
            for r in self.requests
            if method in ("*", r.method)
            and r.path.startswith(path_prefix)
            and status in (None, r.status)
        )

    async def start(self) -> None:
        self.port = await self.serve(self.app, self.host, self.port)

    # What a human agent does in the Gorgias UI, delivered to webhooks like the real thing.

    async def agent_reply(
        self, ticket_id: int, text: str, *, agent_name: str = "Sam Agent", public: bool = True
    ) -> Json:
        agent = self.state.agent(agent_name)
        ticket = self.state.ticket(ticket_id)
        body = {"channel": ticket["channel"] if public else "internal-note", "via": "helpdesk",
                "from_agent": True, "public": public, "sender": {"id": agent["id"]},
                "body_text": text, "body_html": f"<p>{html.escape(text)}</p>"}  # fmt: skip
        message = self.state.add_message(ticket_id, body)
        fire(self.app, "ticket-message-created", ticket_id, message=message)
        return message

    async def agent_set_status(
        self, ticket_id: int, status: str, *, agent_name: str = "Sam Agent"
    ) -> Json:
        return self._agent_update(ticket_id, {"status": status}, agent_name)

    async def agent_assign(self, ticket_id: int, *, agent_name: str = "Sam Agent") -> Json:
        agent = self.state.agent(agent_name)
        return self._agent_update(ticket_id, {"assignee_user": {"id": agent["id"]}}, agent_name)

    async def customer_rates(self, ticket_id: int, score: int, comment: str | None = None) -> Json:
        """The customer answers the satisfaction survey; Gorgias calls `ticket-updated`."""
        survey = self.state.rate(ticket_id, score, comment)
        fire(self.app, "ticket-updated", ticket_id)
        return survey

    async def wait_webhooks_idle(self) -> None:
        await self.hooks.wait_idle()

    def _agent_update(self, ticket_id: int, change: Json, agent_name: str) -> Json:
        agent = self.state.agent(agent_name)
        if self.state.update_ticket(ticket_id, change):
            user = {"id": agent["id"], "name": agent["name"]}
            fire(self.app, "ticket-updated", ticket_id, event={"user": user})
        return self.state.ticket_view(self.state.ticket(ticket_id))


EMULATOR: web.AppKey[GorgiasEmulator] = web.AppKey("gorgias_emulator")


def create_app(emulator: GorgiasEmulator) -> web.Application:
    """The aiohttp application behind `emulator` (also usable with `web.run_app`)."""
    app = web.Application(middlewares=[_gateway])
    app[EMULATOR] = emulator
    app[STATE] = emulator.state
    app[HOOKS] = emulator.hooks

    async def webhook_worker(_app: web.Application) -> Any:
        await emulator.hooks.start()
        yield
        await emulator.hooks.stop()

    app.cleanup_ctx.append(webhook_worker)
    add_routes(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """`python -m ticketbolt.integrations.gorgias.emulator --port 8025 [--rate-limit 40/20|off]`."""
    parser = argparse.ArgumentParser(description="Run the Gorgias emulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--rate-limit", default="40/20", help="'capacity/window' or 'off'")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--account", default="acme")
    parser.add_argument("--username", default="api@example.com")
    parser.add_argument("--api-key", default="emulator-key")
    args = parser.parse_args(argv)
    limit = None if args.rate_limit == "off" else parse_rate_limit(args.rate_limit)
    emulator = GorgiasEmulator(
        account=args.account,
        username=args.username,
        api_key=args.api_key,
        rate_limit=limit,
        faults=Faults(latency_ms=args.latency_ms),
        host=args.host,
        port=args.port,
    )

    async def serve() -> None:
        async with emulator:
            print(f"Gorgias emulator on {emulator.base_url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops it
        asyncio.run(serve())
