"""Contract tests: every client operation against the Gorgias emulator over loopback HTTP."""

from __future__ import annotations

import logging

import httpx
import pytest
from prometheus_client import CollectorRegistry

from ticketbolt.integrations.gorgias import (
    CustomerRef,
    GorgiasClient,
    GorgiasConflict,
    GorgiasError,
    GorgiasMetrics,
    GorgiasNotFound,
    GorgiasRejected,
    GorgiasUnauthorized,
    NewTicket,
    account_base_url,
    build_http_client,
    ticket_link,
)
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator


def new_ticket(external_id: str, email: str = "ann@example.com", **extra: object) -> NewTicket:
    return NewTicket(
        subject="Order late",
        body_text="Where is my order?",
        customer=CustomerRef(email=email, name="Ann"),
        external_id=external_id,
        **extra,  # type: ignore[arg-type]
    )


async def test_account_and_ping(client: GorgiasClient) -> None:
    """get_account returns the account's domain; ping answers with a latency in seconds."""
    account = await client.get_account()
    latency = await client.ping()

    assert "acme" == account.domain
    assert latency >= 0.0


async def test_create_and_find_customer(client: GorgiasClient, emulator: GorgiasEmulator) -> None:
    """A created customer is found again by e-mail and by external id, with an e-mail channel."""
    created = await client.create_customer(email="bob@example.com", name="Bob", external_id="U1")

    by_email = await client.find_customer_by_email("bob@example.com")
    by_external = await client.find_customer_by_external_id("U1")

    assert created == by_email == by_external
    channel = {"type": "email", "address": "bob@example.com", "preferred": True}
    assert [channel] == emulator.requests[0].json["channels"]
    assert await client.find_customer_by_email("nobody@example.com") is None


