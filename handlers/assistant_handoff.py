"""Hand-off: one Gorgias ticket per conversation while it is open, through the idempotent job path.

A conversation's hand-off is marked in its turns (role `handoff`): `handoff:<root>` when it is
requested, `closed:<root>` once its ticket is found closed, `failed:<root>` when the ticket could
not be made. While the latest marker is `handoff:`, the conversation belongs to that ticket:
messages recorded before the ticket exists are in its transcript, later ones are added to it as
the customer's messages. The ticket and its link are keyed by the root, the first customer message
since the previous marker, as for 🎫.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ticketbolt.handlers.deps import Deps, JobLike, PermanentJobError
from ticketbolt.handlers.failures import gives_up
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.summary import with_summary
from ticketbolt.handlers.sync import SlackChange, TicketMirror
from ticketbolt.integrations.gorgias.errors import GorgiasNotFound
from ticketbolt.integrations.gorgias.models import CustomerRef, NewTicket
from ticketbolt.integrations.intents.policy import HUMAN_REQUEST, frustrated
from ticketbolt.integrations.slack.text import slack_time

HANDOFF_JOB = "handoff_ticket"
SOURCE = "assistant"  # ticket_links.source of hand-off tickets, what the hourly caps count
OPENED, CLOSED, FAILED = "handoff:", "closed:", "failed:"
ROLES = {"customer": "Customer", "bot": "Assistant"}
OVER_CAP = (
    "Our team has received a lot of requests in the last hour, so I can't open a new ticket for "
    "you right now. Everything you wrote here is kept: please ask for a person again a little "
    "later, and it will all go to them."
)
PENDING = (
    "I've already asked a person from our team to pick this up; "
    "your ticket number follows here shortly."
)
GAVE_UP = (
    "I couldn't open a ticket for you just now. Everything you wrote here is kept: "
    "please ask for a person again in a little while."
)


async def transcript(turns: list[Any], reader: SlackReader) -> str:
    """The conversation as plain text for the ticket: Slack markup rendered like any message's."""
    lines = [f"{ROLES[t.role]}: {await reader.readable(t.text)}" for t in turns if t.role in ROLES]
    return "\n".join(lines) or "(no messages)"


def since_closed(turns: list[Any]) -> list[Any]:
    """The turns after the last closed hand-off: what a new ticket has not seen yet."""
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].role == "handoff" and str(turns[i].message_ts).startswith(CLOSED):
            return turns[i + 1 :]
    return turns


def root_of(turns: Sequence[Any], ts: str) -> str:
    """The first customer message since the last hand-off marker (else `ts` itself)."""
    root = ts
    for turn in reversed(turns):
        if turn.role == "handoff":
            break
        if turn.role == "customer":
            root = turn.message_ts
    return str(root)


@dataclass(frozen=True)
class OpenHandoff:
    """A conversation's hand-off whose ticket is open, or not made yet (`ticket_id` None)."""

    root: str
    ticket_id: int | None


