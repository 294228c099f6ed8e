"""Retries: idempotent calls ride out injected failures; creations never happen twice."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from ticketbolt.integrations.gorgias import (
    CustomerRef,
    GorgiasClient,
    GorgiasRateLimited,
    GorgiasUnavailable,
    NewTicket,
)
from ticketbolt.integrations.gorgias.emulator import Faults, GorgiasEmulator


def new_ticket(external_id: str) -> NewTicket:
    return NewTicket(
        subject="Help",
        body_text="Please help",
        customer=CustomerRef(email="ann@example.com"),
        external_id=external_id,
    )


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_idempotent_calls_survive_30_percent_failures(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """With 15 % 503 and 15 % 429 injected, every read and status change still succeeds."""
    client = GorgiasClient(http, max_attempts=20, backoff_base=0.001, backoff_max=0.002)
    ticket = await client.create_ticket(new_ticket("seed"))
    emulator.faults = Faults(error_rate=0.15, rate_limit_rate=0.15, seed=7)

    for _ in range(40):
        assert ticket.id == (await client.get_ticket(ticket.id)).id
    assert "closed" == (await client.close_ticket(ticket.id)).status
    assert "acme" == (await client.get_account()).domain

    statuses = Counter(r.status for r in emulator.requests)
    assert statuses[503] > 0
    assert statuses[429] > 0


async def test_lost_create_response_returns_the_existing_ticket(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """When the create answer is lost, the retry finds the ticket by external_id."""
    emulator.faults.lose_next_create_response = True

    ticket = await client.create_ticket(new_ticket("T1:C1:100.1"))

    held = [t for t in emulator.tickets.values() if t["external_id"] == "T1:C1:100.1"]
    assert [ticket.id] == [t["id"] for t in held]
    assert 1 == emulator.count("POST", "/api/tickets")


async def test_creations_under_failures_are_never_duplicated(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """Under 503s and dropped connections each external_id ends up on exactly one ticket."""
    client = GorgiasClient(http, max_attempts=30, backoff_base=0.001, backoff_max=0.002)
    emulator.faults = Faults(error_rate=0.2, drop_rate=0.1, seed=3)

    for n in range(15):
        await client.create_ticket(new_ticket(f"key-{n}"))

    per_key = Counter(t["external_id"] for t in emulator.tickets.values())
    assert {f"key-{n}": 1 for n in range(15)} == dict(per_key)


async def test_lost_message_response_posts_the_message_once(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """A message whose answer was lost is found by its external_id, not posted again."""
    ticket = await client.create_ticket(new_ticket("key-1"))
    emulator.faults.lose_next_message_response = True

    message = await client.add_message(
        ticket.id,
        body_text="second",
        from_agent=False,
        sender=CustomerRef(email="ann@example.com"),
        external_id="slack:2.0",
    )

    texts = [m["body_text"] for m in emulator.state.ticket_messages(ticket.id)]
    assert ["Please help", "second"] == texts
    assert "slack:2.0" == message.external_id


async def test_create_after_429_is_retried_without_lookup(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """A 429 means nothing was created, so the retry posts again without a lookup first."""
    sleep = RecordingSleep()
    client = GorgiasClient(http, max_attempts=3, backoff_max=30.0, sleep=sleep)
    emulator.faults = Faults(rate_limit_rate=1.0)
    with pytest.raises(GorgiasRateLimited):
        await client.create_ticket(new_ticket("key-1"))

    assert 3 == emulator.count("POST", "/api/tickets")
    assert 0 == emulator.count("GET", "/api/tickets")
    assert all(delay >= 1.0 for delay in sleep.delays)  # Retry-After: 1 is honoured


async def test_retry_after_is_capped_by_backoff_max(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """A long Retry-After never makes the client sleep longer than backoff_max plus jitter."""
    sleep = RecordingSleep()
    client = GorgiasClient(http, max_attempts=2, backoff_base=0.01, backoff_max=0.5, sleep=sleep)
    emulator.faults = Faults(rate_limit_rate=1.0)
    with pytest.raises(GorgiasRateLimited):
        await client.get_account()

    assert [True] == [0.5 <= delay <= 0.51 for delay in sleep.delays]


async def test_gives_up_after_max_attempts(
    http: httpx.AsyncClient, emulator: GorgiasEmulator
) -> None:
    """During an outage a read is tried max_attempts times, then GorgiasUnavailable is raised."""
    client = GorgiasClient(http, max_attempts=3, sleep=RecordingSleep())
    emulator.faults.outage = True

    with pytest.raises(GorgiasUnavailable) as caught:
        await client.get_account()

    assert 503 == caught.value.status
    assert 3 == emulator.count("GET", "/api/account")


async def test_client_errors_are_not_retried(
    client: GorgiasClient, emulator: GorgiasEmulator
) -> None:
    """A 4xx answer is final: one request, no retry."""
    with pytest.raises(Exception, match="404"):
        await client.get_ticket(4242)

    assert 1 == emulator.count("GET", "/api/tickets/4242")
