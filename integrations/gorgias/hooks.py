"""Webhook registration: Gorgias calls us through an "HTTP integration" it stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ticketbolt.integrations.gorgias.models import Integration, parse_model
from ticketbolt.integrations.gorgias.transport import Transport

WEBHOOK_TRIGGERS = ("ticket-created", "ticket-updated", "ticket-message-created")


class IntegrationOperations:
    """Mixed into `GorgiasClient`; the name is the key, so registering is idempotent."""

    _t: Transport

    async def list_integrations(self, kind: str | None = "http") -> list[Integration]:
        params = {"type": kind, "limit": 100} if kind else {"limit": 100}
        pages = self._t.paginate("list_integrations", "integrations", params)
        return [parse_model(Integration, item) async for item in pages]

    async def register_http_integration(
        self,
        name: str,
        url: str,
        headers: Mapping[str, str],
        triggers: Iterable[str] = WEBHOOK_TRIGGERS,
        *,
        form: str | dict[str, Any] = "{{context}}",
    ) -> Integration:
        """Create the HTTP integration `name`, or update the one already registered under it."""
        body = {
            "name": name,
            "type": "http",
            "description": "Ticket events for the ticketbolt Slack bot.",
            "http": {
                "url": url,
                "method": "POST",
                "request_content_type": "application/json",
                "response_content_type": "application/json",
                "form": form,
                "headers": dict(headers),
                "triggers": dict.fromkeys(triggers, True),
            },
        }
        existing = await self._integration_named(name, retry=True)
        if existing is not None:
            path = f"integrations/{existing.id}"
            data = await self._t.call("update_integration", "PUT", path, json=body)
            return parse_model(Integration, data)

        async def create() -> Integration:
            data = await self._t.send("create_integration", "POST", "integrations", json=body)
            return parse_model(Integration, data)

        async def find() -> Integration | None:
            return await self._integration_named(name, retry=False)

        return await self._t.create_once("create_integration", create, find)

    async def _integration_named(self, name: str, *, retry: bool) -> Integration | None:
        params = {"type": "http", "limit": 100}
        pages = self._t.paginate("list_integrations", "integrations", params, retry=retry)
        named = [parse_model(Integration, item) async for item in pages if item.get("name") == name]
        return named[0] if named else None
