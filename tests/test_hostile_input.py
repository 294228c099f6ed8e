"""Hostile input over real HTTP, one test per way it once made the server answer 500 (issue 16)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.support.db import Database
from tests.support.stack import SIGNING_SECRET, Stack, eventually, guarded_app
from ticketbolt.handlers.shortcuts import LOST
from ticketbolt.handlers.sync_gorgias import webhook_job
from ticketbolt.integrations.slack.emulator.events import signed_headers

FORM, JSON_TYPE = "application/x-www-form-urlencoded", "application/json"
ADMIN_TOKEN, WEBHOOK_TOKEN = "hostile-admin-token", "hostile-webhook-token"


@pytest.fixture
async def stack(database: Database, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Stack]:
    """The service with admin API and webhook on; each test ends with no ERROR in the log."""
    async with guarded_app(database, ADMIN_TOKEN, WEBHOOK_TOKEN) as running:
        yield running
        await asyncio.gather(*running.runtime.deps.background)
    assert [] == [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def post(
    stack: Stack, body: bytes, content_type: str, *, signed: bool, path: str = "/slack/events"
) -> tuple[int, str]:
    """POST `body`, with Slack's signature over it when `signed`; the status and the answer."""
    headers = {"Content-Type": content_type}
    if signed:
        headers |= signed_headers(SIGNING_SECRET, body.decode())
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}{path}", data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def recorded(stack: Stack) -> int:
    return sum((await stack.runtime.queue.stats())["by_state"].values())


# -- /slack/events: the signature first, then syntax, then shape --------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "signed_status"),
    [
        pytest.param(b'{"type": "event_callback", "event": {', JSON_TYPE, 400, id="truncated JSON"),
        pytest.param(b"[1, 2]", JSON_TYPE, 200, id="JSON array"),
        pytest.param(b'"event_callback"', JSON_TYPE, 200, id="JSON string"),
        pytest.param(b"payload=%7Bnot-json", FORM, 400, id="payload= not JSON"),
        pytest.param(b"[" * 100_000, JSON_TYPE, 400, id="JSON nested beyond reason"),
        pytest.param(
            b'{"type": "url_verification", "challenge": ' + b"[" * 500 + b"]" * 500 + b"}",
            JSON_TYPE,
            400,
            id="JSON nested deeper than any Slack payload",
        ),
    ],
)
async def test_unreadable_bodies_are_401_unsigned_and_400_or_ignored_signed(
    stack: Stack, body: bytes, content_type: str, signed_status: int
) -> None:
    """Unsigned, any body is 401 before it is parsed; signed, one that does not parse is 400
    and one that parses to something Slack never sends is 200 and ignored."""
    unsigned, _ = await post(stack, body, content_type, signed=False)
    signed, _ = await post(stack, body, content_type, signed=True)
    assert (401, signed_status, 0) == (unsigned, signed, await recorded(stack))


