"""Ticket links: one per Slack message, its ticket recorded with its audit row, both databases."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError

from tests.support.db import Database
from ticketbolt.bot.db.audit import AuditLog
from ticketbolt.bot.db.links import Link, TicketLinks


async def test_reserve_answers_the_first_claim_of_a_message_to_every_caller(
    database: Database,
) -> None:
    """The first reservation makes a pending link; later ones get that link, not their own."""
    links = TicketLinks(database.sessions)
    first = await links.reserve("T1", "C1", "1.0", "1.0", "U1")
    again = await links.reserve("T1", "C1", "1.0", "1.0", "U2", "auto")
    expected = Link("T1", "C1", "1.0", "1.0", None, "pending", "U1", "reaction")
    assert (expected, expected) == (first, again)
    assert expected == await links.get("T1", "C1", "1.0")


async def test_concurrent_reservations_of_one_message_share_one_link(database: Database) -> None:
    """Ten reservations at once (two replicas' retries) leave one link, the same for all."""
    links = TicketLinks(database.sessions)
    found = await asyncio.gather(
        *(links.reserve("T1", "C1", "2.0", "2.0", f"U{i}") for i in range(10))
    )
    assert 1 == len(set(found))
    assert {"pending": 1} == await links.counts()


async def test_reserve_after_the_ticket_is_linked_answers_the_ticket(database: Database) -> None:
    """A retry that reserves again sees the ticket an earlier attempt linked."""
    links = TicketLinks(database.sessions)
    await links.reserve("T1", "C1", "3.0", "2.5", "U1")
    await links.set_ticket("T1", "C1", "3.0", 42, "open", 7)
    link = await links.reserve("T1", "C1", "3.0", "2.5", "U1")
    assert (42, "open", "2.5") == (link.ticket_id, link.status, link.thread_ts)
    assert link == await links.by_ticket(42)


async def test_set_ticket_records_its_audit_row_with_the_link(database: Database) -> None:
    """With audit fields, linking the ticket also writes one audit row with those fields."""
    links, audit = TicketLinks(database.sessions), AuditLog(database.sessions)
    await links.reserve("T1", "C1", "4.0", "4.0", "U1")
    fields = {
        "actor": "U1",
        "action": "create",
        "outcome": "ok",
        "team_id": "T1",
        "channel_id": "C1",
        "message_ts": "4.0",
        "ticket_id": 43,
    }
    await links.set_ticket("T1", "C1", "4.0", 43, "open", None, audit_fields=fields)
    [entry] = await audit.recent()
    recorded = {key: getattr(entry, key) for key in fields}
    assert (fields, "") == (recorded, entry.detail)
    link = await links.get("T1", "C1", "4.0")
    assert link is not None
    assert 43 == link.ticket_id


async def test_a_failed_audit_row_leaves_the_ticket_unlinked(database: Database) -> None:
    """The link and its audit row are one transaction: an audit row the database refuses
    (no actor) undoes the link too, so the job's retry finds the message still unlinked."""
    links, audit = TicketLinks(database.sessions), AuditLog(database.sessions)
    await links.reserve("T1", "C1", "5.0", "5.0", "U1")
    refused = {"actor": None, "action": "create", "outcome": "ok"}
    with pytest.raises(IntegrityError):
        await links.set_ticket("T1", "C1", "5.0", 44, "open", None, audit_fields=refused)
    link = await links.get("T1", "C1", "5.0")
    assert link is not None
    assert (None, "pending") == (link.ticket_id, link.status)
    assert [] == await audit.recent()
