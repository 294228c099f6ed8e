"""Socket Mode for the emulator: `apps.connections.open` and a WebSocket carrying envelopes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from ticketbolt.integrations.slack.emulator.events import Delivery

KINDS = {"event": "events_api", "command": "slash_commands", "interactive": "interactive"}


class SocketModeHub:
    """Delivers what the emulator would POST over an open Socket Mode connection instead.

    Slack sends each envelope to one open connection and waits for an acknowledgement carrying
    its `envelope_id`; an envelope nobody acknowledges counts as a failed delivery.
    """

    def __init__(self, app_token: str | None, app_id: str, ack_timeout: float = 10.0) -> None:
        self.app_token = app_token
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    @property
    def connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/apps.connections.open", self._open),
            web.get("/socket-mode", self._connect),
        ]

    async def _open(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != self.app_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        # Where the app reached us is where it can connect, standalone or mounted elsewhere.
        url = f"ws://{request.host}/socket-mode?ticket={uuid.uuid4().hex}"
        return web.json_response({"ok": True, "url": url})

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.append(ws)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_json(hello)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            answer = json.loads(message.data)
            waiter = self._acks.pop(str(answer.get("envelope_id")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(answer)
        self._sockets.remove(ws)
        return ws

    async def send(self, kind: str, body: str, headers: dict[str, str] | None) -> Delivery:
        """One envelope to the first open connection; 200 once acknowledged, 0 otherwise."""
        ws = next(ws for ws in self._sockets if not ws.closed)
        envelope_id = str(uuid.uuid4())
        if kind == "event":
            payload: Any = json.loads(body)
        else:
            form = dict(parse_qsl(body))
            payload = json.loads(form["payload"]) if "payload" in form else form
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": KINDS[kind],
            "payload": payload,
            "accepts_response_payload": kind != "event",
        }
        if headers and "X-Slack-Retry-Num" in headers:
            envelope["retry_attempt"] = int(headers["X-Slack-Retry-Num"])
            envelope["retry_reason"] = headers.get("X-Slack-Retry-Reason", "timeout")
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        await ws.send_json(envelope)
        try:
            ack = await asyncio.wait_for(waiter, self.ack_timeout)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
            return Delivery(kind, "socket-mode", json.dumps(envelope), {}, 0, "")
        answer = json.dumps(ack.get("payload")) if ack.get("payload") is not None else ""
        return Delivery(kind, "socket-mode", json.dumps(envelope), {}, 200, answer)

    async def aclose(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