async def test_invalid_utf8_is_401_even_when_signed_over_its_bytes(stack: Stack) -> None:
    """Slack signs UTF-8 text; bytes that are not UTF-8 cannot carry its signature."""
    body = b'{"type": "event_callback", "text": "\xff\xfe"}'
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, "sha256")
    headers = {
        "Content-Type": JSON_TYPE,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(stack.events_url, data=body) as unsigned:
            assert 401 == unsigned.status
        async with http.post(stack.events_url, data=body, headers=headers) as signed:
            assert 401 == signed.status


async def test_signed_event_null_is_ignored_with_200(stack: Stack) -> None:
    """A signed envelope whose `event` is null is answered 200 and records nothing."""
    envelope = {"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": None}
    status, answer = await post(stack, json.dumps(envelope).encode(), JSON_TYPE, signed=True)
    assert (200, "", 0) == (status, answer, await recorded(stack))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=0"}, id="ts"),
        pytest.param({"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0"}, id="9s"),
        pytest.param({"X-Slack-Request-Timestamp": "١٧٠٠", "X-Slack-Signature": "v0"}, id="١٧٠٠"),
        pytest.param({"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=é"}, id="é"),
    ],
)
async def test_signature_headers_that_are_no_signature_are_401(
    stack: Stack, headers: dict[str, str]
) -> None:
    """A timestamp that is not ASCII digits, or a signature that is not ASCII, is 401, not 500."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.events_url, data=b"{}", headers=headers) as response,
    ):
        assert 401 == response.status


# -- /ticketbolt ticket <id> ---------------------------------------------------------------------


@pytest.mark.parametrize("given", ["²", str(10**30), str(2**63), "0", "١٢", "#-5"])
async def test_ticket_command_with_an_id_that_is_none_shows_usage(stack: Stack, given: str) -> None:
    """`/ticketbolt ticket ²` (or an id beyond 64 bits): the usage at once, ephemeral, saying
    the id is not a ticket number; nothing is looked up."""
    slack = stack.slack
    agent = slack.state.add_user("alex")
    channel = slack.state.add_channel("support", members=[agent.id])
    ack = await slack.slash_command(agent, channel, text=f"ticket {given}")
    answer = ack.json()
    assert (200, "ephemeral") == (ack.status, answer["response_type"])
    assert answer["text"].startswith("Usage: /ticketbolt")
    assert f"`{given}` is not a ticket number" in answer["text"]
    assert [] == slack.hook_posts


# -- Create ticket form -------------------------------------------------------------------------


async def test_create_ticket_form_whose_metadata_is_not_ours_says_so(stack: Stack) -> None:
    """A submitted form whose private_metadata is not what the bot wrote gets a notice and
    records nothing, instead of a 500."""
    slack = stack.slack
    agent = slack.state.add_user("alex")
    channel = slack.state.add_channel("support", members=[agent.id])
    ts = await slack.user_posts(agent, channel, "the box arrived crushed")
    assert 200 == (await slack.message_shortcut(agent, channel, ts, "create_ticket")).status
    await eventually(lambda: bool(slack.views.views), what="the form")
    [(view_id, view)] = slack.views.views.items()
    view["private_metadata"] = "[not, ours"
    delivery = await slack.view_submission(agent, view_id, {"subject": {"subject": "Crushed"}})
    assert (200, "update") == (delivery.status, delivery.json()["response_action"])
    assert LOST in json.dumps(delivery.json()["view"])
    assert 0 == await recorded(stack)


async def test_global_shortcut_named_like_the_message_shortcut_is_ignored(stack: Stack) -> None:
    """A global shortcut carries no message; answered 200, it opens nothing and logs no error."""
    payload = {
        "type": "shortcut",
        "callback_id": "create_ticket",
        "trigger_id": "1.2.3",
        "team": {"id": "T1"},
        "user": {"id": "U1"},
    }
    body = f"payload={quote(json.dumps(payload))}".encode()
    status, _ = await post(stack, body, FORM, signed=True)
    assert (200, {}) == (status, stack.slack.views.views)


# -- /gorgias/webhook ---------------------------------------------------------------------------


async def webhook(stack: Stack, body: bytes) -> tuple[int, Any]:
    headers = {"X-Ticketbolt-Token": WEBHOOK_TOKEN, "Content-Type": JSON_TYPE}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}/gorgias/webhook", data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"ticket": {"id": "²"}}, id="ticket id ²"),
        pytest.param({"ticket": {"id": 10**30}}, id="ticket id 10**30"),
        pytest.param({"ticket": {"id": str(10**30)}}, id="ticket id '10**30'"),
        pytest.param({"ticket": {"id": 7}, "message": {"id": "²"}}, id="message id ²"),
    ],
)
async def test_webhook_with_an_id_that_is_none_is_400(stack: Stack, body: dict[str, Any]) -> None:
    """A ticket (or message) id that is not 1..2**63-1 in ASCII digits is a short 400 JSON
    error naming the problem, and records nothing."""
    status, answer = await webhook(stack, json.dumps(body).encode())
    assert (400, 0) == (status, await recorded(stack))
    assert answer["error"].startswith("no valid ticket id")


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"ticket": {"id": 1}', b"\xff\xfe"], ids=["deep", "cut", "utf8"]
)
async def test_webhook_body_that_is_not_json_is_400(stack: Stack, body: bytes) -> None:
    """Nested beyond reason, truncated, or not UTF-8: 400, whatever the Content-Type says."""
    assert (400, {"error": "the body is not JSON"}) == await webhook(stack, body)


async def test_webhook_body_nested_deeper_than_gorgias_sends_is_400(stack: Stack) -> None:
    """JSON that parses but nests hundreds deep (its digest would overflow the stack): 400."""
    body = b'{"ticket": {"id": 1}, "x": ' + b"[" * 900 + b"]" * 900 + b"}"
    status, answer = await webhook(stack, body)
    assert (400, {"error": "the body is nested too deeply"}, 0) == (
        status,
        answer,
        await recorded(stack),
    )


def test_webhook_job_takes_ids_only_when_they_are_ids() -> None:
    """The largest 64-bit id is one; one more is not; a message id given must be one too."""
    largest = webhook_job({"ticket": {"id": str(2**63 - 1)}})
    assert largest is not None
    assert (2**63 - 1, None, None) == (
        largest.ticket_id,
        webhook_job({"ticket": {"id": 2**63}}),
        webhook_job({"ticket": {"id": 1}, "message": {"id": 1.5}}),
    )


# -- /admin/* -----------------------------------------------------------------------------------


async def raw_status(stack: Stack, request: bytes) -> bytes:
    """The status line for a request sent as raw bytes (clients re-encode what is not UTF-8)."""
    host, port = stack.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "header",
    [b"Authorization: Bearer \xff\xfe", b"Authorization: Bearer", b"Authorization: \xc3("],
    ids=["not UTF-8", "empty", "cut"],
)
async def test_admin_token_that_is_junk_is_401(stack: Stack, header: bytes) -> None:
    """An Authorization header of any bytes is a 401, never a 500."""
    request = b"GET /admin/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header
    assert b"HTTP/1.1 401 Unauthorized" == await raw_status(stack, request + b"\r\n\r\n")


async def test_webhook_token_that_is_not_utf8_is_401(stack: Stack) -> None:
    """The webhook's token header, whatever its bytes, is compared without raising."""
    request = (
        b"POST /gorgias/webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X-Ticketbolt-Token: \xff\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert b"HTTP/1.1 401 Unauthorized" == await raw_status(stack, request)
