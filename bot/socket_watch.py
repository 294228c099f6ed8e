"""Socket Mode liveness: a dropped or silent connection is noticed, replaced and reported."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from aiohttp import ServerTimeoutError, WSMessage, WSMsgType

from ticketbolt.bot.health import Check, Degraded
from ticketbolt.bot.metrics import Metrics

if TYPE_CHECKING:
    from aiohttp import ClientWebSocketResponse
    from slack_sdk.socket_mode.aiohttp import SocketModeClient

log = structlog.get_logger("ticketbolt.slack_socket")

SETTING = "TICKETBOLT_SOCKET_PING_SECONDS"
# slack_sdk replaces a silent socket itself after about 2.5 pings (aiohttp gives up on a ping
# after half an interval, its monitor looks once per interval); the watch steps in after that.
DEADLINE_PINGS = 3
BACKOFF_MAX_SECONDS = 60.0
STATES = ("connecting", "connected", "reconnecting")


class SocketWatch:
    """Keeps one slack_sdk aiohttp `SocketModeClient` delivering, and says how it is doing.

    slack_sdk already pings every `ping_seconds` and reconnects when the socket closes. The
    watch adds the outer bound: when nothing at all arrived (no envelope, no `hello`, no pong)
    for `deadline` seconds, it reconnects with a fresh URL, again after an exponentially growing,
    jittered pause while that fails. While slack_sdk is reconnecting on its own, the watch waits
    one more deadline before stepping in. Every replaced connection, whoever replaced it, is
    counted by reason (`dropped`, `stalled`, `refresh`) and logged once.
    """

    def __init__(
        self, metrics: Metrics, ping_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ping_seconds = ping_seconds
        self.deadline = ping_seconds * DEADLINE_PINGS
        self.state = "connecting"
        self.reconnects = 0
        self._metrics = metrics
        self._clock = clock
        self._client: SocketModeClient | None = None
        self._hellos = 0
        self._heard_at = clock()
        self._pong_mark: float | None = None
        self._hello_session: ClientWebSocketResponse | None = None
        self._seen_session: ClientWebSocketResponse | None = None
        self._reason: str | None = None  # why the connection in use was lost, once known
        self._lost_at = 0.0
        self._forcing: asyncio.Task[None] | None = None
        self._next_force = 0.0
        self._backoff = ping_seconds
        self._busy_since: float | None = None
        self._show_state()

    def attach(self, client: SocketModeClient) -> None:
        """Listen to `client`'s frames; call before it connects so its first `hello` counts."""
        self._client = client
        client.on_message_listeners.append(self._on_frame)

    def health_check(self) -> Check:
        """The `slack_socket` row of /readyz: ok while connected, degraded otherwise."""
        return Check(
            "slack_socket", self._check, required=False, setting=f"SLACK_APP_TOKEN / {SETTING}"
        )

    async def run(self) -> None:
        """Look at the connection four times per ping interval until cancelled."""
        try:
            while True:
                self.tick()
                await asyncio.sleep(self.ping_seconds / 4)
        finally:
            if self._forcing is not None:
                self._forcing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._forcing

    # -- what arrives ----------------------------------------------------------------------

    async def _on_frame(self, message: WSMessage) -> None:
        now, silent_since = self._clock(), self._heard_at
        self._heard_at = now
        data = message.data
        if message.type != WSMsgType.TEXT or not isinstance(data, str):
            return
        if "hello" not in data and "disconnect" not in data:
            return  # an envelope: only its arrival matters here
        with contextlib.suppress(ValueError, AttributeError):
            kind = json.loads(data).get("type")
            if kind == "hello":
                self._connected(now - silent_since)
            elif kind == "disconnect":
                self._reason = self._reason or "refresh"  # Slack asked; slack_sdk reconnects

    def _connected(self, silent_seconds: float) -> None:
        session = self._client.current_session if self._client else None
        self._hellos += 1
        if self._hellos > 1:
            reason = self._reason or _cause(self._hello_session)
            self.reconnects += 1
            self._metrics.socket_reconnects.labels(reason).inc()
            (log.info if reason == "refresh" else log.warning)(
                "slack socket reconnected",
                reason=reason,
                silent_seconds=round(silent_seconds, 1),
                reconnects=self.reconnects,
            )
        self._hello_session = self._seen_session = session
        self._reason, self._busy_since = None, None
        self._next_force, self._backoff = 0.0, self.ping_seconds
        self.state = "connected"
        self._show_state()

    # -- the watchdog ----------------------------------------------------------------------

    def tick(self) -> None:
        """Notice silence or a closed socket; reconnect when the deadline has passed."""
        client = self._client
        if client is None or client.closed:
            return
        now = self._clock()
        session = client.current_session
        if session is not None and session is not self._seen_session and not session.closed:
            self._seen_session, self._heard_at = session, now  # just opened: its hello follows
        pong = client.last_ping_pong_time
        if pong is not None and pong != self._pong_mark:
            self._pong_mark, self._heard_at = pong, now
        closed = session is None or session.closed
        silent = now - self._heard_at
        if self.state == "connected" and (closed or silent > self.deadline):
            self._lost(now, _cause(session) if closed else "stalled", silent)
        if self.state == "reconnecting" and silent > self.deadline and now >= self._next_force:
            self._force(client, now)

    def _lost(self, now: float, reason: str, silent: float) -> None:
        self._reason = self._reason or reason
        self._lost_at = now
        self.state = "reconnecting"
        self._show_state()
        log.warning("slack socket lost", reason=self._reason, silent_seconds=round(silent, 1))

    def _force(self, client: SocketModeClient, now: float) -> None:
        ours = self._forcing is not None and not self._forcing.done()
        if client.connect_operation_lock.locked() and not ours:
            self._busy_since = self._busy_since or now
            if now - self._busy_since < self.deadline:
                return  # slack_sdk is reconnecting on its own; give it its chance
        if self._forcing is not None and ours:
            self._forcing.cancel()  # still hanging: start over with a fresh URL
        self._forcing = asyncio.create_task(self._reconnect(client, client.current_session))
        self._next_force = now + self._backoff * random.uniform(0.5, 1.0)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_SECONDS)

    async def _reconnect(
        self, client: SocketModeClient, stale: ClientWebSocketResponse | None
    ) -> None:
        """What slack_sdk's forced reconnect does, unless a new connection came meanwhile."""
        lock = client.connect_operation_lock
        try:
            async with asyncio.timeout(self.deadline):
                await lock.acquire()
        except TimeoutError:
            acquired = False  # held for a whole deadline by a reconnect that is not finishing
        else:
            acquired = True
        try:
            if client.current_session is not stale or client.closed:
                return
            client.wss_uri = await client.issue_new_wss_url()
            await client.connect()  # type: ignore[no-untyped-call]  # slack_sdk leaves it bare
        except Exception as exc:  # logged; the next due tick tries again with a fresh URL
            log.warning("slack socket reconnect failed", error=_describe(exc))
        finally:
            if acquired:
                lock.release()

    # -- reporting -------------------------------------------------------------------------

    def _show_state(self) -> None:
        for state in STATES:
            self._metrics.socket_state.labels(state).set(1 if state == self.state else 0)

    async def _check(self) -> str:
        if self.state == "connected":
            return f"connected; reconnects since start: {self.reconnects}"
        if self.state == "connecting":
            raise Degraded("connecting to Slack")
        since = self._clock() - self._lost_at
        raise Degraded(
            f"reconnecting ({self._reason}) for {since:.0f}s; a silent socket is replaced "
            f"after {self.deadline:g}s ({SETTING}={self.ping_seconds:g})"
        )


def _cause(session: ClientWebSocketResponse | None) -> str:
    """`stalled` when aiohttp closed the socket for an unanswered ping, else `dropped`."""
    if session is not None and isinstance(session.exception(), ServerTimeoutError):
        return "stalled"
    return "dropped"


def _describe(exc: Exception) -> str:
    # slack_sdk's API errors carry Slack's own error code; their text repeats the whole answer.
    response = getattr(exc, "response", None)
    error = response.get("error") if response is not None and hasattr(response, "get") else None
    return f"{type(exc).__name__}: {error or exc}"[:200]
