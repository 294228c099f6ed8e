"""What feature modules receive from the composition root: ports, not concrete storage."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ticketbolt.handlers.channel_rules import Routing


class JobLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_attempt(self) -> bool: ...
    @property
    def outcome_unknown(self) -> bool: ...


class JobSink(Protocol):
    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str,
        order_key: str = "",
        correlation_id: str = "",
        max_attempts: int | None = None,
        event_id: str = "",
        queued_since: datetime | None = None,
    ) -> bool: ...


class LinkLike(Protocol):
    @property
    def team_id(self) -> str: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def message_ts(self) -> str: ...
    @property
    def thread_ts(self) -> str: ...
    @property
    def ticket_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...


class LinkStore(Protocol):
    async def reserve(
        self,
        team_id: str,
        channel_id: str,
        message_ts: str,
        thread_ts: str,
        created_by: str,
        source: str = "reaction",
    ) -> LinkLike:
        """Reserve the message for one ticket; its link as it stands, in one transaction."""
        ...

    async def get(self, team_id: str, channel_id: str, message_ts: str) -> LinkLike | None: ...
    async def by_ticket(self, ticket_id: int) -> LinkLike | None: ...
    async def by_thread(self, team_id: str, channel_id: str, thread_ts: str) -> LinkLike | None: ...
    async def set_ticket(
        self,
        team_id: str,
        channel_id: str,
        message_ts: str,
        ticket_id: int,
        status: str,
        customer_id: int | None = None,
        *,
        audit_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """With `audit_fields` (`AuditSink.record`'s keyword arguments), the audit row is
        written in the same transaction as the link."""
        ...

    async def set_status(self, ticket_id: int, status: str) -> None: ...
    async def count_since(
        self,
        since: datetime,
        *,
        source: str,
        team_id: str | None = None,
        created_by: str | None = None,
    ) -> int: ...


class AuditSink(Protocol):
    async def record(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        team_id: str = "",
        channel_id: str = "",
        message_ts: str = "",
        ticket_id: int | None = None,
        detail: str = "",
    ) -> None: ...


JobHandler = Callable[[JobLike], Awaitable[None]]
# A feature's interest in Slack messages: called with (body, event) before the ack, must be fast.
MessageConsumer = Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]


class MirrorStore(Protocol):
    """What thread sync keeps of mirrored messages (bot/db/mirror.py `MirrorLog`)."""

    async def seen(self, key: str) -> bool: ...
    async def record(self, key: str, ticket_id: int, gorgias_message_id: int | None) -> None: ...
    async def is_mirrored(self, gorgias_message_id: int) -> bool: ...
    async def assignee(self, ticket_id: int) -> int | None: ...
    async def set_assignee(self, ticket_id: int, assignee_id: int | None) -> None: ...


class PermanentJobError(Exception):
    """A job that can never succeed (bad input, deleted message): fail it without retrying."""


@dataclass(frozen=True)
class FeatureConfig:
    """The settings feature modules need, already validated by the composition root."""

    create_reaction: str = "ticket"
    resolve_reaction: str = "white_check_mark"
    marker_reaction: str = "eyes"
    claim_reaction: str = "raising_hand"
    agents: frozenset[str] = frozenset()
    assistant_channels: frozenset[str] = frozenset()
    assistant_rate_per_minute: int = 10
    handoffs_per_customer_hour: int = 3
    handoffs_per_hour: int = 200
    gorgias_app_url: str = ""
    sync_gorgias_notes: bool = False
    routing: Routing = field(default_factory=Routing)  # the channels file (channel_rules.py)


@dataclass
class Deps:
    """Everything a feature's `register(app, deps)` may use."""

    config: FeatureConfig
    jobs: JobSink
    links: LinkStore
    audit: AuditSink
    slack: Any  # slack_sdk AsyncWebClient: the bot's pooled Web API client
    gorgias: Any = (
        None  # ticketbolt.integrations.gorgias.GorgiasClient, or None when not configured
    )
    assistant: Any = (
        None  # ticketbolt.handlers.assistant.Assistant engine parts, set by the composition root
    )
    status: Any = None  # a callable report source for /ticketbolt status
    turns: Any = None  # the assistant's conversation store (ticketbolt.bot.db.turns.Turns)
    cache: Any = None  # ticketbolt.cache.base.Cache, for per-user limits
    mirror: Any = (
        None  # ticketbolt.bot.db.mirror.MirrorLog: thread-sync bookkeeping (handlers/sync.py)
    )
    # ticketbolt.handlers.slack_directory.SlackDirectory: people, channels, messages seen live
    slack_directory: Any = None
    sla: Any = None  # ticketbolt.handlers.sla.SlaService when the channels file sets SLA policies
    summaries: Any = None  # ticketbolt.handlers.summary.Summaries; None: TICKETBOLT_SUMMARIES=off
    csat: Any = None  # ticketbolt.handlers.sla_csat.Satisfaction when Gorgias is configured
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    message_consumers: list[MessageConsumer] = field(default_factory=list)
    mention_consumers: list[MessageConsumer] = field(default_factory=list)
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run work after an ack without losing the task to garbage collection."""
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
