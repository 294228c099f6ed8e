"""Webhooks: HTTP integrations registered through the client are called on ticket events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ticketbolt.integrations.gorgias import CustomerRef, GorgiasClient, NewTicket
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator


@dataclass
class Receiver:
    """A tiny HTTP endpoint standing in for the bot's /gorgias/webhook."""

    url: str
    calls: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An aiohttp server on loopback that records each call's headers and JSON body."""
    app = web.Application()
    box = Receiver(url="")

    async def hook(request: web.Request) -> web.Response:
        box.calls.append((dict(request.headers), await request.json()))
        return web.json_response({"ok": True}, status=box.status)

    app.router.add_post("/gorgias/webhook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    box.url = f"http://127.0.0.1:{port}/gorgias/webhook"
    try:
        yield box
    finally:
        await runner.cleanup()


async def open_ticket(client: GorgiasClient) -> int:
    customer = CustomerRef(email="a@example.com")
    new = NewTicket(subject="Late", body_text="Where?", customer=customer, external_id="T1:C1:1")
    ticket = await client.create_ticket(new)
    return ticket.id


async def test_agent_reply_reaches_the_registered_webhook(
    client: GorgiasClient, emulator: GorgiasEmulator, receiver: Receiver
) -> None:
    """After registering, an agent's reply arrives as JSON with ticket, message and our header."""
    await client.register_http_integration(
        "ticketbolt", receiver.url, {"X-Ticketbolt-Token": "s3cret"}
    )
    ticket_id = await open_ticket(client)

    await emulator.agent_reply(ticket_id, "We are on it", agent_name="Sam")
    await emulator.wait_webhooks_idle()

    headers, body = receiver.calls[-1]
    assert "s3cret" == headers["X-Ticketbolt-Token"]
    assert ticket_id == body["ticket"]["id"]
    assert ("We are on it", True) == (body["message"]["body_text"], body["message"]["from_agent"])
    assert "ticket-message-created" == body["event"]["type"]
    expected = ["ticket-created", "ticket-message-created"]
    assert expected == [b["event"]["type"] for _, b in receiver.calls]


async def test_status_change_fires_ticket_updated(
    client: GorgiasClient, emulator: GorgiasEmulator, receiver: Receiver
) -> None:
    """An agent closing the ticket in the UI sends ticket-updated with the new status."""
    await client.register_http_integration("ticketbolt", receiver.url, {}, ["ticket-updated"])
    ticket_id = await open_ticket(client)

    await emulator.agent_set_status(ticket_id, "closed", agent_name="Sam")
    await emulator.wait_webhooks_idle()

    assert [("ticket-updated", "closed")] == [
        (b["event"]["type"], b["ticket"]["status"]) for _, b in receiver.calls
    ]


async def test_placeholders_are_rendered(
    client: GorgiasClient, emulator: GorgiasEmulator, receiver: Receiver
) -> None:
    """`{{ticket.id}}`-style placeholders in the form and headers are filled in."""
    form = {"id": "{{ticket.id}}", "who": "{{ticket.customer.email}}", "text": "#{{ticket.id}}!"}
    await client.register_http_integration(
        "custom", receiver.url, {"X-Ticket": "{{ticket.id}}"}, ["ticket-created"], form=form
    )

    ticket_id = await open_ticket(client)
    await emulator.wait_webhooks_idle()

    headers, body = receiver.calls[0]
    assert {"id": str(ticket_id), "who": "a@example.com", "text": f"#{ticket_id}!"} == body
    assert str(ticket_id) == headers["X-Ticket"]


async def test_failed_deliveries_are_counted(
    client: GorgiasClient, emulator: GorgiasEmulator, receiver: Receiver
) -> None:
    """A receiver answering 500 is recorded as a failed delivery."""
    receiver.status = 500
    await client.register_http_integration("ticketbolt", receiver.url, {})

    await open_ticket(client)
    await emulator.wait_webhooks_idle()

    assert [(receiver.url, 500)] == [(d.url, d.status) for d in emulator.deliveries]
    assert 1 == emulator.hooks.failures
