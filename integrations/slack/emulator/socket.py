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

    Faults a test can cause, also over HTTP as `POST /emulator/socket-mode/{drop,stall,refuse,
    accept}`: `drop()` cuts every open connection without a close frame; `stall()` keeps them
    open but silent (no envelopes, no pongs, acknowledgements unheard); `refuse()` makes
    `apps.connections.open` fail until `accept()`.
    """

    def __init__(self, app_token: str | None, app_id: str, ack_timeout: float = 10.0) -> None:
        self.app_token = app_token
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self.opened = 0  # connections accepted so far, each greeted with `hello`
        self.refusing = False
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}
        self._stalled: set[web.WebSocketResponse] = set()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    @property
    def connected(self) -> bool:
        """Some connection is open, stalled or not: Slack would send envelopes down it."""
        return any(not ws.closed for ws in self._sockets)

    @property
    def live(self) -> bool:
        """Some open connection is not stalled."""
        return any(not ws.closed and ws not in self._stalled for ws in self._sockets)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/apps.connections.open", self._open),
            web.get("/socket-mode", self._connect),
            web.post("/emulator/socket-mode/{action}", self._control),
        ]

    # -- faults ----------------------------------------------------------------------------

    def drop(self) -> int:
        """Cut every open connection as a network failure would: no close frame. How many."""
        dropped = 0
        for ws, request in list(self._sockets.items()):
            if not ws.closed and request.transport is not None:
                request.transport.abort()
                dropped += 1
        return dropped

    def stall(self) -> int:
        """Keep every open connection open but send nothing more on it. How many."""
        stalled = {ws for ws in self._sockets if not ws.closed} - self._stalled
        self._stalled |= stalled
        return len(stalled)

    def refuse(self) -> None:
        """Answer `apps.connections.open` with `internal_error` until `accept()`."""
        self.refusing = True

    def accept(self) -> None:
        """Hand out connection URLs again."""
        self.refusing = False

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action == "drop":
            return web.json_response({"ok": True, "connections": self.drop()})
        if action == "stall":
            return web.json_response({"ok": True, "connections": self.stall()})
        if action in {"refuse", "accept"}:
            self.refuse() if action == "refuse" else self.accept()
            return web.json_response({"ok": True, "refusing": self.refusing})
        return web.json_response({"ok": False, "error": "unknown_action"}, status=404)

    # -- serving ---------------------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != self.app_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if self.refusing:
            return web.json_response({"ok": False, "error": "internal_error"})
        # Where the app reached us is where it can connect, standalone or mounted elsewhere.
        url = f"ws://{request.host}/socket-mode?ticket={uuid.uuid4().hex}"
        return web.json_response({"ok": True, "url": url})

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        # Pings and closes are answered here, so that a stalled connection can ignore them.
        ws = web.WebSocketResponse(heartbeat=None, autoping=False, autoclose=False)
        await ws.prepare(request)
        self._sockets[ws] = request
        self.opened += 1
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_json(hello)
        try:
            async for message in ws:
                if ws in self._stalled:
                    continue
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    self._acknowledged(json.loads(message.data))
            if ws in self._stalled and request.transport is not None:
                request.transport.abort()  # the app gave up on it; a silent peer just vanishes
            else:
                await ws.close()
        finally:
            del self._sockets[ws]
            self._stalled.discard(ws)
        return ws

    def _acknowledged(self, answer: dict[str, Any]) -> None:
        waiter = self._acks.pop(str(answer.get("envelope_id")), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    async def send(self, kind: str, body: str, headers: dict[str, str] | None) -> Delivery:
        """One envelope to an open connection; 200 once acknowledged, 0 otherwise.

        A live connection is preferred; with only stalled ones open, the envelope goes nowhere
        and the delivery fails after `ack_timeout`, as Slack's would.
        """
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        ws = next((ws for ws in open_sockets if ws not in self._stalled), open_sockets[0])
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
        if ws not in self._stalled:
            await ws.send_json(envelope)
        try:
            ack = await asyncio.wait_for(waiter, self.ack_timeout)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
            return Delivery(kind, "socket-mode", json.dumps(envelope), {}, 0, "")
        answer = json.dumps(ack.get("payload")) if ack.get("payload") is not None else ""
        return Delivery(kind, "socket-mode", json.dumps(envelope), {}, 200, answer)

    async def aclose(self) -> None:
        for ws, request in list(self._sockets.items()):
            if ws in self._stalled and request.transport is not None:
                request.transport.abort()
            else:
                await ws.close()
