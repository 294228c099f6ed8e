"""Satisfaction surveys: `GET /api/satisfaction-surveys` in the emulator and the client."""

from __future__ import annotations

import json

import httpx

from ticketbolt.integrations.gorgias import GorgiasClient
from ticketbolt.integrations.gorgias.emulator import GorgiasEmulator

AUTH = httpx.BasicAuth("api@example.com", "emulator-key")
TICKET = {
    "customer": {"email": "ann@example.com"},
    "messages": [{"channel": "api", "from_agent": False, "body_text": "hello"}],
}


def rated(emulator: GorgiasEmulator, count: int) -> list[int]:
    """`count` tickets, each with a scored survey (scores cycling 1…5); their ids."""
    ids = []
    for n in range(count):
        ticket = emulator.state.create_ticket(TICKET)
        emulator.state.rate(ticket["id"], n % 5 + 1, f"comment {n}")
        ids.append(ticket["id"])
    return ids


async def test_surveys_list_is_a_cursor_envelope_filtered_by_ticket(
    emulator: GorgiasEmulator,
) -> None:
    """The list is paginated like every other list (limit, `meta.next_cursor`) and
    `ticket_id=` narrows it to that ticket's survey, with Gorgias' survey fields."""
    ids = rated(emulator, 5)
    async with httpx.AsyncClient(base_url=emulator.base_url, auth=AUTH) as raw:
        first = (await raw.get("satisfaction-surveys", params={"limit": 2})).json()
        cursor = first["meta"]["next_cursor"]
        second = await raw.get("satisfaction-surveys", params={"limit": 2, "cursor": cursor})
        one = (await raw.get("satisfaction-surveys/", params={"ticket_id": ids[3]})).json()
        bad = await raw.get("satisfaction-surveys", params={"ticket_id": "x"})
        too_many = await raw.get("satisfaction-surveys", params={"limit": 101})

    assert ("list", 2, None) == (first["object"], len(first["data"]), first["meta"]["prev_cursor"])
    assert 2 == len(second.json()["data"])
    assert not {s["id"] for s in first["data"]} & {s["id"] for s in second.json()["data"]}
    [survey] = one["data"]
    assert (ids[3], 4, "comment 3") == (survey["ticket_id"], survey["score"], survey["body_text"])
    fields = {"uri", "customer_id", "created_datetime", "sent_datetime", "scored_datetime"}
    assert fields <= set(survey)
    assert (400, 400) == (bad.status_code, too_many.status_code)


async def test_client_reads_every_page_of_a_tickets_surveys(
    emulator: GorgiasEmulator, client: GorgiasClient
) -> None:
    """`list_satisfaction_surveys` returns the ticket's scored survey; none before the answer."""
    [ticket_id] = rated(emulator, 1)
    unrated = emulator.state.create_ticket(TICKET)["id"]

    [survey] = await client.list_satisfaction_surveys(ticket_id)

    assert (1, "comment 0") == (survey.score, survey.body_text)
    assert [] == await client.list_satisfaction_surveys(unrated)
    assert {"ticket_id": str(ticket_id), "limit": "100"} == emulator.requests[-2].query


async def test_client_accepts_the_bare_array_the_published_schema_describes() -> None:
    """Gorgias' schema for this list shows a bare array rather than the envelope: read it too."""
    body = [{"id": 7, "ticket_id": 3, "score": 5, "body_text": "Great"}]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=json.dumps(body), headers={"content-type": "application/json"}
        )

    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(base_url="http://gorgias.test/api/", transport=transport) as http:
        [survey] = await GorgiasClient(http).list_satisfaction_surveys(3)

    assert (7, 5) == (survey.id, survey.score)


async def test_a_rating_shows_on_the_ticket(emulator: GorgiasEmulator) -> None:
    """The customer's answer fills the ticket's `satisfaction_survey` (tests/handlers/
    test_sla_csat.py follows its `ticket-updated` delivery)."""
    ticket_id = emulator.state.create_ticket(TICKET)["id"]
    survey = await emulator.customer_rates(ticket_id, 2, "Slow")

    assert survey == emulator.state.ticket_view(emulator.tickets[ticket_id])["satisfaction_survey"]
