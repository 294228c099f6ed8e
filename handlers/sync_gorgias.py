"""Thread sync, Gorgias → Slack: agents' replies and ticket changes, re-read, in the thread."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from ticketbolt.handlers import blocks
from ticketbolt.handlers.deps import Deps, JobLike, LinkLike, MirrorStore
from ticketbolt.handlers.tickets import TicketService
from ticketbolt.integrations.gorgias.models import Ticket, TicketMessage
from ticketbolt.integrations.ids import parse_id

log = logging.getLogger(__name__)

MESSAGE_JOB = "gorgias_message"
TICKET_JOB = "gorgias_ticket"
# external_id prefixes of what ticketbolt writes into Gorgias: posting those back would echo.
OUR_PREFIXES = ("slack:", "ticketbolt:")
SECTION_LIMIT = 2800  # Slack rejects section text over 3000 characters


@dataclass(frozen=True)
class WebhookJob:
    """What one Gorgias delivery asks of the worker; everything else in it is not trusted."""

    ticket_id: int
    kind: str
    payload: dict[str, Any]
    key: str


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def webhook_job(body: Any) -> WebhookJob | None:
    """The job for a `{{context}}` delivery, keyed so Gorgias' retries of it are one job.

    Only ids are taken: the ticket's, the message's, and (for "closed by …", display only) the
    acting user's name. The worker re-reads the ticket before acting on anything. None when the
    ticket id is missing, or when the ticket or message id is not one (`parse_id`).
    """
    context = _dict(body)
    ticket, message = _dict(context.get("ticket")), _dict(context.get("message"))
    ticket_id = parse_id(ticket.get("id") or message.get("ticket_id") or context.get("ticket_id"))
    given_message_id = message.get("id")
    message_id = parse_id(given_message_id)
    if ticket_id is None or (given_message_id is not None and message_id is None):
        return None
    if message_id is not None:
        ids: dict[str, Any] = {"ticket_id": ticket_id, "message_id": message_id}
        return WebhookJob(ticket_id, MESSAGE_JOB, ids, f"gorgias:message:{message_id}")
    actor = _dict(_dict(context.get("event")).get("user")).get("name")
    actor = " ".join(actor.split())[:80] if isinstance(actor, str) else ""
    # A retried delivery repeats the same body; a new change differs at least in its times.
    digest = hashlib.sha256(json.dumps(context, sort_keys=True, default=str).encode()).hexdigest()
    payload = {"ticket_id": ticket_id, "actor": actor}
    return WebhookJob(ticket_id, TICKET_JOB, payload, f"gorgias:ticket:{ticket_id}:{digest[:40]}")


def mrkdwn_escape(text: str) -> str:
    """Text shown as typed: no mentions, links or `<!channel>` smuggled in from Gorgias."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class HelpdeskSync:
    """Job handlers for Gorgias deliveries; each re-reads the ticket before posting."""

    def __init__(self, deps: Deps, store: MirrorStore):
        self._deps, self._store = deps, store
        self._tickets = TicketService(deps)

    async def _link(self, ticket_id: int) -> LinkLike | None:
        link = await self._deps.links.by_ticket(ticket_id)
        return None if link is None or link.status == "pending" else link

    async def message(self, job: JobLike) -> None:
        ticket_id, message_id = int(job.payload["ticket_id"]), int(job.payload["message_id"])
        link = await self._link(ticket_id)
        if link is None or await self._store.is_mirrored(message_id):
            return  # not a ticket of ours, or our own note coming back
        gorgias = self._deps.gorgias
        ticket: Ticket = await gorgias.get_ticket(ticket_id)
        found = next((m for m in ticket.messages if m.id == message_id), None)
        if found is None:
            found = next(
                (m for m in await gorgias.list_ticket_messages(ticket_id) if m.id == message_id),
                None,
            )
        if found is not None and self._deps.sla is not None:  # an agent's first response
            await self._deps.sla.replied_in_gorgias(ticket_id, [found])
        if found is None or not await self._postable(found):
            return
        agent = (found.sender.name if found.sender else None) or "An agent"
        body = clip(mrkdwn_escape(found.body_text or "(no text)"))
        url = gorgias.ticket_link(ticket_id)
        note = found.channel == "internal-note" or not found.public
        builder = blocks.helpdesk_note if note else blocks.helpdesk_reply
        text, blks = builder(mrkdwn_escape(agent), body, url, ticket_id)
        await self._tickets.post_once(
            job, link.channel_id, link.thread_ts, text, blks, marker=f"gorgias:message:{message_id}"
        )

    async def _postable(self, message: TicketMessage) -> bool:
        if (message.external_id or "").startswith(OUR_PREFIXES) or not message.from_agent:
            return False  # ours (an echo), or the customer's own words
        if message.via == "api" and message.sender is not None:
            me = await self._deps.gorgias.get_current_user()
            if message.sender.id == me.id:
                return False  # written through our API key: ticketbolt itself
        internal = message.channel == "internal-note" or not message.public
        return self._deps.config.sync_gorgias_notes if internal else True

    async def ticket(self, job: JobLike) -> None:
        ticket_id = int(job.payload["ticket_id"])
        link = await self._link(ticket_id)
        if link is None:
            return
        ticket: Ticket = await self._deps.gorgias.get_ticket(ticket_id)
        url = self._deps.gorgias.ticket_link(ticket_id)
        actor = mrkdwn_escape(job.payload.get("actor") or "") or "an agent"
        if ticket.status in ("open", "closed") and ticket.status != link.status:
            verb = "closed" if ticket.status == "closed" else "reopened"
            text, blks = blocks.helpdesk_change(ticket_id, url, f"{verb} by {actor}", ticket.status)
            await self._tickets.post_once(
                job,
                link.channel_id,
                link.thread_ts,
                text,
                blks,
                marker=f"gorgias:status:{ticket_id}:{job.id}",
            )
            await self._tickets.follow_status(link.channel_id, link.message_ts, ticket.status)
            await self._deps.links.set_status(ticket_id, ticket.status)
        if self._deps.sla is not None:  # a close stops its SLA clocks, a reopen resumes them
            await self._deps.sla.status_changed(ticket_id, ticket.status, ticket.closed_datetime)
        if self._deps.csat is not None:  # a satisfaction score recorded since
            await self._deps.csat.ticket_updated(link, ticket)
        assignee = ticket.assignee_user
        assignee_id = assignee.id if assignee else None
        if assignee_id != await self._store.assignee(ticket_id):
            name = mrkdwn_escape((assignee.name if assignee else None) or "an agent")
            what = f"assigned to {name}" if assignee else "unassigned"
            text, blks = blocks.helpdesk_change(ticket_id, url, what, "assignee")
            await self._tickets.post_once(
                job,
                link.channel_id,
                link.thread_ts,
                text,
                blks,
                marker=f"gorgias:assignee:{ticket_id}:{job.id}",
            )
            await self._store.set_assignee(ticket_id, assignee_id)


def register(deps: Deps, store: MirrorStore) -> None:
    sync = HelpdeskSync(deps, store)
    deps.job_handlers[MESSAGE_JOB] = sync.message
    deps.job_handlers[TICKET_JOB] = sync.ticket