class Handoff:
    """Opens a conversation's one ticket, feeds it while open, and caps new ones per hour."""

    def __init__(self, deps: Deps):
        self._deps = deps

    async def open_for(self, p: dict[str, Any]) -> OpenHandoff | None:
        """The conversation's hand-off while its ticket is open; None once it is closed.

        Closure is known from the link (the Gorgias webhook keeps its status) or, when the
        link still says open, from Gorgias itself: the webhook may be off or not yet delivered.
        """
        return await self.open_after(p, await self._deps.turns.latest(p["conversation"], "handoff"))

    async def open_after(self, p: dict[str, Any], marker: Any) -> OpenHandoff | None:
        """`open_for`, given the conversation's latest hand-off turn already read (or None)."""
        deps = self._deps
        if marker is None or not str(marker.message_ts).startswith(OPENED):
            return None
        root = str(marker.message_ts).removeprefix(OPENED)
        link = await deps.links.get(p["team_id"], p["channel"], root)
        if link is None:
            return None
        if link.ticket_id is None:
            return OpenHandoff(root, None)
        if link.status != "closed" and await self._open_in_gorgias(link.ticket_id):
            return OpenHandoff(root, link.ticket_id)
        await deps.turns.add(
            p["conversation"], f"{CLOSED}{root}", "handoff", SOURCE, f"ticket #{link.ticket_id}"
        )
        return None

    async def _open_in_gorgias(self, ticket_id: int) -> bool:
        gorgias = self._deps.gorgias
        if gorgias is None:
            return True  # nothing to ask: trust the link
        try:
            ticket = await gorgias.get_ticket(ticket_id)
        except GorgiasNotFound:
            return False  # deleted in Gorgias
        return bool(ticket.status != "closed")

    async def follow_up(self, job: JobLike, p: dict[str, Any], handoff: OpenHandoff) -> None:
        """A message while the hand-off is open: kept, and added to its ticket, never a new one.

        Before the ticket exists the message is only recorded: the ticket's job runs after this
        one (same order key) and carries it in the transcript. Afterwards it is added to the
        ticket once, even when this job is retried after reaching Gorgias.
        """
        deps = self._deps
        await deps.turns.add(p["conversation"], p["ts"], "customer", p["user"], p["text"])
        if handoff.ticket_id is not None:
            if deps.mirror is None:
                raise PermanentJobError("no mirror store wired: cannot add to the ticket")
            change = SlackChange(
                "post", p["ts"], p["thread_ts"] or handoff.root, p["user"], p["text"]
            )
            mirror = TicketMirror(deps, deps.mirror, p["team_id"], p["channel"], handoff.ticket_id)
            await mirror.write(change, verify=job.outcome_unknown)
        if p.get("refused") or not (HUMAN_REQUEST.search(p["text"]) or frustrated(p["text"])):
            return  # agents answer in the ticket; only a new plea for a person gets a reply
        if handoff.ticket_id is None:
            await self._say(p, PENDING)
        else:
            await self._say(
                p,
                f"Your request is already with our team as ticket #{handoff.ticket_id}, and "
                "I've added your message to it. A person will follow up here.",
            )

    async def request(
        self,
        p: dict[str, Any],
        intent: str,
        reason: str,
        history: Sequence[Any] | None = None,
        first: Sequence[tuple[str, str, str, str, str | None]] = (),
    ) -> None:
        """Open the conversation's hand-off: reserve its ticket, record the job, then the marker.

        Each step is safe to repeat, and the marker comes last, so a retry of a job that died
        halfway completes the hand-off. `first` are turns to store before the marker (the
        message asking for the hand-off), in the marker's own write. Past the hourly caps the
        customer is told, and their messages stay in the conversation for the next hand-off.
        """
        deps = self._deps
        team, channel, user = p["team_id"], p["channel"], p["user"]
        if history is None:
            history = await deps.turns.history(p["conversation"])
        root = root_of(history, p["ts"])
        # The reservation and both caps are read at once: three reads, one wait.
        link, within_caps = await asyncio.gather(
            deps.links.get(team, channel, root), self._within_caps(team, user)
        )
        if link is None and not within_caps:
            await deps.turns.add_each(p["conversation"], list(first))
            await deps.audit.record(
                actor=user,
                action="handoff",
                outcome="refused",
                team_id=team,
                channel_id=channel,
                message_ts=root,
                detail="hourly hand-off cap reached",
            )
            await self._say(p, OVER_CAP)
            return
        await deps.links.reserve(team, channel, root, p["thread_ts"] or root, user, SOURCE)
        await deps.jobs.enqueue(
            HANDOFF_JOB,
            {**p, "root_ts": root, "intent": intent, "reason": reason},
            key=f"create:{team}:{channel}:{root}",
            order_key=f"conv:{p['conversation']}",
            # The customer has waited since their message: the ticket's job keeps that place
            # in line, ahead of the messages other customers sent since.
            queued_since=slack_time(p["ts"]),
        )
        marker = (f"{OPENED}{root}", "handoff", SOURCE, reason, intent)
        await deps.turns.add_each(p["conversation"], [*first, marker])

    async def _within_caps(self, team: str, user: str) -> bool:
        config, links = self._deps.config, self._deps.links
        since = datetime.now(UTC) - timedelta(hours=1)
        mine, everyone = await asyncio.gather(
            links.count_since(since, source=SOURCE, team_id=team, created_by=user),
            links.count_since(since, source=SOURCE),
        )
        return mine < config.handoffs_per_customer_hour and everyone < config.handoffs_per_hour

    async def run(self, job: JobLike) -> None:
        """The hand-off job: the ticket (found again after a lost answer), then the notice."""
        p = job.payload
        try:
            ticket_id = await self._ticket(job, p)
        except Exception as exc:
            if gives_up(exc, job.last_attempt):
                # Release the conversation, so a new request can try again; nothing is lost.
                await self._deps.turns.add(
                    p["conversation"], f"{FAILED}{p['root_ts']}", "handoff", SOURCE, str(exc)[:200]
                )
                await self._say(p, GAVE_UP)
            raise
        await self._say(
            p,
            f"I've passed this to our support team as ticket #{ticket_id}. "
            "A person will follow up here.",
        )

    async def _ticket(self, job: JobLike, p: dict[str, Any]) -> int:
        deps = self._deps
        if deps.gorgias is None:
            raise PermanentJobError("Gorgias is not configured (set GORGIAS_ACCOUNT and keys)")
        team, channel, root = p["team_id"], p["channel"], p["root_ts"]
        link = await deps.links.get(team, channel, root)
        if link is None:  # reserved by `request`; here for jobs recorded before it did
            link = await deps.links.reserve(
                team, channel, root, p["thread_ts"] or root, p["user"], SOURCE
            )
        if link.ticket_id is not None:
            return int(link.ticket_id)
        return await self._create(job, p)

    async def _create(self, job: JobLike, p: dict[str, Any]) -> int:
        deps, gorgias = self._deps, self._deps.gorgias
        external_id = f"slack:{p['team_id']}:{p['channel']}:{p['root_ts']}"
        ticket = (
            await gorgias.find_ticket_by_external_id(external_id) if job.outcome_unknown else None
        )
        if ticket is None:
            reader = SlackReader(deps.slack, p["team_id"], deps.slack_directory)
            person, turns = await asyncio.gather(
                reader.person(p["user"]), deps.turns.history(p["conversation"])
            )
            await self._marked(p, turns)
            if person.member_of(p["team_id"]) and person.email:
                customer = CustomerRef(email=person.email, name=person.name)
            else:
                found = await gorgias.ensure_customer(
                    email=None, name=person.name, external_id=f"slack:{p['team_id']}:{p['user']}"
                )
                customer = CustomerRef(id=found.id)
            history = since_closed(turns)
            body = (
                f"{await transcript(history, reader)}\n\n"
                f"Handed off by the Slack assistant: {p['reason']}. "
                f"Detected intent: {p['intent']}."
            )
            if deps.summaries is not None:  # text only: never the ticket's fields
                summary = await deps.summaries.of_turns(history, reader, person.name)
                body = with_summary(summary, body)
            ticket = await gorgias.create_ticket(
                NewTicket(
                    subject=f"Slack assistant hand-off: {p['intent'].replace('_', ' ')}",
                    body_text=body,
                    customer=customer,
                    external_id=external_id,
                    tags=("slack", "assistant", p["intent"]),
                )
            )
        await deps.links.set_ticket(
            p["team_id"],
            p["channel"],
            p["root_ts"],
            ticket.id,
            ticket.status,
            ticket.customer.id if ticket.customer else None,
        )
        await deps.audit.record(
            actor=p["user"],
            action="handoff",
            outcome="ok",
            team_id=p["team_id"],
            channel_id=p["channel"],
            message_ts=p["root_ts"],
            ticket_id=ticket.id,
            detail=p["reason"],
        )
        return int(ticket.id)

    async def _marked(self, p: dict[str, Any], turns: Sequence[Any]) -> None:
        """The conversation's hand-off marker, written by `request` last; written here when
        its job gave up before that (or the job was recorded before `request` wrote one)."""
        marker = f"{OPENED}{p['root_ts']}"
        if not any(t.role == "handoff" and t.message_ts == marker for t in turns):
            await self._deps.turns.add(
                p["conversation"], marker, "handoff", SOURCE, p["reason"], p["intent"]
            )

    async def _say(self, p: dict[str, Any], text: str) -> None:
        await self._deps.slack.chat_postMessage(
            channel=p["channel"], thread_ts=p["thread_ts"] or None, text=text
        )
