"""`/ticketbolt assign`, `mine` and `channel`: the triage answers that commands.py routes here."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError

from ticketbolt.handlers import blocks_status
from ticketbolt.handlers import blocks_triage as ui
from ticketbolt.handlers.agents import Agents
from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.posting import EVENT_TYPE
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.slack_directory import Person
from ticketbolt.integrations.gorgias.client import GorgiasClient
from ticketbolt.integrations.gorgias.errors import GorgiasError, GorgiasNotFound
from ticketbolt.integrations.gorgias.models import Ticket

log = logging.getLogger(__name__)

MINE_LIMIT = 20  # tickets listed by `mine`
# Gorgias cannot filter tickets by assignee or status: `mine` reads the most recently updated
# ones, a page of 100 at a time, and stops here so one command costs at most five calls.
MINE_SCAN = 500


class TriageAnswers:
    """Builds the answers; the caller is already known to be a member of the workspace."""

    def __init__(self, deps: Deps):
        self._deps = deps
        self._agents = Agents(deps)

    async def assign(self, caller: Person, team_id: str, ticket_id: int, user_id: str) -> ui.Answer:
        gorgias = self._deps.gorgias
        if gorgias is None:
            return _no_gorgias()
        if not await self._agents.is_agent(caller, team_id):
            await self._audit(caller, team_id, ticket_id, "denied", "not an allowed agent")
            return ui.not_an_agent()
        target = await self._assignee(team_id, user_id)
        if not isinstance(target, Person):
            return target
        try:
            return await self._assign(gorgias, caller, target, team_id, ticket_id)
        except GorgiasNotFound:
            return blocks_status.ticket_not_found(ticket_id)
        except GorgiasError as exc:
            return blocks_status.problem(f"Gorgias did not answer: {exc.message}")

    async def _assignee(self, team_id: str, user_id: str) -> Person | ui.Answer:
        """The member `assign` names, or why they cannot be assigned."""
        reader = SlackReader(self._deps.slack, team_id, self._deps.slack_directory)
        try:
            target = await reader.person(user_id)
        except SlackApiError:
            return ui.unknown_user(user_id)
        if not target.member_of(team_id):
            return ui.not_assignable(f"<@{target.id}>")
        return target

    async def _assign(
        self, gorgias: GorgiasClient, caller: Person, target: Person, team_id: str, ticket_id: int
    ) -> ui.Answer:
        who = f"<@{target.id}>"
        ticket = await gorgias.get_ticket(ticket_id)
        user = await gorgias.find_user_by_email(target.email) if target.email else None
        if user is None:
            return ui.no_gorgias_user_for(who, target.email)
        link = gorgias.ticket_link(ticket_id)
        current = ticket.assignee_user
        if current is not None and current.id == user.id:
            return ui.assign_done(ticket_id, link, who, already=True, in_thread=False)
        # Recorded first, so the helpdesk's echo of this change (sync_gorgias) says nothing.
        await self._deps.mirror.set_assignee(ticket_id, user.id)
        await gorgias.assign_ticket(ticket_id, user.id)
        await self._audit(caller, team_id, ticket_id, "ok", f"assigned to {target.id}")
        in_thread = await self._announce(ticket_id, team_id, link, who, f"<@{caller.id}>")
        return ui.assign_done(ticket_id, link, who, already=False, in_thread=in_thread)

    async def _announce(self, ticket_id: int, team_id: str, link: str, who: str, by: str) -> bool:
        """Say it in the ticket's Slack thread, as a claim does; False when there is none."""
        found = await self._deps.links.by_ticket(ticket_id)
        if found is None or found.team_id != team_id or not found.thread_ts:
            return False
        text, blocks = ui.assigned(ticket_id, link, who, by)
        try:
            await self._deps.slack.chat_postMessage(
                channel=found.channel_id,
                thread_ts=found.thread_ts,
                text=text,
                blocks=blocks,
                metadata={"event_type": EVENT_TYPE, "event_payload": {"marker": f"{link}|assign"}},
                unfurl_links=False,
            )
        except SlackApiError:
            log.warning(
                "could not tell ticket #%d's thread who it went to", ticket_id, exc_info=True
            )
            return False
        return True

    async def mine(self, caller: Person) -> ui.Answer:
        gorgias = self._deps.gorgias
        if gorgias is None:
            return _no_gorgias()
        if not caller.email:
            return blocks_status.problem(
                "Your Slack profile has no e-mail to find your Gorgias user by."
            )
        try:
            user = await gorgias.find_user_by_email(caller.email)
            if user is None:
                return blocks_status.problem(
                    f"Gorgias has no user with the e-mail {caller.email} (your Slack profile's)."
                )
            found, scanned, complete = await _assigned_open(gorgias, user.id)
        except GorgiasError as exc:
            return blocks_status.problem(f"Gorgias did not answer: {exc.message}")
        epoch = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda t: (t.created_datetime or epoch, t.id), reverse=True)
        now = datetime.now(UTC)
        rows = [
            (
                t.id,
                gorgias.ticket_link(t.id),
                t.subject or "",
                _age(now - t.created_datetime) if t.created_datetime else "unknown",
            )
            for t in found[:MINE_LIMIT]
        ]
        return ui.my_tickets(
            rows,
            email=caller.email,
            more=len(found) > MINE_LIMIT,
            scanned=None if complete else scanned,
        )

    def channel(self, channel_id: str) -> ui.Answer:
        routing = self._deps.config.routing
        rules = routing.of(channel_id)
        team = rules.assignee_team
        settings = [
            ("Mode", rules.mode),
            ("Tags", ", ".join(rules.tags) or "none"),
            ("Priority", rules.priority or "Gorgias' default"),
            ("Assignee team", f"Gorgias team {team}" if team is not None else "none"),
            ("SLA policy", rules.sla or "none"),
            ("Alert channel", f"<#{rules.alert_channel}>" if rules.alert_channel else "none"),
        ]
        listed = channel_id in routing.channels
        return ui.channel_settings(channel_id, settings, listed=listed, source=routing.source)

    async def _audit(
        self, caller: Person, team_id: str, ticket_id: int, outcome: str, detail: str
    ) -> None:
        await self._deps.audit.record(
            actor=caller.id,
            action="assign",
            outcome=outcome,
            team_id=team_id,
            ticket_id=ticket_id,
            detail=detail,
        )


async def _assigned_open(gorgias: GorgiasClient, user_id: int) -> tuple[list[Ticket], int, bool]:
    """Open tickets assigned to `user_id` among the most recently updated; how many were read;
    whether the scan saw every ticket (one more than MINE_LIMIT is enough to say "more")."""
    found: list[Ticket] = []
    scanned = 0
    async for ticket in gorgias.iter_tickets(order_by="updated_datetime:desc"):
        if scanned >= MINE_SCAN:
            return found, scanned, False
        scanned += 1
        mine = ticket.assignee_user is not None and ticket.assignee_user.id == user_id
        if mine and ticket.status == "open":
            found.append(ticket)
    return found, scanned, True


def _age(age: timedelta) -> str:
    """`9h`, `1d 4h`, `12m`: whole minutes are enough for a ticket's age."""
    seconds = max(0, int(age.total_seconds()))
    return blocks_status.duration(seconds if seconds < 60 else seconds - seconds % 60)


def _no_gorgias() -> ui.Answer:
    return blocks_status.problem("Gorgias is not configured (set GORGIAS_ACCOUNT and its keys).")
