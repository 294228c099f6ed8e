"""SLA clocks: start them when a ticket is linked, stop them on an agent's reply or a close.

Each ticket made in a channel with an SLA policy (the channels file, `sla`) gets two clocks,
first response and resolution, with due times in business hours (handlers/sla_hours.py). The
watchdog (handlers/sla_watchdog.py) posts the warnings and breach notices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from ticketbolt.handlers.channel_rules import Routing
from ticketbolt.handlers.sla_hours import (
    ALWAYS,
    Schedule,
    add_business_time,
    business_time_between,
)
from ticketbolt.handlers.sync_gorgias import OUR_PREFIXES
from ticketbolt.integrations.gorgias.models import TicketMessage

log = logging.getLogger(__name__)

ClockName = Literal["first_response", "resolution"]
Stage = Literal["warn", "breach"]
CLOCKS: tuple[ClockName, ...] = ("first_response", "resolution")
CLOCK_LABELS: dict[ClockName, str] = {
    "first_response": "first response",
    "resolution": "resolution",
}
DEFAULT_WARN_AT = 80  # percent of the allowance, when a policy names none


class PolicyLike(Protocol):
    """The shape of a channels-file SLA policy (bot/channels.py `SlaPolicy`)."""

    @property
    def first_response(self) -> timedelta | None: ...
    @property
    def resolution(self) -> timedelta | None: ...
    @property
    def warn_at(self) -> int | None: ...
    @property
    def business_hours(self) -> str | None: ...


@dataclass(frozen=True)
class Clock:
    """One ticket's two SLA clocks, as stored (bot/db/sla.py)."""

    ticket_id: int
    team_id: str
    channel_id: str
    message_ts: str
    thread_ts: str
    policy: str
    created_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_warn_at: datetime | None = None
    first_response_due_at: datetime | None = None
    resolution_warn_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_response_warned: bool = False
    first_response_breached: bool = False
    resolution_warned: bool = False
    resolution_breached: bool = False
    csat_score: int | None = None  # the satisfaction score posted in the thread
    csat_checked_at: datetime | None = None  # the watchdog's last poll for it

    def running(self, name: ClockName) -> bool:
        """A close stops both clocks; the first agent reply stops the first-response clock."""
        if self.resolved_at is not None:
            return False
        return name == "resolution" or self.first_response_at is None

    def due_at(self, name: ClockName) -> datetime | None:
        return self.first_response_due_at if name == "first_response" else self.resolution_due_at

    def pending(self, now: datetime) -> list[tuple[ClockName, Stage]]:
        """What the watchdog must post now: a breach when due (it replaces an unposted warning),
        else a warning once `warn_at` of the allowance has passed."""
        out: list[tuple[ClockName, Stage]] = []
        for name in CLOCKS:
            warn_at, due_at = getattr(self, f"{name}_warn_at"), self.due_at(name)
            warned, breached = getattr(self, f"{name}_warned"), getattr(self, f"{name}_breached")
            if not self.running(name) or due_at is None or breached:
                continue
            if due_at <= now:
                out.append((name, "breach"))
            elif not warned and warn_at is not None and warn_at <= now:
                out.append((name, "warn"))
        return out

    def next_check(self) -> datetime | None:
        """The earliest moment something may fall due; None when nothing is left to post."""
        moments = []
        for name in CLOCKS:
            if not self.running(name) or getattr(self, f"{name}_breached"):
                continue
            warn_at = None if getattr(self, f"{name}_warned") else getattr(self, f"{name}_warn_at")
            moments += [m for m in (warn_at, self.due_at(name)) if m is not None]
        return min(moments, default=None)


@dataclass(frozen=True)
class JobSpec:
    """A job the store enqueues in the transaction that records a decision."""

    kind: str
    payload: dict[str, Any]
    key: str
    order_key: str = ""


class SlaStore(Protocol):
    """Where clocks are kept (bot/db/sla.py `SlaClocks`)."""

    async def start(self, clock: Clock) -> bool: ...
    async def get(self, ticket_id: int) -> Clock | None: ...
    async def stop(
        self,
        ticket_id: int,
        *,
        first_response_at: datetime | None = None,
        resolved_at: datetime | None = None,
    ) -> bool: ...
    async def due(self, now: datetime, limit: int) -> list[Clock]: ...
    async def decide(
        self, ticket_id: int, name: ClockName, stage: Stage, jobs: list[JobSpec]
    ) -> bool: ...
    def exclusive(self) -> AbstractAsyncContextManager[bool]: ...
    async def resume(self, ticket_id: int, shifted: Mapping[str, datetime]) -> bool: ...
    async def open_in(self, team_id: str, channel_id: str, limit: int) -> list[Clock]: ...
    async def counts(self) -> dict[str, dict[str, int]]: ...
    async def csat_due(self, now: datetime, limit: int) -> list[Clock]: ...
    async def csat_checked(self, ticket_id: int, at: datetime, score: int | None) -> None: ...


