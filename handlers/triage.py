"""Claiming: the claim reaction (or "Take it") makes the agent's Gorgias user the assignee;
removing the reaction unassigns. The listener records jobs; the worker talks to Gorgias."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from ticketbolt.handlers import blocks_triage as ui
from ticketbolt.handlers.agents import Agents
from ticketbolt.handlers.deps import Deps, JobLike, LinkLike, PermanentJobError
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.slack_directory import Person
from ticketbolt.handlers.tickets import TicketService, audit_job
from ticketbolt.handlers.triage_commands import TriageAnswers

log = logging.getLogger(__name__)

CLAIM_JOB = "claim_ticket"
# The "Take it" button lives on the bot's ticket message; Bolt needs interactivity for it.
SCOPES = {"chat:write": "ephemeral answers when a claim cannot be made"}


def message_key(team_id: str, channel_id: str, ts: str) -> str:
    return f"{team_id}:{channel_id}:{ts}"


class Claims:
    """Records claims (fast, before the ack) and runs them (in the worker)."""

    def __init__(self, deps: Deps):
        self._deps = deps
        self._agents = Agents(deps)
        self._tickets = TicketService(deps)

    async def record(
        self, team: str, channel: str, ts: str, user: str, *, assign: bool, event_id: str = ""
    ) -> bool:
        """A claim of the message at `ts`; an unticketed message is ticketed first (the same
        key as a 🎫, so however many agents react there is one ticket). False: `user` may not
        claim, and nothing was recorded."""
        key = message_key(team, channel, ts)
        payload = {"team_id": team, "channel": channel, "ts": ts, "user": user}
        if assign:
            person = await SlackReader(self._deps.slack, team, self._deps.slack_directory).person(
                user
            )
            if not await self._agents.is_agent(person, team):
                await audit_job(
                    self._deps, payload, "claim", "denied", detail="not an allowed agent"
                )
                return False
            await self._deps.jobs.enqueue(
                "create_ticket",
                {**payload, "source": "claim"},
                key=f"create:{key}",
                order_key=key,
                correlation_id=event_id,
            )
        await self._deps.jobs.enqueue(
            CLAIM_JOB,
            {**payload, "assign": assign},
            key=f"claim:{event_id or key + ':' + user + ':' + str(assign)}",
            order_key=key,  # after the create, and after earlier claims of the same message
            correlation_id=event_id,
            event_id=event_id,
        )
        return True

    async def run(self, job: JobLike) -> None:
        p = job.payload
        team, channel, ts, user_id = p["team_id"], p["channel"], p["ts"], p["user"]
        person = await SlackReader(self._deps.slack, team, self._deps.slack_directory).person(
            user_id
        )
        action = "claim" if p["assign"] else "unclaim"
        if not await self._agents.is_agent(person, team):
            await audit_job(self._deps, p, action, "denied", detail="not an allowed agent")
            return
        link = await self._deps.links.get(team, channel, ts)
        if link is None or link.ticket_id is None:
            raise PermanentJobError("the message has no ticket to claim")
        gorgias = self._deps.gorgias
        if gorgias is None:
            raise PermanentJobError("Gorgias is not configured (set GORGIAS_ACCOUNT and keys)")
        ticket_id = link.ticket_id
        user = await gorgias.find_user_by_email(person.email) if person.email else None
        if user is None:
            await audit_job(
                self._deps, p, action, "denied", ticket_id=ticket_id, detail="no Gorgias user"
            )
            if p["assign"]:
                await self.tell(channel, user_id, ui.no_gorgias_user(person.email), link.thread_ts)
            return
        current = (await gorgias.get_ticket(ticket_id)).assignee_user
        if p["assign"] == (current is not None and current.id == user.id):
            await audit_job(
                self._deps, p, action, "skipped", ticket_id=ticket_id, detail="nothing to do"
            )
            return  # already theirs, or (unclaiming) someone else took it since
        new = user.id if p["assign"] else None
        # Recorded first, so the helpdesk's echo of this change (sync_gorgias) says nothing.
        await self._deps.mirror.set_assignee(ticket_id, new)
        await gorgias.assign_ticket(ticket_id, new)
        await audit_job(self._deps, p, action, "ok", ticket_id=ticket_id)
        url = gorgias.ticket_link(ticket_id)
        before = (current.name or current.email) if current is not None else None
        text, blks = (
            ui.claimed(ticket_id, url, _who(person), before)
            if p["assign"]
            else ui.unclaimed(ticket_id, url, _who(person))
        )
        await self._tickets.post_once(
            job, channel, link.thread_ts, text, blks, marker=f"{url}|{action}|{job.id}"
        )

    async def tell(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None,
        blocks: ui.Blocks | None = None,
    ) -> None:
        try:
            await self._deps.slack.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts, blocks=blocks
            )
        except SlackApiError:
            log.warning("could not tell %s why the claim failed", user, exc_info=True)


def _who(person: Person) -> str:
    return f"<@{person.id}>"


@dataclass(frozen=True)
class Click:
    """Who clicked one of the ticket message's controls, and where."""

    team: str
    channel: str
    user: str
    thread_ts: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        message = body.get("message") or {}
        return cls(
            team=str((body.get("team") or {}).get("id") or body.get("team_id") or ""),
            channel=str((body.get("channel") or {}).get("id") or ""),
            user=str((body.get("user") or {}).get("id") or ""),
            thread_ts=str(message.get("thread_ts") or message.get("ts") or ""),
        )


def register(app: AsyncApp, deps: Deps) -> Claims:
    claims = Claims(deps)
    answers = TriageAnswers(deps)

    async def ticket_of(click: Click) -> LinkLike | None:
        """The ticket of the clicked thread; the clicker is told when there is none."""
        link = await deps.links.by_thread(click.team, click.channel, click.thread_ts)
        if link is None or link.ticket_id is None:
            text, blocks = ui.no_ticket_here()
            await claims.tell(click.channel, click.user, text, click.thread_ts, blocks)
            return None
        return link

    @app.action(ui.TAKE_IT)
    async def on_take_it(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = Click.of(body)
        link = await ticket_of(click)
        if link is None:
            return
        recorded = await claims.record(
            click.team, click.channel, link.message_ts, click.user, assign=True
        )
        if not recorded:
            text, blocks = ui.cannot_take()
            await claims.tell(click.channel, click.user, text, link.thread_ts, blocks)

    @app.action(ui.ASSIGN)
    async def on_assign(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The "Assign…" picker: what `/ticketbolt assign` does, answered to the clicker."""
        await ack()
        click = Click.of(body)
        picked = str(((body.get("actions") or [{}])[0] or {}).get("selected_user") or "")
        link = await ticket_of(click)
        if link is None or link.ticket_id is None or not picked:
            return
        reader = SlackReader(deps.slack, click.team, deps.slack_directory)
        caller = await reader.person(click.user)
        text, blocks = await answers.assign(caller, click.team, link.ticket_id, picked)
        await claims.tell(click.channel, click.user, text, link.thread_ts, blocks)

    deps.job_handlers[CLAIM_JOB] = claims.run
    return claims