async def test_create_customer_conflict_returns_existing(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """A 409 for a taken e-mail is answered with the customer who already has it."""
    first = await client.create_customer(email="bob@example.com", name="Bob")

    second = await client.create_customer(email="bob@example.com", name="Robert")

    assert first.id == second.id
    assert 1 == len(emulator.state.customers)
    assert 1 == emulator.count("POST", "/api/customers", status=409)


async def test_ensure_customer_does_not_create_twice(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """ensure_customer looks up first, so a known customer costs no POST."""
    first = await client.ensure_customer(email="bob@example.com", name="Bob")
    second = await client.ensure_customer(email="bob@example.com", name="Bob")

    assert first.id == second.id
    assert 1 == emulator.count("POST", "/api/customers")


async def test_create_ticket_sends_an_api_ticket(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """create_ticket sends via/channel api, from_agent false, the external id and the tags."""
    ticket = await client.create_ticket(new_ticket("T1:C1:1.0", tags=("slack", "vip")))

    posted = next(r.json for r in emulator.requests if r.method == "POST")
    assert ("api", "api", False) == (posted["via"], posted["channel"], posted["from_agent"])
    assert {"channel", "via", "from_agent", "sender", "body_text"} <= set(posted["messages"][0])
    assert "T1:C1:1.0" == ticket.external_id
    assert ["slack", "vip"] == [tag.name for tag in ticket.tags]
    assert "ann@example.com" == (ticket.customer.email if ticket.customer else None)
    assert ["Where is my order?"] == [m.body_text for m in ticket.messages]


async def test_get_and_find_ticket(client: GorgiasClient) -> None:
    """get_ticket reads by id; find_ticket_by_external_id finds the ticket or returns None."""
    created = await client.create_ticket(new_ticket("key-1"))

    fetched = await client.get_ticket(created.id)
    found = await client.find_ticket_by_external_id("key-1")

    assert created.id == fetched.id == (found.id if found else None)
    assert await client.find_ticket_by_external_id("key-2") is None


async def test_close_and_reopen(client: GorgiasClient, emulator: GorgiasEmulator) -> None:
    """close_ticket and reopen_ticket PUT only the status."""
    ticket = await client.create_ticket(new_ticket("key-1"))

    closed = await client.close_ticket(ticket.id)
    reopened = await client.reopen_ticket(ticket.id)

    assert ("closed", "open") == (closed.status, reopened.status)
    puts = [r.json for r in emulator.requests if r.method == "PUT"]
    assert [{"status": "closed"}, {"status": "open"}] == puts


async def test_add_message_imports_rather_than_sends(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """A mirrored message carries sent_datetime (imported, not sent) and an external id."""
    ticket = await client.create_ticket(new_ticket("key-1"))

    message = await client.add_message(
        ticket.id,
        body_text="Any news?",
        from_agent=False,
        sender=CustomerRef(email="ann@example.com"),
        external_id="slack:1.5",
    )

    posted = emulator.requests[-1].json
    assert "sent_datetime" in posted
    assert "slack:1.5" == posted["external_id"] == message.external_id
    messages = await client.list_ticket_messages(ticket.id)
    assert ["Where is my order?", "Any news?"] == [m.body_text for m in messages]


async def test_add_message_deliver_leaves_sent_datetime_empty(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """deliver=True omits sent_datetime so that Gorgias sends the reply to the customer."""
    ticket = await client.create_ticket(new_ticket("key-1"))

    await client.add_message(
        ticket.id, body_text="On its way", from_agent=True, sender=CustomerRef(id=1), deliver=True
    )

    assert "sent_datetime" not in emulator.requests[-1].json


async def test_internal_note(client: GorgiasClient) -> None:
    """An internal note is private, from an agent: the API key's user unless told otherwise."""
    ticket = await client.create_ticket(new_ticket("key-1"))
    me = await client.get_current_user()

    note = await client.add_internal_note(ticket.id, "Escalated from Slack", mention_ids=[me.id])

    assert ("internal-note", False, True) == (note.channel, note.public, note.from_agent)
    assert me.id == (note.sender.id if note.sender else None)


async def test_add_tags_is_additive(client: GorgiasClient) -> None:
    """add_tags adds names and keeps the ones already there."""
    ticket = await client.create_ticket(new_ticket("key-1", tags=("slack",)))

    await client.add_tags(ticket.id, ["urgent", "slack"])

    assert ["slack", "urgent"] == [t.name for t in (await client.get_ticket(ticket.id)).tags]


async def test_iter_tickets_follows_cursors(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """Seven tickets in pages of three arrive complete, in three list requests."""
    for n in range(7):
        await client.create_ticket(new_ticket(f"key-{n}"))

    seen = [t.external_id async for t in client.iter_tickets(limit=3)]

    assert sorted(f"key-{n}" for n in range(7)) == sorted(seen)
    assert 3 == emulator.count("GET", "/api/tickets")


async def test_register_http_integration_is_idempotent(client: GorgiasClient) -> None:
    """Registering under the same name again updates that integration instead of adding one."""
    first = await client.register_http_integration(
        "ticketbolt", "https://bot.example/gorgias/webhook", {"X-Ticketbolt-Token": "s1"}
    )
    second = await client.register_http_integration(
        "ticketbolt", "https://bot.example/gorgias/webhook", {"X-Ticketbolt-Token": "s2"}
    )

    integrations = await client.list_integrations()
    assert [first.id] == [i.id for i in integrations] == [second.id]
    assert {"X-Ticketbolt-Token": "s2"} == (second.http or {})["headers"]
    assert "{{context}}" == (second.http or {})["form"]


async def test_validation_errors_carry_field_messages(client: GorgiasClient) -> None:
    """A 400 surfaces as GorgiasRejected with Gorgias' per-field messages."""
    with pytest.raises(GorgiasRejected) as caught:
        await client.create_ticket(
            NewTicket(subject="s", body_text="b", customer=CustomerRef(id=999), external_id="k")
        )

    assert {"customer": ["Customer not found."]} == caught.value.field_errors
    assert 400 == caught.value.status


async def test_wrong_key_is_unauthorized_and_not_retried(emulator: GorgiasEmulator) -> None:
    """401 raises GorgiasUnauthorized after exactly one request."""
    async with build_http_client(emulator.base_url, "api@example.com", "wrong") as http:
        client = GorgiasClient(http, backoff_base=0.001)
        with pytest.raises(GorgiasUnauthorized):
            await client.get_account()

    assert 1 == len(emulator.requests)


async def test_missing_ticket_is_not_found(client: GorgiasClient) -> None:
    """404 raises GorgiasNotFound."""
    with pytest.raises(GorgiasNotFound):
        await client.get_ticket(12345)


async def test_html_error_body_is_summarised() -> None:
    """An HTML error page (unknown subdomain) becomes a short plain message, not markup."""
    page = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
    transport = httpx.MockTransport(lambda _: httpx.Response(404, html=page))
    async with httpx.AsyncClient(transport=transport, base_url="https://x.gorgias.com/api/") as h:
        with pytest.raises(GorgiasNotFound) as caught:
            await GorgiasClient(h).get_account()

    assert "404 Not Found: 404 Not Found Not Found" == caught.value.message


async def test_conflict_without_a_match_is_raised() -> None:
    """A 409 whose customer cannot be found again is raised rather than hidden."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"error": {"msg": "The resource already exists."}})
        return httpx.Response(200, json={"data": [], "meta": {"next_cursor": None}})

    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport, base_url="https://x.gorgias.com/api/") as h:
        with pytest.raises(GorgiasConflict):
            await GorgiasClient(h).create_customer(email="x@example.com")


async def test_repeated_cursor_stops_pagination() -> None:
    """A server that hands out the same cursor twice raises instead of looping for ever."""
    page = {"data": [{"id": 1}], "meta": {"next_cursor": "c1"}}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=page))
    async with httpx.AsyncClient(transport=transport, base_url="https://x.gorgias.com/api/") as h:
        with pytest.raises(GorgiasError, match="cursor"):
            _ = [t async for t in GorgiasClient(h).iter_tickets()]


def test_urls() -> None:
    """The API base comes from the account; ticket links come from the API base."""
    assert "https://acme.gorgias.com/api/" == account_base_url("acme")
    assert "https://acme.gorgias.com/app/ticket/7" == ticket_link(account_base_url("acme"), 7)
    assert "http://127.0.0.1:9/app/ticket/7" == ticket_link("http://127.0.0.1:9/api/", 7)


async def test_factory_quietens_httpx_and_normalises_base() -> None:
    """build_http_client raises the httpx logger to WARNING and ends the base URL in /api/."""
    async with build_http_client("http://127.0.0.1:9", "u@example.com", "k") as http:
        assert "http://127.0.0.1:9/api/" == str(http.base_url)
    assert logging.WARNING == logging.getLogger("httpx").level


async def test_metrics_count_requests(http: httpx.AsyncClient) -> None:
    """Each request is counted by operation and outcome, on the registry the caller passed."""
    registry = CollectorRegistry()
    client = GorgiasClient(http, metrics=GorgiasMetrics(registry))

    await client.get_account()
    with pytest.raises(GorgiasNotFound):
        await client.get_ticket(99)

    def requests(operation: str, outcome: str) -> float | None:
        labels = {"operation": operation, "outcome": outcome}
        return registry.get_sample_value("ticketbolt_gorgias_requests_total", labels)

    assert (1.0, 1.0) == (requests("get_account", "ok"), requests("get_ticket", "not_found"))
