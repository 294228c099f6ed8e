"""Gorgias helpdesk: the async REST client, its errors and models, and a local emulator."""

from ticketbolt.integrations.gorgias.client import GorgiasClient
from ticketbolt.integrations.gorgias.errors import (
    GorgiasCircuitOpen,
    GorgiasConflict,
    GorgiasError,
    GorgiasInFlight,
    GorgiasNotFound,
    GorgiasRateLimited,
    GorgiasRejected,
    GorgiasUnauthorized,
    GorgiasUnavailable,
)
from ticketbolt.integrations.gorgias.hooks import WEBHOOK_TRIGGERS
from ticketbolt.integrations.gorgias.http import account_base_url, build_http_client, ticket_link
from ticketbolt.integrations.gorgias.metrics import GorgiasMetrics
from ticketbolt.integrations.gorgias.models import (
    Account,
    Customer,
    CustomerRef,
    Integration,
    NewTicket,
    RateLimitUsage,
    SatisfactionSurvey,
    Tag,
    Ticket,
    TicketMessage,
    User,
)

__all__ = [
    "WEBHOOK_TRIGGERS",
    "Account",
    "Customer",
    "CustomerRef",
    "GorgiasCircuitOpen",
    "GorgiasClient",
    "GorgiasConflict",
    "GorgiasError",
    "GorgiasInFlight",
    "GorgiasMetrics",
    "GorgiasNotFound",
    "GorgiasRateLimited",
    "GorgiasRejected",
    "GorgiasUnauthorized",
    "GorgiasUnavailable",
    "Integration",
    "NewTicket",
    "RateLimitUsage",
    "SatisfactionSurvey",
    "Tag",
    "Ticket",
    "TicketMessage",
    "User",
    "account_base_url",
    "build_http_client",
    "ticket_link",
]
