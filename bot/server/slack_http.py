"""`POST /slack/events` in front of Bolt: the signature first, then the body's syntax and shape.

| request | answer |
|---|---|
| unsigned, badly signed, older than five minutes, or not UTF-8 (whatever it holds) | 401 |
| signed, but neither JSON nor a form (`payload=` that is not JSON included), or too deep | 400 |
| signed and readable, but not a shape Slack sends (`"event": null`, a JSON array) | 200, ignored |
| anything else | Bolt's answer |

Bolt verifies the signature again (the same `SignatureVerifier`); Socket Mode never passes here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import (
    build_normalized_headers,
    extract_content_type,
    parse_body,
)
from slack_sdk.signature import SignatureVerifier

from ticketbolt.bot.server.bodies import nested_deeper_than
from ticketbolt.bot.server.slack_shapes import body_mismatch

log = logging.getLogger("ticketbolt.slack")

UNVERIFIED = {"error": "invalid request"}  # Bolt's words for a request it cannot verify
UNREADABLE = {"error": "the body is neither JSON nor a form Slack sends"}


def verified_text(
    verifier: SignatureVerifier | None, raw: bytes, headers: Mapping[str, Sequence[str]]
) -> str | None:
    """The body as text when Slack's signature over it holds, else None.

    Headers that cannot be a signature are refused before `SignatureVerifier` sees them: it calls
    `int()` on the timestamp and compares signatures as `str`, which raise on other digits than
    ASCII ones, on non-ASCII text, and on more than 4300 digits. Slack signs UTF-8 text, so a body
    that is not UTF-8 cannot carry a valid signature either.
    """
    timestamp = (headers.get("x-slack-request-timestamp") or [""])[0]
    signature = (headers.get("x-slack-signature") or [""])[0]
    readable = 0 < len(timestamp) <= 12 and timestamp.isascii() and timestamp.isdigit()
    if verifier is None or not readable or not signature.isascii():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if verifier.is_valid(text, timestamp, signature) else None


class SlackEndpoint:
    """The aiohttp handler of `POST /slack/events`; without a signing secret it admits nothing."""

    def __init__(self, bolt: AsyncApp, signing_secret: str | None):
        self._bolt = bolt
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()  # aiohttp refuses bodies over client_max_size with 413
        # Every value of every header, first one first, as Bolt reads them (a list per name).
        headers = build_normalized_headers(
            {name: request.headers.getall(name) for name in request.headers}
        )
        text = verified_text(self._verifier, raw, headers)
        if text is None:
            log.info("slack request without a valid signature refused")
            return web.json_response(UNVERIFIED, status=401)
        try:
            # Bolt's own parser, so what is checked here is exactly what Bolt will read.
            body = parse_body(text, extract_content_type(headers))
        except (ValueError, RecursionError):  # not JSON (or `payload=` not JSON); too deep
            return web.json_response(UNREADABLE, status=400)
        if nested_deeper_than(body):
            return web.json_response(UNREADABLE, status=400)
        problem = body_mismatch(body) if isinstance(body, dict) else "the body is not an object"
        if problem is not None:
            log.info("slack request of a shape Slack does not send ignored: %s", problem)
            return web.Response(status=200)
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        return await to_aiohttp_response(await self._bolt.async_dispatch(bolt_request))
