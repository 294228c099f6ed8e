"""The async Gorgias REST client: typed operations over one pooled, injected httpx client."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

from ticketbolt.integrations.gorgias.customers import CustomerOperations
from ticketbolt.integrations.gorgias.hooks import IntegrationOperations
from ticketbolt.integrations.gorgias.http import ticket_link
from ticketbolt.integrations.gorgias.metrics import GorgiasMetrics
from ticketbolt.integrations.gorgias.models import (
    Account,
    Customer,
    CustomerRef,
    NewTicket,
    RateLimitUsage,
    SatisfactionSurvey,
    Ticket,
    TicketMessage,
    TicketStatus,
    User,
    parse_model,
)
from ticketbolt.integrations.gorgias.transport import Sleep, Transport
from ticketbolt.integrations.resilience import CircuitBreaker, CircuitState, RateLimiter

logger = logging.getLogger(__name__)
# How long the list of Gorgias users is trusted; a miss re-reads it once it is this old.
USERS_TTL = 300.0
USERS_MISS_REFRESH = 30.0


class GorgiasClient(CustomerOperations, IntegrationOperations):
    """Typed Gorgias operations. Reads (GET), PUT and DELETE are retried; creations go through
    `Transport.create_once`, which looks up the object's own key before sending it again.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        metrics: GorgiasMetrics | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._t = Transport(
            http,
            limiter=limiter,
            breaker=breaker,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            metrics=metrics,
            sleep=sleep,
        )
        self._me: User | None = None
        # Agents' e-mails → Gorgias users, for claims; refreshed when old or on a stale miss.
        self._users_by_email: dict[str, User] = {}
        self._ensuring: dict[str, asyncio.Future[Customer]] = {}  # ensure_customer in flight
        self._users_read_at = -USERS_TTL

    @property
    def breaker_state(self) -> CircuitState:
        return self._t.breaker_state

    @property
    def rate_limit(self) -> RateLimitUsage | None:
        """The last `used/limit` Gorgias reported, for status pages."""
        return self._t.last_rate_limit

    def ticket_link(self, ticket_id: int) -> str:
        return ticket_link(str(self._t.http.base_url), ticket_id)

    async def ping(self) -> float:
        """One cheap request (no retries); returns its latency in seconds."""
        started = time.perf_counter()
        await self._t.call("ping", "GET", "account", retry=False)
        return time.perf_counter() - started

    async def get_account(self) -> Account:
        return parse_model(Account, await self._t.call("get_account", "GET", "account"))

    async def get_current_user(self) -> User:
        if self._me is None:
            self._me = parse_model(User, await self._t.call("get_user", "GET", "users/0"))
        return self._me

    # Users

    async def list_users(self) -> list[User]:
        """Every helpdesk user (agents, admins, the API user), page by page."""
        pages = self._t.paginate("list_users", "users", {"limit": 100})
        return [parse_model(User, item) async for item in pages]

    async def find_user_by_email(self, email: str) -> User | None:
        """The Gorgias user with this e-mail (case-insensitive), from a list kept a few minutes."""
        wanted = email.strip().lower()
        age = time.monotonic() - self._users_read_at
        if age > USERS_TTL or (wanted not in self._users_by_email and age > USERS_MISS_REFRESH):
            users = await self.list_users()
            self._users_by_email = {u.email.lower(): u for u in users if u.email}
            self._users_read_at = time.monotonic()
        return self._users_by_email.get(wanted)

    async def assign_ticket(self, ticket_id: int, user_id: int | None) -> Ticket:
        """Make `user_id` the ticket's assignee; None unassigns."""
        data = await self._t.call(
            "assign_ticket", "PUT", f"tickets/{ticket_id}", json={"assignee_user": {"id": user_id}}
        )
        return parse_model(Ticket, data) if data else await self.get_ticket(ticket_id)

    # Tickets

    async def create_ticket(self, ticket: NewTicket) -> Ticket:
        """Create a ticket once: after an unknown outcome it is looked up by `external_id`."""
        payload = ticket.payload()

        async def create() -> Ticket:
            data = await self._t.send("create_ticket", "POST", "tickets", json=payload)
            return parse_model(Ticket, data)

        async def find() -> Ticket | None:
            found = await self.find_ticket_by_external_id(ticket.external_id, retry=False)
            return await self._get_ticket(found.id, retry=False) if found else None

        created = await self._t.create_once("create_ticket", create, find)
        logger.info("gorgias ticket %d ready", created.id)
        return created

    async def get_ticket(self, ticket_id: int) -> Ticket:
        return await self._get_ticket(ticket_id, retry=True)

    async def find_ticket_by_external_id(
        self, external_id: str, *, retry: bool = True
    ) -> Ticket | None:
        params = {"external_id": external_id}
        item = await self._t.first_item("find_ticket", "tickets", params, retry=retry)
        return parse_model(Ticket, item) if item else None

    async def set_status(self, ticket_id: int, status: TicketStatus) -> Ticket:
        data = await self._t.call(
            f"{'close' if status == 'closed' else 'reopen'}_ticket",
            "PUT",
            f"tickets/{ticket_id}",
            json={"status": status},
        )
        # Whether Gorgias answers 200 with the ticket or 202 with no body is undocumented.
        return parse_model(Ticket, data) if data else await self.get_ticket(ticket_id)

    async def close_ticket(self, ticket_id: int) -> Ticket:
        return await self.set_status(ticket_id, "closed")

    async def reopen_ticket(self, ticket_id: int) -> Ticket:
        return await self.set_status(ticket_id, "open")

    async def add_tags(self, ticket_id: int, names: Iterable[str]) -> None:
        # POST here only adds names to a set, so repeating it is harmless and may be retried.
        body = {"names": list(names)}
        await self._t.call("add_tags", "POST", f"tickets/{ticket_id}/tags", json=body)

    async def iter_tickets(
        self,
        *,
        limit: int = 100,
        customer_id: int | None = None,
        external_id: str | None = None,
        order_by: str | None = None,
    ) -> AsyncIterator[Ticket]:
        """Every ticket (compact form, without messages), page by page; `limit` is the page size."""
        filters = {"customer_id": customer_id, "external_id": external_id, "order_by": order_by}
        params = {"limit": limit, **{k: v for k, v in filters.items() if v is not None}}
        async for item in self._t.paginate("list_tickets", "tickets", params):
            yield parse_model(Ticket, item)

    # Messages

    async def add_message(
        self,
        ticket_id: int,
        *,
        body_text: str,
        from_agent: bool,
        sender: CustomerRef,
        channel: str = "api",
        body_html: str | None = None,
        receiver: CustomerRef | None = None,
        external_id: str | None = None,
        public: bool = True,
        deliver: bool = False,
    ) -> TicketMessage:
        """Add a message. By default `sent_datetime` is set, so Gorgias records it without sending
        it to anyone (mirroring); `deliver=True` leaves it empty and Gorgias sends it.
        """
        payload: dict[str, Any] = {
            "channel": channel,
            "via": "api",
            "from_agent": from_agent,
            "public": public,
            "body_text": body_text,
            "sender": sender.payload(),
        }
        if body_html is not None:
            payload["body_html"] = body_html
        if receiver is not None:
            payload["receiver"] = receiver.payload()
        if not deliver:
            payload["sent_datetime"] = datetime.now(UTC).isoformat()
        return await self._post_message("add_message", ticket_id, payload, external_id)

    async def add_internal_note(
        self,
        ticket_id: int,
        body_text: str,
        *,
        body_html: str | None = None,
        sender_id: int | None = None,
        mention_ids: Iterable[int] = (),
        external_id: str | None = None,
    ) -> TicketMessage:
        """An internal note (agents only), written as `sender_id` or as the API key's user."""
        author = sender_id if sender_id is not None else (await self.get_current_user()).id
        payload: dict[str, Any] = {
            "channel": "internal-note",
            "via": "api",
            "from_agent": True,
            "public": False,
            "body_text": body_text,
            "sender": {"id": author},
        }
        if body_html is not None:
            payload["body_html"] = body_html
        if mentions := list(mention_ids):
            payload["mention_ids"] = mentions
        return await self._post_message("add_internal_note", ticket_id, payload, external_id)

    async def list_ticket_messages(
        self, ticket_id: int, *, retry: bool = True
    ) -> list[TicketMessage]:
        """All messages of a ticket, oldest first."""
        params = {"ticket_id": ticket_id, "limit": 100}
        pages = self._t.paginate("list_messages", "messages", params, retry=retry)
        messages = [parse_model(TicketMessage, item) async for item in pages]
        return sorted(messages, key=lambda m: m.id)

    async def list_satisfaction_surveys(self, ticket_id: int) -> list[SatisfactionSurvey]:
        """The ticket's satisfaction surveys (scored or not), page by page."""
        params = {"ticket_id": ticket_id, "limit": 100}
        pages = self._t.paginate("list_satisfaction_surveys", "satisfaction-surveys", params)
        return [parse_model(SatisfactionSurvey, item) async for item in pages]

    # Helpers

    async def _post_message(
        self, op: str, ticket_id: int, payload: dict[str, Any], external_id: str | None
    ) -> TicketMessage:
        # Posting a message twice would show (or send) it twice, so every message carries an
        # external_id and an attempt after an unknown outcome first lists the ticket's messages.
        key = external_id or f"ticketbolt:{uuid.uuid4().hex}"
        body = {**payload, "external_id": key}
        path = f"tickets/{ticket_id}/messages"

        async def create() -> TicketMessage:
            return parse_model(TicketMessage, await self._t.send(op, "POST", path, json=body))

        async def find() -> TicketMessage | None:
            messages = await self.list_ticket_messages(ticket_id, retry=False)
            return next((m for m in messages if m.external_id == key), None)

        return await self._t.create_once(op, create, find)

    async def _get_ticket(self, ticket_id: int, *, retry: bool) -> Ticket:
        data = await self._t.call("get_ticket", "GET", f"tickets/{ticket_id}", retry=retry)
        return parse_model(Ticket, data)
