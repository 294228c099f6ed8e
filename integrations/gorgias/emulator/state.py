"""In-memory Gorgias data for the emulator: validation, storage and the JSON Gorgias returns."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

STATUSES = ("open", "closed")
PRIORITIES = ("critical", "high", "normal", "low")
MISSING = "Missing data for required field."


class ApiError(Exception):
    """An error answer in Gorgias' shape: `{"error": {"msg": ..., "data": {field: [msgs]}}}`."""

    def __init__(self, status: int, msg: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.body: Json = {"error": {"msg": msg, **({"data": dict(data)} if data else {})}}


def now() -> str:
    return datetime.now(UTC).isoformat()


def _require(body: Mapping[str, Any], *names: str) -> None:
    missing = {name: [MISSING] for name in names if body.get(name) is None}
    if missing:
        raise ApiError(400, "Invalid request.", missing)


def _enum(body: Mapping[str, Any], name: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if name in body and body[name] not in allowed:
        raise ApiError(400, "Invalid request.", {name: [f"Must be one of: {', '.join(allowed)}."]})


@dataclass
class EmulatorState:
    """Everything the emulated account holds. Ids are per-kind autoincrement integers."""

    account: str = "acme"
    username: str = "api@example.com"
    strict: bool = True
    customers: dict[int, Json] = field(default_factory=dict)
    tickets: dict[int, Json] = field(default_factory=dict)
    messages: dict[int, Json] = field(default_factory=dict)
    users: dict[int, Json] = field(default_factory=dict)
    integrations: dict[int, Json] = field(default_factory=dict)
    tags: dict[str, Json] = field(default_factory=dict)
    surveys: dict[int, Json] = field(default_factory=dict)
    _ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.me = self.add_user("API user", self.username, role="admin")

    def next_id(self, kind: str) -> int:
        return next(self._ids.setdefault(kind, itertools.count(1)))

    # Users and customers

    def add_user(self, name: str, email: str, role: str = "agent") -> Json:
        uid = self.next_id("user")
        user = {"id": uid, "uri": f"/api/users/{uid}/", "email": email, "name": name,
                "firstname": name.partition(" ")[0], "lastname": "", "role": {"name": role},
                "meta": {}, "created_datetime": now()}  # fmt: skip
        self.users[uid] = user
        return user

    def agent(self, name: str) -> Json:
        """The helpdesk user called `name`, created on first use (sandbox agents)."""
        for user in self.users.values():
            if user["name"] == name:
                return user
        slug = "".join(c for c in name.lower() if c.isalnum()) or "agent"
        return self.add_user(name, f"{slug}@{self.account}.example")

    def find_customers(self, query: Mapping[str, str]) -> list[Json]:
        found = list(self.customers.values())
        if email := query.get("email"):
            found = [c for c in found if (c["email"] or "").lower() == email.lower()]
        if external_id := query.get("external_id"):
            found = [c for c in found if c["external_id"] == external_id]
        return found

    def create_customer(self, body: Mapping[str, Any]) -> Json:
        if self.strict:
            _require(body, "channels")
        email = body.get("email")
        if email and self.find_customers({"email": email}):
            raise ApiError(409, "The resource already exists.")
        cid = self.next_id("customer")
        channels = [
            {"id": self.next_id("channel"), "type": c.get("type"), "address": c.get("address"),
             "preferred": bool(c.get("preferred")), "created_datetime": now()}
            for c in body.get("channels") or []
        ]  # fmt: skip
        customer = {"id": cid, "uri": f"/api/customers/{cid}/", "email": email,
                    "name": body.get("name") or email, "firstname": body.get("firstname"),
                    "lastname": body.get("lastname"), "external_id": body.get("external_id"),
                    "language": body.get("language"), "timezone": body.get("timezone", "UTC"),
                    "note": body.get("note"), "meta": body.get("meta") or {}, "channels": channels,
                    "created_datetime": now(), "updated_datetime": now()}  # fmt: skip
        self.customers[cid] = customer
        return customer

    def resolve_customer(self, ref: Mapping[str, Any], field_name: str) -> Json:
        """A customer by `{id}`, or by `{email}` found or created, as Gorgias resolves refs."""
        if ref.get("id") is not None:
            if ref["id"] not in self.customers:
                raise ApiError(400, "Invalid request.", {field_name: ["Customer not found."]})
            return self.customers[ref["id"]]
        if ref.get("email"):
            found = self.find_customers({"email": ref["email"]})
            if found:
                return found[0]
            channel = {"type": "email", "address": ref["email"], "preferred": True}
            return self.create_customer({**ref, "channels": [channel]})
        raise ApiError(400, "Invalid request.", {field_name: ["Needs an id or an email."]})

    def resolve_agent(self, ref: Mapping[str, Any] | None, field_name: str = "sender") -> Json:
        if not ref:
            return self.me
        for user in self.users.values():
            if user["id"] == ref.get("id") or (ref.get("email") and user["email"] == ref["email"]):
                return user
        if ref.get("id") is not None:
            raise ApiError(400, "Invalid request.", {field_name: ["User not found."]})
        return {"id": None, "email": ref.get("email"), "name": ref.get("name")}

    # Tickets

    def create_ticket(self, body: Mapping[str, Any]) -> Json:
        messages = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 500:
            detail = MISSING if messages is None else "Length must be between 1 and 500."
            raise ApiError(400, "Failed to create ticket", {"messages": [detail]})
        for message in messages:
            self.validate_message(message)
        _enum(body, "status", STATUSES)
        _enum(body, "priority", PRIORITIES)
        if len(body.get("external_id") or "") > 255:
            raise ApiError(400, "Invalid request.", {"external_id": ["Longer than maximum 255."]})
        first = messages[0]
        ref = body.get("customer") or (None if first["from_agent"] else first.get("sender"))
        if not ref:
            raise ApiError(400, "Failed to create ticket", {"customer": [MISSING]})
        customer = self.resolve_customer(ref, "customer")
        tid = self.next_id("ticket")
        stamp = now()
        ticket = {"id": tid, "uri": f"/api/tickets/{tid}/", "external_id": body.get("external_id"),
                  "status": body.get("status", "open"), "priority": body.get("priority", "normal"),
                  "channel": body.get("channel", first["channel"]), "via": body.get("via", "api"),
                  "from_agent": body.get("from_agent", first["from_agent"]), "spam": False,
                  "customer_id": customer["id"], "assignee_user": None, "assignee_team": None,
                  "subject": body.get("subject"), "language": body.get("language"),
                  "meta": body.get("meta") or {}, "tags": [], "is_unread": True,
                  "created_datetime": stamp, "opened_datetime": None, "updated_datetime": stamp,
                  "closed_datetime": stamp if body.get("status") == "closed" else None,
                  "last_message_datetime": None, "last_received_message_datetime": None,
                  "trashed_datetime": None, "snooze_datetime": None,
                  "satisfaction_survey": None}  # fmt: skip
        self.assign(ticket, body)
        self.tickets[tid] = ticket
        self.set_tags(ticket, [t.get("name") for t in body.get("tags") or []])
        for message in messages:
            self.add_message(tid, message, validated=True)
        return self.ticket_view(ticket)

    def ticket(self, ticket_id: int) -> Json:
        if ticket_id not in self.tickets:
            raise ApiError(404, "Resource not found.")
        return self.tickets[ticket_id]

    def ticket_messages(self, ticket_id: int) -> list[Json]:
        return [m for m in self.messages.values() if m["ticket_id"] == ticket_id]

    def ticket_view(self, ticket: Json, *, compact: bool = False) -> Json:
        view = {k: v for k, v in ticket.items() if k != "customer_id"}
        view["customer"] = self.customers.get(ticket["customer_id"])
        view["assignee_user_id"] = (ticket["assignee_user"] or {}).get("id")
        view["assignee_team_id"] = (ticket["assignee_team"] or {}).get("id")
        messages = sorted(self.ticket_messages(ticket["id"]), key=lambda m: m["id"])
        if compact:
            view["messages_count"] = len(messages)
            view["excerpt"] = (messages[-1]["body_text"] or "")[:100] if messages else ""
        else:
            view["messages"] = messages
        return view

    def find_tickets(self, query: Mapping[str, str]) -> list[Json]:
        found = list(self.tickets.values())
        if external_id := query.get("external_id"):
            found = [t for t in found if t["external_id"] == external_id]
        if customer_id := query.get("customer_id"):
            found = [t for t in found if str(t["customer_id"]) == customer_id]
        return [self.ticket_view(t, compact=True) for t in found]

    def update_ticket(self, ticket_id: int, body: Mapping[str, Any]) -> list[str]:
        """Apply a partial update; returns the names of the fields that changed."""
        ticket = self.ticket(ticket_id)
        _enum(body, "status", STATUSES)
        _enum(body, "priority", PRIORITIES)
        before = json.dumps(ticket, sort_keys=True, default=str)
        changed = [k for k in ("status", "priority", "subject", "meta", "external_id", "is_unread")
                   if k in body and ticket.get(k) != body[k]]  # fmt: skip
        for key in changed:
            ticket[key] = body[key]
        if "status" in changed:
            ticket["closed_datetime"] = now() if body["status"] == "closed" else None
        self.assign(ticket, body)
        if "tags" in body:
            self.set_tags(ticket, [t.get("name") for t in body["tags"] or []])
        if json.dumps(ticket, sort_keys=True, default=str) != before:
            ticket["updated_datetime"] = now()
            return changed or ["ticket"]
        return []

    def assign(self, ticket: Json, body: Mapping[str, Any]) -> None:
        """`assignee_user` / `assignee_team` as `{id}`; `{"id": null}` or null unassigns."""
        if "assignee_user" in body:
            ref = body["assignee_user"] or {}
            user = self.resolve_agent(ref, "assignee_user") if ref.get("id") else None
            keep = ("id", "email", "name", "firstname", "lastname", "meta")
            ticket["assignee_user"] = {k: user.get(k) for k in keep} if user else None
        if "assignee_team" in body:
            team_id = (body["assignee_team"] or {}).get("id")
            ticket["assignee_team"] = (
                {"id": team_id, "name": f"Team {team_id}", "decoration": None} if team_id else None
            )

    def set_tags(self, ticket: Json, names: Iterable[str | None], *, add: bool = False) -> None:
        wanted = [t["name"] for t in ticket["tags"]] if add else []
        wanted += [n for n in names if n and n not in wanted]
        ticket["tags"] = [self.tag(name) for name in wanted]

    def tag(self, name: str) -> Json:
        if name not in self.tags:
            tid = self.next_id("tag")
            self.tags[name] = {"id": tid, "name": name, "uri": f"/api/tags/{tid}/",
                               "decoration": None, "created_datetime": now()}  # fmt: skip
        return self.tags[name]

    # Messages

    def validate_message(self, message: Any) -> None:
        if not isinstance(message, dict):
            raise ApiError(400, "Invalid request.", {"messages": ["Not a valid object."]})
        _require(message, "channel", "from_agent")

    def add_message(
        self, ticket_id: int, body: Mapping[str, Any], *, validated: bool = False
    ) -> Json:
        ticket = self.ticket(ticket_id)
        if not validated:
            self.validate_message(body)
        from_agent = bool(body["from_agent"])
        internal = body["channel"] == "internal-note"
        sender_ref = body.get("sender")
        if from_agent:
            sender = self.resolve_agent(sender_ref)
        else:
            sender = self.resolve_customer(sender_ref or {"id": ticket["customer_id"]}, "sender")
        mid = self.next_id("message")
        stamp = now()
        message = {"id": mid, "uri": f"/api/tickets/{ticket_id}/messages/{mid}/",
                   "ticket_id": ticket_id, "external_id": body.get("external_id"),
                   "channel": body["channel"], "via": body.get("via", "api"),
                   "from_agent": from_agent, "public": body.get("public", not internal),
                   "sender": {k: sender.get(k) for k in ("id", "email", "name")},
                   "receiver": body.get("receiver"), "subject": body.get("subject"),
                   "body_text": body.get("body_text"), "body_html": body.get("body_html"),
                   "stripped_text": body.get("body_text"), "source": body.get("source"),
                   "mention_ids": body.get("mention_ids") or [], "attachments": [],
                   "meta": body.get("meta") or {}, "created_datetime": stamp,
                   # No sent_datetime means Gorgias sends it now; here "sending" is instant.
                   "sent_datetime": body.get("sent_datetime") or stamp}  # fmt: skip
        self.messages[mid] = message
        ticket["last_message_datetime"] = ticket["updated_datetime"] = stamp
        if not from_agent:
            ticket["last_received_message_datetime"] = stamp
        return message

    # Satisfaction surveys (one per ticket, score 1–5)

    def rate(self, ticket_id: int, score: int, comment: str | None = None) -> Json:
        """The customer answers the ticket's survey (created, as sent, on first use)."""
        ticket = self.ticket(ticket_id)
        if not 1 <= score <= 5:
            raise ApiError(400, "Invalid request.", {"score": ["Must be between 1 and 5."]})
        survey = next((s for s in self.surveys.values() if s["ticket_id"] == ticket_id), None)
        if survey is None:
            sid, stamp = self.next_id("survey"), now()
            survey = {"id": sid, "uri": f"/api/satisfaction-surveys/{sid}/",
                      "ticket_id": ticket_id, "customer_id": ticket["customer_id"],
                      "score": None, "body_text": None, "meta": {}, "created_datetime": stamp,
                      "should_send_datetime": stamp, "sent_datetime": stamp,
                      "scored_datetime": None}  # fmt: skip
            self.surveys[sid] = survey
        survey.update(score=score, body_text=comment, scored_datetime=now())
        ticket["satisfaction_survey"] = dict(survey)
        ticket["updated_datetime"] = now()
        return survey

    def find_surveys(self, query: Mapping[str, str]) -> list[Json]:
        found = list(self.surveys.values())
        if (ticket_id := query.get("ticket_id")) is not None:
            if not ticket_id.isdigit():
                raise ApiError(400, "Invalid query.", {"ticket_id": ["Not a valid integer."]})
            found = [s for s in found if s["ticket_id"] == int(ticket_id)]
        return found

    # Integrations

    def save_integration(self, body: Mapping[str, Any], existing: Json | None = None) -> Json:
        merged: Json = {**(existing or {}), **body}
        if existing and isinstance(body.get("http"), dict):
            merged["http"] = {**(existing.get("http") or {}), **body["http"]}
        _require(merged, "name", "type")
        if merged["type"] == "http":
            http: Json = merged["http"] if isinstance(merged.get("http"), dict) else {}
            if not http.get("url"):
                raise ApiError(400, "Invalid request.", {"http": {"url": [MISSING]}})
            http.setdefault("method", "GET")
            merged["http"] = http
        iid = existing["id"] if existing else self.next_id("integration")
        stamp = now()
        merged.update(id=iid, uri=f"/api/integrations/{iid}/", updated_datetime=stamp)
        merged.setdefault("created_datetime", stamp)
        merged.setdefault("deactivated_datetime", None)
        self.integrations[iid] = merged
        return merged

    def integration(self, integration_id: int) -> Json:
        if integration_id not in self.integrations:
            raise ApiError(404, "Resource not found.")
        return self.integrations[integration_id]
