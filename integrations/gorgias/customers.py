"""Customer operations of the Gorgias client: look up by e-mail or external id, create once."""

from __future__ import annotations

import asyncio

from ticketbolt.integrations.gorgias.errors import GorgiasConflict
from ticketbolt.integrations.gorgias.models import Customer, parse_model
from ticketbolt.integrations.gorgias.transport import Transport


class CustomerOperations:
    """Mixed into `GorgiasClient`; a customer's e-mail is its natural key (409 when taken)."""

    _t: Transport
    _ensuring: dict[str, asyncio.Future[Customer]]

    async def find_customer_by_email(self, email: str, *, retry: bool = True) -> Customer | None:
        item = await self._t.first_item("find_customer", "customers", {"email": email}, retry=retry)
        return parse_model(Customer, item) if item else None

    async def find_customer_by_external_id(
        self, external_id: str, *, retry: bool = True
    ) -> Customer | None:
        params = {"external_id": external_id}
        item = await self._t.first_item("find_customer", "customers", params, retry=retry)
        return parse_model(Customer, item) if item else None

    async def create_customer(
        self, *, email: str | None, name: str | None = None, external_id: str | None = None
    ) -> Customer:
        """Create a customer; an e-mail already taken (409) returns that existing customer."""
        channels = [{"type": "email", "address": email, "preferred": True}] if email else []
        fields = {"email": email, "name": name, "external_id": external_id}
        payload = {**{k: v for k, v in fields.items() if v is not None}, "channels": channels}

        async def create() -> Customer:
            try:
                data = await self._t.send("create_customer", "POST", "customers", json=payload)
            except GorgiasConflict:
                found = await self.find_customer_by_email(email, retry=False) if email else None
                if found is None:
                    raise
                return found
            return parse_model(Customer, data)

        async def find() -> Customer | None:
            if email:
                return await self.find_customer_by_email(email, retry=False)
            if external_id:
                return await self.find_customer_by_external_id(external_id, retry=False)
            return None

        return await self._t.create_once("create_customer", create, find)

    async def ensure_customer(
        self, *, email: str | None, name: str | None = None, external_id: str | None = None
    ) -> Customer:
        """The customer with this e-mail (else this external id), created when missing.

        Concurrent calls for one customer in this process share one look-up and one create, so
        two tickets opened at once for one person (or organisation) make one customer."""
        key = f"email:{email.lower()}" if email else f"external:{external_id}"
        running = self._ensuring.get(key)
        if running is None:
            running = asyncio.ensure_future(self._ensure(email, name, external_id))
            self._ensuring[key] = running
            running.add_done_callback(lambda _: self._ensuring.pop(key, None))
        return await asyncio.shield(running)

    async def _ensure(
        self, email: str | None, name: str | None, external_id: str | None
    ) -> Customer:
        found = (
            await self.find_customer_by_email(email)
            if email
            else await self.find_customer_by_external_id(external_id)
            if external_id
            else None
        )
        if found is not None:
            return found
        return await self.create_customer(email=email, name=name, external_id=external_id)