def counts_as_response(message: TicketMessage, notes_count: bool) -> bool:
    """An agent's message in Gorgias answers the customer: a public reply, or an internal note
    when `notes_count` (TICKETBOLT_SLA_NOTE_COUNTS_AS_RESPONSE). What ticketbolt wrote itself
    (Slack replies mirrored in, hand-off notes) is decided on the Slack side instead."""
    if not message.from_agent or (message.external_id or "").startswith(OUR_PREFIXES):
        return False
    internal = message.channel == "internal-note" or not message.public
    return notes_count or not internal


def due_times(policy: PolicyLike, schedule: Schedule, created_at: datetime) -> dict[str, Any]:
    """The warn and due instants of each clock the policy sets."""
    hours = ALWAYS if policy.business_hours == "always" else schedule
    share = (policy.warn_at or DEFAULT_WARN_AT) / 100
    out: dict[str, Any] = {}
    for name in CLOCKS:
        allowance: timedelta | None = getattr(policy, name)
        if allowance is None:
            continue
        out[f"{name}_due_at"] = add_business_time(hours, created_at, allowance)
        out[f"{name}_warn_at"] = add_business_time(hours, created_at, allowance * share)
    return out


@dataclass
class SlaService:
    """Starts and stops clocks; `clock` is the time source (a seam for tests)."""

    store: SlaStore
    policies: Mapping[str, PolicyLike]
    schedule: Schedule = ALWAYS
    routing: Routing = field(default_factory=Routing)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    notes_count: bool = False  # TICKETBOLT_SLA_NOTE_COUNTS_AS_RESPONSE

    def schedule_of(self, policy: str) -> Schedule:
        found = self.policies.get(policy)
        return ALWAYS if found is None or found.business_hours == "always" else self.schedule

    async def start(
        self, team: str, channel: str, message_ts: str, thread_ts: str, ticket_id: int
    ) -> bool:
        """Start the clocks of a ticket just linked, when its channel has a policy."""
        name = self.routing.of(channel).sla
        policy = self.policies.get(name) if name else None
        if name is None or policy is None:
            return False
        now = self.clock()
        clock = Clock(ticket_id, team, channel, message_ts, thread_ts or message_ts, name, now)
        clock = replace(clock, **due_times(policy, self.schedule, now))
        return await self.store.start(clock)

    async def first_response(self, ticket_id: int, at: datetime | None = None) -> bool:
        return await self.store.stop(ticket_id, first_response_at=at or self.clock())

    async def resolved(self, ticket_id: int, at: datetime | None = None) -> bool:
        return await self.store.stop(ticket_id, resolved_at=at or self.clock())

    async def status_changed(
        self, ticket_id: int, status: str, closed_at: datetime | None = None
    ) -> bool:
        """Closed stops the clocks (at `closed_at`, else now); open again resumes them."""
        if status == "closed":
            return await self.resolved(ticket_id, closed_at)
        return await self.reopened(ticket_id) if status == "open" else False

    async def reopened(self, ticket_id: int, at: datetime | None = None) -> bool:
        """Resume a closed ticket's clocks where they stopped: each warn and due time not yet
        reached at the close moves on by the business time the ticket spent closed."""
        clock = await self.store.get(ticket_id)
        if clock is None or clock.resolved_at is None:
            return False
        hours, closed = self.schedule_of(clock.policy), clock.resolved_at
        now = max(at or self.clock(), closed)
        shifted: dict[str, datetime] = {}
        for name in CLOCKS:
            for stage in ("warn", "due"):
                key = f"{name}_{stage}_at"
                moment: datetime | None = getattr(clock, key)
                if moment is not None and moment > closed:
                    left = business_time_between(hours, closed, moment)
                    shifted[key] = add_business_time(hours, now, left)
        return await self.store.resume(ticket_id, shifted)

    async def replied_in_gorgias(self, ticket_id: int, messages: list[TicketMessage]) -> bool:
        """Stop the first-response clock at the first agent message among `messages`."""
        answers = [m for m in messages if counts_as_response(m, self.notes_count)]
        moments = [m.sent_datetime or m.created_datetime or self.clock() for m in answers]
        return bool(moments) and await self.first_response(ticket_id, min(moments))
