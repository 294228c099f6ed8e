"""Ticket work for the job worker: create from a Slack message, close, reopen, tell the thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from ticketbolt.handlers import blocks
from ticketbolt.handlers.deps import Deps, JobLike, PermanentJobError
from ticketbolt.handlers.failures import gives_up
from ticketbolt.handlers.posting import post_once
from ticketbolt.handlers.slack_context import MessageContext, SlackReader, customer_email
from ticketbolt.handlers.ticket_text import describe_failure, subject_of, ticket_body
from ticketbolt.integrations.gorgias.errors import (
    GorgiasNotFound,
    GorgiasRejected,
)
from ticketbolt.integrations.gorgias.models import CustomerRef, NewTicket

log = logging.getLogger(__name__)
CLOSED_MARKER = "heavy_check_mark"
# Thread sync (handlers/sync.py) adds a thread's replies so far to the ticket, one message each.
BACKFILL_JOB = "sync_backfill"


class TicketService:
    """Each step is safe to repeat: a retry after a crash never makes a second ticket."""

    def __init__(self, deps: Deps):
        self._deps = deps

    @property
    def _gorgias(self) -> Any:
        if self._deps.gorgias is None:
            raise PermanentJobError("Gorgias is not configured (set GORGIAS_ACCOUNT and keys)")
        return self._deps.gorgias

    async def create_from_message(self, job: JobLike) -> None:
        p = job.payload
        team, channel, ts, reactor = p["team_id"], p["channel"], p["ts"], p["user"]
        key = f"{team}:{channel}:{ts}"
        reader = SlackReader(self._deps.slack, team, self._deps.slack_directory)
        try:
            actor = await reader.person(reactor)
            auto = p.get("source") == "auto"  # the author is the customer (handlers/routing.py)
            if not auto and not actor.member_of(team):
                await audit_job(
                    self._deps, p, "create", "denied", detail="reactor is not a workspace member"
                )
                return
            context = await reader.message(channel, ts, with_thread=False)
            link = await self._deps.links.reserve(
                team, channel, ts, context.thread_ts, reactor, p.get("source", "reaction")
            )
            ticket_id = link.ticket_id
            backfill = ticket_id is None and await reader.has_replies(context)
            if backfill:
                # Recorded before the ticket is linked, so it precedes any live sync job.
                await self._backfill(team, channel, ts)
            if ticket_id is None:
                by = "the channel's auto mode" if auto else actor.name
                ticket_id = await self._create(context, p, by, key, job.outcome_unknown, reader)
            if not backfill and await reader.has_replies(context):
                # A reply came while the ticket was made, before thread sync could see its link.
                await self._backfill(team, channel, ts)
            await self._announce(job, context, ticket_id, reactor)
        except Exception as exc:
            await self._notify_if_final(
                job, exc, "create a ticket", channel, p.get("thread_ts") or ts
            )
            raise

    async def _backfill(self, team: str, channel: str, ts: str) -> None:
        """Thread sync copies the replies so far into the ticket, after this create."""
        key = f"{team}:{channel}:{ts}"
        await self._deps.jobs.enqueue(
            BACKFILL_JOB,
            {"team_id": team, "channel": channel, "ts": ts},
            key=f"backfill:{key}",
            order_key=key,
        )

    async def _create(
        self,
        context: MessageContext,
        p: dict[str, Any],
        reactor: str,
        key: str,
        check_first: bool,
        reader: SlackReader,
    ) -> int:
        team = p["team_id"]
        external_id = f"slack:{key}"
        if check_first:
            # An earlier try may have created the ticket and died before recording it.
            existing = await self._gorgias.find_ticket_by_external_id(external_id)
            if existing is not None:
                return await self._linked(p, existing)
        email = customer_email(context, team)
        author = context.author
        if email:
            customer = CustomerRef(email=email, name=author.name if author else None)
        elif author and author.team_id and not author.is_bot and not author.member_of(team):
            # Slack Connect: the customer is the external member's organisation.
            found = await self._gorgias.ensure_customer(
                email=None,
                name=await reader.organisation(author.team_id),
                external_id=f"slack:{team}:{author.team_id}",
            )
            customer = CustomerRef(id=found.id)
        else:
            who = author.id if author else "bot"
            found = await self._gorgias.ensure_customer(
                email=None,
                name=author.name if author else "Slack bot",
                external_id=f"slack:{team}:{who}",
            )
            customer = CustomerRef(id=found.id)
        note = "Ticketed explicitly although a bot posted it." if context.bot_authored else ""
        summary = ""  # a thread's summary opens the ticket; it never sets the ticket's fields
        if self._deps.summaries is not None and await reader.has_replies(context):
            summary = await self._deps.summaries.of_thread(self._deps.slack, reader, context)
        rules = self._deps.config.routing.of(context.channel_id)  # the channels file
        tags = ("slack", context.channel_name, *rules.tags, *p.get("tags", ()))
        try:
            ticket = await self._gorgias.create_ticket(
                NewTicket(
                    subject=p.get("subject") or subject_of(context.text),
                    body_text=ticket_body(
                        context, reactor, note, text=p.get("body"), summary=summary
                    ),
                    priority=p.get("priority") or rules.priority,
                    assignee_team_id=rules.assignee_team,
                    customer=customer,
                    external_id=external_id,
                    tags=tuple(dict.fromkeys(t for t in tags if t)),
                )
            )
        except GorgiasRejected as exc:
            raise PermanentJobError(f"Gorgias rejected the ticket: {exc}") from exc
        return await self._linked(p, ticket)

    async def _linked(self, p: dict[str, Any], ticket: Any) -> int:
        customer_id = ticket.customer.id if ticket.customer else None
        # The link and its audit row in one transaction.
        await self._deps.links.set_ticket(
            p["team_id"],
            p["channel"],
            p["ts"],
            ticket.id,
            ticket.status,
            customer_id,
            audit_fields=_audit_fields(p, "create", "ok", ticket_id=ticket.id),
        )
        if self._deps.sla is not None:  # the channel's SLA clocks (handlers/sla.py)
            thread = p.get("thread_ts") or p["ts"]
            await self._deps.sla.start(p["team_id"], p["channel"], p["ts"], thread, ticket.id)
        return int(ticket.id)

    async def _announce(
        self, job: JobLike, context: MessageContext, ticket_id: int, reactor: str
    ) -> None:
        link = self._gorgias.ticket_link(ticket_id)
        subject = job.payload.get("subject") or subject_of(context.text)
        text, blks = blocks.ticket_created(ticket_id, subject, link, reactor)
        await self.post_once(job, context.channel_id, context.thread_ts, text, blks, marker=link)
        await self.mark(context.channel_id, context.ts, self._deps.config.marker_reaction)

    async def set_status_from_reaction(self, job: JobLike) -> None:
        p = job.payload
        team, channel, ts, actor_id, status = (
            p["team_id"],
            p["channel"],
            p["ts"],
            p["user"],
            p["status"],
        )
        action = "close" if status == "closed" else "reopen"
        reader = SlackReader(self._deps.slack, team, self._deps.slack_directory)
        actor = await reader.person(actor_id)
        if not await self._may_resolve(actor_id, actor.member_of(team)):
            await audit_job(self._deps, p, action, "denied", detail="not an allowed agent")
            return
        link = await self._deps.links.get(team, channel, ts)
        if link is None or link.ticket_id is None:
            await audit_job(self._deps, p, action, "skipped", detail="message has no ticket")
            return
        try:
            ticket = await (
                self._gorgias.close_ticket(link.ticket_id)
                if status == "closed"
                else self._gorgias.reopen_ticket(link.ticket_id)
            )
        except GorgiasNotFound as exc:
            raise PermanentJobError(f"ticket #{link.ticket_id} no longer exists") from exc
        except Exception as exc:
            await self._notify_if_final(job, exc, f"{action} the ticket", channel, link.thread_ts)
            raise
        await self._deps.links.set_status(link.ticket_id, ticket.status)
        if self._deps.sla is not None:  # a close stops its SLA clocks, a reopen resumes them
            await self._deps.sla.status_changed(link.ticket_id, ticket.status)
        await audit_job(self._deps, p, action, "ok", ticket_id=link.ticket_id)
        url = self._gorgias.ticket_link(link.ticket_id)
        text, blks = blocks.ticket_status(link.ticket_id, url, status, f"<@{actor_id}>")
        await self.post_once(job, channel, link.thread_ts, text, blks, marker=f"{url}|{status}")
        await self.follow_status(channel, ts, status)

    async def _may_resolve(self, user_id: str, is_member: bool) -> bool:
        """Members of the workspace; when TICKETBOLT_AGENTS is set, only those users and groups."""
        agents = self._deps.config.agents
        if not is_member:
            return False
        if not agents or user_id in agents:
            return True
        for group in (a for a in agents if a.startswith("S")):
            answer = await self._deps.slack.usergroups_users_list(usergroup=group)
            if user_id in (answer.get("users") or []):
                return True
        return False

    async def follow_status(self, channel: str, ts: str, status: str) -> None:
        """The bot's own marker reaction shows the ticket's state at a glance."""
        marker = self._deps.config.marker_reaction
        add, remove = (CLOSED_MARKER, marker) if status == "closed" else (marker, CLOSED_MARKER)
        await self.mark(channel, ts, add)
        await self.unmark(channel, ts, remove)

    async def post_once(
        self,
        job: JobLike,
        channel: str,
        thread_ts: str,
        text: str,
        blks: blocks.Blocks,
        *,
        marker: str,
    ) -> None:
        """Post in the thread once, across retries (handlers/posting.py)."""
        await post_once(
            self._deps.slack,
            job,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blks,
            marker=marker,
            notes=self._deps.cache,
            unfurl_links=False,
        )

    async def mark(self, channel: str, ts: str, name: str) -> None:
        try:
            await self._deps.slack.reactions_add(channel=channel, timestamp=ts, name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                raise

    async def unmark(self, channel: str, ts: str, name: str) -> None:
        try:
            await self._deps.slack.reactions_remove(channel=channel, timestamp=ts, name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != "no_reaction":
                raise

    async def _notify_if_final(
        self, job: JobLike, exc: Exception, action: str, channel: str, thread_ts: str
    ) -> None:
        if not gives_up(exc, job.last_attempt):
            return
        await audit_job(
            self._deps,
            job.payload,
            action.split(maxsplit=1)[0],
            "failed",
            detail=str(exc) or type(exc).__name__,
        )
        text, blks = blocks.job_failed(action, describe_failure(exc, job.attempts), job.id)
        try:
            await self._deps.slack.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blks
            )
        except SlackApiError:
            log.warning("could not post the failure notice", exc_info=True)


async def audit_job(
    deps: Deps,
    p: dict[str, Any],
    action: str,
    outcome: str,
    *,
    ticket_id: int | None = None,
    detail: str = "",
) -> None:
    """An audit row for a job about one Slack message, from its payload."""
    await deps.audit.record(**_audit_fields(p, action, outcome, ticket_id=ticket_id, detail=detail))


def _audit_fields(
    p: dict[str, Any], action: str, outcome: str, *, ticket_id: int | None, detail: str = ""
) -> dict[str, Any]:
    """`AuditSink.record`'s keyword arguments for a job about one Slack message."""
    return {
        "actor": p.get("user", ""),
        "action": action,
        "outcome": outcome,
        "team_id": p.get("team_id", ""),
        "channel_id": p.get("channel", ""),
        "message_ts": p.get("ts", ""),
        "ticket_id": ticket_id,
        "detail": detail,
    }
