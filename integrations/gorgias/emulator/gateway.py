"""The emulator's front door: fault injection, Basic auth and the account's leaky bucket."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ticketbolt.integrations.gorgias.emulator.routes import Handler
from ticketbolt.integrations.gorgias.emulator.state import ApiError

RATE_LIMIT_HEADER = "X-Gorgias-Account-Api-Call-Limit"


@dataclass
class Faults:
    """What the test wants to go wrong. Shares are probabilities per request (0.0-1.0)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    outage: bool = False
    lose_next_create_response: bool = False
    lose_next_message_response: bool = False
    seed: int | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class ServerBucket:
    """The account's leaky bucket as Gorgias enforces it: `capacity` per `window` seconds."""

    def __init__(self, capacity: int, window_seconds: float) -> None:
        self.capacity = capacity
        self.rate = capacity / window_seconds
        self._level = 0.0
        self._at = time.monotonic()

    def _drain(self) -> float:
        current = time.monotonic()
        self._level = max(0.0, self._level - (current - self._at) * self.rate)
        self._at = current
        return self._level

    def admit(self) -> int | None:
        """Count one request; None when admitted, else the whole seconds to wait."""
        if self._drain() + 1 > self.capacity:
            return max(1, math.ceil((self._level + 1 - self.capacity) / self.rate))
        self._level += 1
        return None

    @property
    def header(self) -> str:
        return f"{int(self._drain() + 0.5)}/{self.capacity}"  # nearest whole request


@dataclass
class RecordedRequest:
    """What Gorgias received (the Authorization header left out) and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int | None = None


class DropConnection(Exception):
    """Close the connection without answering."""


def error_response(status: int, msg: str, retry_after: int | None = None) -> web.Response:
    response = web.json_response(ApiError(status, msg).body, status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@dataclass
class Gateway:
    """Decides, before any route runs, whether a request is delayed, refused or dropped."""

    username: str
    api_key: str
    faults: Faults
    bucket: ServerBucket | None
    rate_limited: int = 0

    async def serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Apply latency, outage, auth, the rate limit, then random faults, in that order."""
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.outage:
            return error_response(503, "An external service had an issue.")
        if not self._authorized(request.headers.get("Authorization", "")):
            return error_response(401, "Unauthorized.")
        if self.bucket is not None and (wait := self.bucket.admit()) is not None:
            self.rate_limited += 1
            return error_response(429, "Too many requests.", retry_after=wait)
        if injected := self._injected_fault():
            return injected
        try:
            response = await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body, status=exc.status)
        if response.status == 201 and self._lose_response(request.path.rstrip("/")):
            raise DropConnection  # the object exists, but the client never hears of it
        return response

    def _lose_response(self, path: str) -> bool:
        faults = self.faults
        if path == "/api/tickets" and faults.lose_next_create_response:
            faults.lose_next_create_response = False
            return True
        if path.endswith("/messages") and faults.lose_next_message_response:
            faults.lose_next_message_response = False
            return True
        return False

    def _injected_fault(self) -> web.Response | None:
        faults = self.faults
        roll = faults.rng.random()
        if roll < faults.drop_rate:
            raise DropConnection
        if roll < faults.drop_rate + faults.error_rate:
            return error_response(503, "An external service had an issue.")
        if roll < faults.drop_rate + faults.error_rate + faults.rate_limit_rate:
            return error_response(429, "Too many requests.", retry_after=1)
        return None

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, key = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.username}\0{self.api_key}".encode()
        return hmac.compare_digest(f"{username}\0{key}".encode(), expected)
