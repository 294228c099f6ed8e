"""The emulator speaks Gorgias' HTTP: shapes, validation, auth, rate-limit headers and faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ticketbolt.integrations.gorgias.emulator import Faults, GorgiasEmulator

AUTH = httpx.BasicAuth("api@example.com", "emulator-key")
TICKET = {
    "customer": {"email": "ann@example.com"},
    "messages": [{"channel": "api", "from_agent": False, "body_text": "hello"}],
}


@pytest.fixture
async def limited() -> AsyncIterator[GorgiasEmulator]:
    """An emulator enforcing 3 requests per 60 s, so the fourth is refused."""
    async with GorgiasEmulator(rate_limit=(3, 60.0)) as emu:
        yield emu


@pytest.fixture
async def raw(emulator: GorgiasEmulator) -> AsyncIterator[httpx.AsyncClient]:
    """Plain httpx against the emulator: no client logic in between."""
    async with httpx.AsyncClient(base_url=emulator.base_url, auth=AUTH) as client:
        yield client


def error_of(response: httpx.Response) -> Any:
    return response.json()["error"]


async def test_both_path_forms_and_uri_shape(raw: httpx.AsyncClient) -> None:
    """/api/tickets and /api/tickets/ both work; objects carry a `uri` with a trailing slash."""
    created = await raw.post("tickets", json=TICKET)
    listed = await raw.get("tickets/")

    assert 201 == created.status_code
    assert "/api/tickets/1/" == created.json()["uri"]
    assert [1] == [t["id"] for t in listed.json()["data"]]
    assert {"messages_count": 1} == {"messages_count": listed.json()["data"][0]["messages_count"]}
    assert "messages" not in listed.json()["data"][0]


async def test_missing_messages_is_a_field_error(raw: httpx.AsyncClient) -> None:
    """A ticket without messages is refused with Gorgias' field-error shape."""
    response = await raw.post("tickets", json={"customer": {"email": "a@example.com"}})

    assert 400 == response.status_code
    assert {"messages": ["Missing data for required field."]} == error_of(response)["data"]


async def test_message_needs_channel_and_from_agent(raw: httpx.AsyncClient) -> None:
    """Each message needs `channel` and `from_agent`."""
    body = {**TICKET, "messages": [{"body_text": "hi"}]}

    response = await raw.post("tickets", json=body)

    expected = {f: ["Missing data for required field."] for f in ("channel", "from_agent")}
    assert expected == error_of(response)["data"]


@pytest.mark.parametrize(("field", "value"), [("status", "pending"), ("priority", "urgent")])
async def test_enums_are_checked(raw: httpx.AsyncClient, field: str, value: str) -> None:
    """status is open/closed and priority critical/high/normal/low; anything else is a 400."""
    response = await raw.post("tickets", json={**TICKET, field: value})

    assert 400 == response.status_code
    assert [field] == list(error_of(response)["data"])


async def test_limit_above_100_is_refused(raw: httpx.AsyncClient) -> None:
    """Lists accept at most 100 items per page."""
    response = await raw.get("tickets", params={"limit": 101})

    assert 400 == response.status_code
    assert ["limit"] == list(error_of(response)["data"])


async def test_duplicate_customer_email_conflicts(raw: httpx.AsyncClient) -> None:
    """A second customer with the same e-mail gets 409 "The resource already exists."."""
    body = {"email": "a@example.com", "channels": [{"type": "email", "address": "a@example.com"}]}
    await raw.post("customers", json=body)

    response = await raw.post("customers", json=body)

    assert (409, {"msg": "The resource already exists."}) == (
        response.status_code,
        error_of(response),
    )


async def test_wrong_credentials_are_unauthorized(emulator: GorgiasEmulator) -> None:
    """Without the configured key every route answers 401 {"error":{"msg":"Unauthorized."}}."""
    async with httpx.AsyncClient(base_url=emulator.base_url) as anonymous:
        response = await anonymous.get("account", auth=("api@example.com", "nope"))

    assert (401, {"msg": "Unauthorized."}) == (response.status_code, error_of(response))


async def test_requests_are_recorded_without_credentials(
    raw: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """emu.requests keeps method, path, query and body, but never the Authorization header."""
    await raw.get("customers", params={"email": "a@example.com"})

    recorded = emulator.requests[0]
    assert ("GET", "/api/customers", {"email": "a@example.com"}) == (
        recorded.method,
        recorded.path,
        recorded.query,
    )
    assert "authorization" not in {k.lower() for k in recorded.headers}


async def test_rate_limit_headers_and_429(limited: GorgiasEmulator) -> None:
    """Every answer carries used/limit; past the allowance a 429 carries an integer Retry-After."""
    async with httpx.AsyncClient(base_url=limited.base_url, auth=AUTH) as client:
        answers = [await client.get("account") for _ in range(4)]

    header = "X-Gorgias-Account-Api-Call-Limit"
    assert [200, 200, 200, 429] == [a.status_code for a in answers]
    assert ["1/3", "2/3", "3/3"] == [a.headers[header] for a in answers[:3]]
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert 1 == limited.rate_limited


async def test_outage_answers_503(raw: httpx.AsyncClient, emulator: GorgiasEmulator) -> None:
    """With the outage switch on, every request gets 503."""
    emulator.faults.outage = True

    response = await raw.get("account")

    assert 503 == response.status_code


async def test_dropped_connection_gives_no_answer(
    raw: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """drop_rate=1 closes the connection without a response."""
    emulator.faults = Faults(drop_rate=1.0)

    with pytest.raises(httpx.RemoteProtocolError):
        await raw.get("account")


async def test_ticket_tags_add_replace_and_list(raw: httpx.AsyncClient) -> None:
    """POST adds tag names, PUT replaces them, GET lists them."""
    await raw.post("tickets", json=TICKET)

    added = await raw.post("tickets/1/tags", json={"names": ["a", "b"]})
    replaced = await raw.put("tickets/1/tags", json={"names": ["c"]})
    listed = await raw.get("tickets/1/tags")

    assert (201, 202) == (added.status_code, replaced.status_code)
    assert ["c"] == [t["name"] for t in listed.json()["data"]]


async def test_put_ticket_is_partial(raw: httpx.AsyncClient) -> None:
    """PUT changes only the fields sent."""
    await raw.post("tickets", json={**TICKET, "subject": "Keep me"})

    updated = (await raw.put("tickets/1", json={"status": "closed"})).json()

    assert ("closed", "Keep me") == (updated["status"], updated["subject"])
    assert updated["closed_datetime"] is not None


async def test_me_and_messages_by_ticket(raw: httpx.AsyncClient) -> None:
    """/api/users/0 is the key's user; /api/messages?ticket_id= lists a ticket's messages."""
    await raw.post("tickets", json=TICKET)
    await raw.post("tickets", json=TICKET)

    me = (await raw.get("users/0")).json()
    messages = (await raw.get("messages", params={"ticket_id": 2})).json()["data"]

    assert "api@example.com" == me["email"]
    assert [2] == [m["ticket_id"] for m in messages]


async def test_delete_ticket(raw: httpx.AsyncClient) -> None:
    """A deleted ticket is gone."""
    await raw.post("tickets", json=TICKET)

    deleted = await raw.delete("tickets/1")
    fetched = await raw.get("tickets/1")

    assert (204, 404) == (deleted.status_code, fetched.status_code)
