"""HTTP shapes, authentication, call recording and injected faults of the emulated Web API."""

from __future__ import annotations

import json

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.integrations.slack.emulator import SlackEmulator


async def test_every_method_accepts_query_form_and_json(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """The same arguments work as a query string, a form body or a JSON body."""
    bob = slack.add_user("bob")
    url = f"{slack.api_url}users.info"
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    answers = []
    async with session.get(url, params={"user": bob.id}, headers=auth) as response:
        answers.append(await response.json())
    async with session.post(url, data={"user": bob.id, "token": slack.bot_token}) as response:
        answers.append(await response.json())
    async with session.post(url, json={"user": bob.id}, headers=auth) as response:
        answers.append(await response.json())
    assert [bob.id] * 3 == [a["user"]["id"] for a in answers]
    assert ["GET", "POST", "POST"] == [c.http_method for c in slack.calls_to("users.info")]


async def test_sdk_http_shapes_are_recorded(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """slack_sdk sends reads as GET, reactions as POST form, posts as POST JSON."""
    channel = slack.add_channel("support")
    posted = await client.chat_postMessage(channel=channel.id, text="hi")
    await client.reactions_add(channel=channel.id, timestamp=posted["ts"], name="eyes")
    await client.conversations_history(channel=channel.id)
    shapes = [(c.method, c.http_method) for c in slack.calls]
    assert [
        ("chat.postMessage", "POST"),
        ("reactions.add", "POST"),
        ("conversations.history", "GET"),
    ] == shapes
    assert ["application/json", "application/x-www-form-urlencoded"] == [
        c.content_type for c in slack.calls[:2]
    ]
    assert [True, True, True] == [c.token_present for c in slack.calls]


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")])
async def test_missing_or_wrong_token(
    slack: SlackEmulator, session: aiohttp.ClientSession, token: str | None, error: str
) -> None:
    """No token is `not_authed`; someone else's token is `invalid_auth` (both HTTP 200)."""
    client = AsyncWebClient(token=token, base_url=slack.api_url, session=session)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert (200, error) == (raised.value.response.status_code, raised.value.response["error"])
    assert [token is not None] == [c.token_present for c in slack.calls]


async def test_unknown_method(client: AsyncWebClient) -> None:
    """A method the emulator does not know answers `unknown_method`."""
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.teleport")
    assert "unknown_method" == raised.value.response["error"]


async def test_rate_limit_is_retried_by_the_sdk_handler(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """A 429 with Retry-After is retried by AsyncRateLimitErrorRetryHandler and then succeeds."""
    channel = slack.add_channel("support")
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.faults.rate_limit("chat.postMessage", times=1, retry_after=0)
    posted = await client.chat_postMessage(channel=channel.id, text="hello")
    assert (True, 2) == (posted["ok"], len(slack.calls_to("chat.postMessage")))
    assert ["hello"] == [m.text for m in channel.messages.values()]


async def test_rate_limit_without_handler_surfaces_429_and_retry_after(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """Without a retry handler the 429 reaches the caller with its Retry-After header."""
    slack.faults.rate_limit("auth.test", times=2, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    response = raised.value.response
    assert (429, "ratelimited", "7") == (
        response.status_code,
        response["error"],
        response.headers["Retry-After"],
    )


async def test_server_errors_for_n_calls_then_recovery(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """Two 503s exhaust one retry; the next call succeeds."""
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        session=session,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=1)],
    )
    slack.faults.server_error("auth.test", times=2, status=503)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    recovered = await client.auth_test()
    assert (503, True, 3) == (
        raised.value.response.status_code,
        recovered["ok"],
        len(slack.calls_to("auth.test")),
    )


async def test_error_fault_answers_ok_false_for_n_calls(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """An injected error name is answered `ok: false` for the armed number of calls."""
    slack.faults.error("auth.test", "fatal_error", times=1)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert ("fatal_error", True) == (
        raised.value.response["error"],
        (await client.auth_test())["ok"],
    )


async def test_latency_beyond_the_client_timeout_times_out(
    slack: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """A slow method trips the caller's timeout; clearing the latency restores service."""
    slack.faults.latency("auth.test", ms=1000)
    with pytest.raises(TimeoutError):
        async with session.post(
            f"{slack.api_url}auth.test",
            data={"token": slack.bot_token},
            timeout=aiohttp.ClientTimeout(total=0.1),
        ) as pending:
            await pending.read()
    slack.faults.clear()
    async with session.post(f"{slack.api_url}auth.test", data={"token": slack.bot_token}) as ok:
        assert json.loads(await ok.text())["ok"] is True


async def test_wait_for_returns_once_the_calls_arrived(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """wait_for resolves when the expected number of calls was recorded."""
    await client.auth_test()
    await client.auth_test()
    calls = await slack.wait_for("auth.test", count=2, timeout=1)
    assert ["auth.test", "auth.test"] == [c.method for c in calls]


async def test_wait_for_times_out_when_the_calls_never_come(slack: SlackEmulator) -> None:
    """wait_for raises TimeoutError when the bot never makes the call."""
    with pytest.raises(TimeoutError):
        await slack.wait_for("chat.postMessage", timeout=0.05)
