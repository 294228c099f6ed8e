"""Hand-off: a Gorgias ticket carrying the conversation, through the same idempotent job path."""

from __future__ import annotations

from typing import Any

from ticketbolt.handlers.deps import Deps, JobLike, PermanentJobError
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.integrations.gorgias.models import CustomerRef, NewTicket

ROLES = {"customer": "Customer", "bot": "Assistant"}


def transcript(turns: list[Any]) -> str:
    lines = [f"{ROLES.get(t.role, t.role)}: {t.text}" for t in turns if t.role in ROLES]
    return "\n".join(lines) or "(no messages)"


class Handoff:
    """One ticket per conversation: the key is the conversation's first message, as for 🎫."""

    def __init__(self, deps: Deps):
        self._deps = deps

    async def request(self, p: dict[str, Any], intent: str, reason: str) -> None:
        """Record the hand-off job, or tell the customer about the ticket already open."""
        root = await self._root(p)
        link = await self._deps.links.get(p["team_id"], p["channel"], root)
        if link is not None and link.ticket_id is not None and link.status != "closed":
            await self._say(
                p,
                f"Your request is already with our team as ticket #{link.ticket_id}."
                " A person will follow up here.",
            )
            return
        requested = await self._deps.jobs.enqueue(
            "handoff_ticket",
            {**p, "root_ts": root, "intent": intent, "reason": reason},
            key=f"create:{p['team_id']}:{p['channel']}:{root}",
            order_key=f"conv:{p['conversation']}",
        )
        if not requested:
            await self._say(
                p,
                "I've already asked a person from our team to pick this up; "
                "your ticket number follows here shortly.",
            )

    async def _root(self, p: dict[str, Any]) -> str:
        """The first customer message of the conversation since its last hand-off."""
        history = await self._deps.turns.history(p["conversation"])
        root = p["ts"]
        for turn in reversed(history):
            if turn.role == "handoff":
                break
            if turn.role == "customer":
                root = turn.message_ts
        return str(root)

    async def run(self, job: JobLike) -> None:
        p = job.payload
        deps, gorgias = self._deps, self._deps.gorgias
        if gorgias is None:
            raise PermanentJobError("Gorgias is not configured (set GORGIAS_ACCOUNT and keys)")
        team, channel, root = p["team_id"], p["channel"], p["root_ts"]
        await deps.links.claim(team, channel, root, p["thread_ts"] or root, p["user"], "assistant")
        link = await deps.links.get(team, channel, root)
        ticket_id = link.ticket_id if link else None
        if ticket_id is None:
            ticket_id = await self._create(job, p)
        await deps.turns.add(
            p["conversation"],
            f"handoff:{root}",
            "handoff",
            "assistant",
            f"ticket #{ticket_id}",
            p["intent"],
        )
        await self._say(
            p,
            f"I've passed this to our support team as ticket #{ticket_id}. "
            "A person will follow up here.",
        )

    async def _create(self, job: JobLike, p: dict[str, Any]) -> int:
        deps, gorgias = self._deps, self._deps.gorgias
        external_id = f"slack:{p['team_id']}:{p['channel']}:{p['root_ts']}"
        ticket = await gorgias.find_ticket_by_external_id(external_id) if job.attempts > 1 else None
        if ticket is None:
            person = await SlackReader(deps.slack, p["team_id"]).person(p["user"])
            if person.member_of(p["team_id"]) and person.email:
                customer = CustomerRef(email=person.email, name=person.name)
            else:
                found = await gorgias.ensure_customer(
                    email=None, name=person.name, external_id=f"slack:{p['team_id']}:{p['user']}"
                )
                customer = CustomerRef(id=found.id)
            history = await deps.turns.history(p["conversation"])
            body = (
                f"{transcript(history)}\n\nHanded off by the Slack assistant: {p['reason']}. "
                f"Detected intent: {p['intent']}."
            )
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

    async def _say(self, p: dict[str, Any], text: str) -> None:
        await self._deps.slack.chat_postMessage(
            channel=p["channel"], thread_ts=p["thread_ts"] or None, text=text
        )
