"""Typed views of Gorgias objects that tolerate the fields Gorgias keeps adding."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ticketbolt.integrations.gorgias.errors import GorgiasError

TicketStatus = Literal["open", "closed"]


class GorgiasModel(BaseModel):
    """Base: unknown fields are kept (Gorgias' schema grows often) and never rejected."""

    model_config = ConfigDict(extra="allow")


class Account(GorgiasModel):
    domain: str


class User(GorgiasModel):
    id: int
    email: str | None = None
    name: str | None = None
    role: dict[str, Any] | None = None


class Customer(GorgiasModel):
    id: int
    email: str | None = None
    name: str | None = None
    external_id: str | None = None
    channels: list[dict[str, Any]] = Field(default_factory=list)


class Tag(GorgiasModel):
    id: int | None = None
    name: str


class Person(GorgiasModel):
    """A message's sender or receiver as Gorgias returns it."""

    id: int | None = None
    email: str | None = None
    name: str | None = None


class TicketMessage(GorgiasModel):
    id: int
    ticket_id: int | None = None
    channel: str | None = None
    via: str | None = None
    from_agent: bool = False
    public: bool = True
    body_text: str | None = None
    body_html: str | None = None
    sender: Person | None = None
    receiver: Person | None = None
    external_id: str | None = None
    created_datetime: datetime | None = None
    sent_datetime: datetime | None = None


class Ticket(GorgiasModel):
    """A ticket; list endpoints return it without `messages` (they carry `messages_count`)."""

    id: int
    uri: str | None = None
    external_id: str | None = None
    status: str = "open"
    priority: str | None = None
    subject: str | None = None
    channel: str | None = None
    via: str | None = None
    customer: Customer | None = None
    assignee_user: Person | None = None
    tags: list[Tag] = Field(default_factory=list)
    messages: list[TicketMessage] = Field(default_factory=list)
    messages_count: int | None = None
    created_datetime: datetime | None = None
    updated_datetime: datetime | None = None
    closed_datetime: datetime | None = None
    # The survey Gorgias sent after the close (its shape varies); null until there is one.
    satisfaction_survey: Any = None


class SatisfactionSurvey(GorgiasModel):
    """A ticket's satisfaction survey: `score` (1–5) and `body_text` once the customer answers."""

    id: int
    ticket_id: int | None = None
    customer_id: int | None = None
    score: int | None = None
    body_text: str | None = None
    created_datetime: datetime | None = None
    sent_datetime: datetime | None = None
    scored_datetime: datetime | None = None


class Integration(GorgiasModel):
    id: int
    name: str
    type: str
    http: dict[str, Any] | None = None
    deactivated_datetime: datetime | None = None


class CustomerRef(BaseModel):
    """Who a ticket or message is about: an existing id, or an e-mail Gorgias resolves."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    email: str | None = None
    name: str | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class NewTicket(BaseModel):
    """An incoming API ticket. `external_id` is required: it is how a retry finds the first try."""

    model_config = ConfigDict(frozen=True)

    subject: str
    body_text: str
    customer: CustomerRef
    external_id: str = Field(min_length=1, max_length=255)
    body_html: str | None = None
    tags: tuple[str, ...] = ()
    priority: Literal["critical", "high", "normal", "low"] | None = None
    channel: str = "api"
    message_external_id: str | None = None
    sent_datetime: datetime | None = None
    assignee_user_id: int | None = None
    assignee_team_id: int | None = None

    def payload(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "channel": self.channel,
            "via": "api",
            "from_agent": False,
            "sender": self.customer.payload(),
            "body_text": self.body_text,
        }
        optional = {
            "body_html": self.body_html,
            "external_id": self.message_external_id,
            "sent_datetime": self.sent_datetime.isoformat() if self.sent_datetime else None,
        }
        message.update({k: v for k, v in optional.items() if v is not None})
        return {
            "subject": self.subject,
            "channel": self.channel,
            "via": "api",
            "from_agent": False,
            "external_id": self.external_id,
            "customer": self.customer.payload(),
            "tags": [{"name": name} for name in self.tags],
            "messages": [message],
            **({"priority": self.priority} if self.priority else {}),
            **({"assignee_user": {"id": self.assignee_user_id}} if self.assignee_user_id else {}),
            **({"assignee_team": {"id": self.assignee_team_id}} if self.assignee_team_id else {}),
        }


class RateLimitUsage(NamedTuple):
    """The last `X-Gorgias-Account-Api-Call-Limit` header: `used` of `limit` requests."""

    used: int
    limit: int

    @property
    def headroom(self) -> int:
        return max(0, self.limit - self.used)

    def __str__(self) -> str:
        return f"{self.used}/{self.limit}"

    @classmethod
    def parse(cls, header: str | None) -> RateLimitUsage | None:
        used, sep, limit = (header or "").partition("/")
        if not sep or not used.strip().isdigit() or not limit.strip().isdigit():
            return None
        return cls(int(used), int(limit))


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any) -> M:
    """Validate an answer into `model`, turning a shape we cannot read into a `GorgiasError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise GorgiasError(f"unexpected {model.__name__} shape from Gorgias") from exc
