"""`/ticketbolt`: status, cache, ticket look-ups and triage (assign, mine, channel), answered
after a fast ack."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from ticketbolt.handlers import blocks_status as ui
from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.sla_commands import sla_answer
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.summary_commands import SummaryAnswers, gorgias_ticket, no_thread
from ticketbolt.handlers.triage_commands import TriageAnswers
from ticketbolt.integrations.ids import parse_id

log = logging.getLogger(__name__)

# What this feature needs from Slack; tests/test_manifest.py holds manifest.yml to it.
SLACK_COMMANDS = ("/ticketbolt",)
SCOPES = {
    "commands": "the /ticketbolt slash command",
    "users:read": "only members of the workspace may see status, cache and tickets",
}
COMMAND = SLACK_COMMANDS[0]
# Sub-commands answered in the background: each reads a dependency that may be slow.
BACKGROUND = ("status", "cache", "ticket", "assign", "mine", "channel", "sla", "summary")
# `assign <id> <@U…|name>`: Slack escapes the mention (should_escape in manifest.yml).
_ASSIGN = re.compile(r"(\S+)\s+<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Request:
    """A parsed `/ticketbolt` invocation; `sub` is `help` for anything it cannot answer."""

    sub: str
    ticket_id: int | None = None
    user_id: str = ""  # whom `assign` names
    problem: str = ""  # why a `help` answer replaced what was asked, shown above the usage

    @classmethod
    def parse(cls, text: str) -> Request:
        words = text.split()
        sub = words[0].lower() if words else "help"
        if sub == "ticket":
            return cls._ticket(words[1:])
        if sub == "summary" and len(words) > 1:
            return cls._summary(words[1:])
        if sub == "assign":
            return cls._assign(text.strip()[len(words[0]) :].strip())
        if sub in ("mine", "channel", "sla") and len(words) > 1:
            return cls("help", problem=f"`{sub}` takes nothing after it: `/ticketbolt {sub}`.")
        if sub in BACKGROUND or sub == "help":
            return cls(sub)
        return cls("help", problem=ui.unknown_subcommand(words[0]))

    @classmethod
    def _ticket(cls, args: list[str]) -> Request:
        if len(args) != 1:
            return cls(
                "help", problem="`ticket` needs one ticket number, like `/ticketbolt ticket 1234`."
            )
        ticket_id = parse_id(args[0].removeprefix("#"))
        if ticket_id is None:
            return cls("help", problem=ui.not_a_ticket_id(args[0]))
        return cls("ticket", ticket_id)

    @classmethod
    def _summary(cls, args: list[str]) -> Request:
        """`summary <id>`; `summary` alone is answered at once (Slack gives no thread)."""
        ticket_id = parse_id(args[0].removeprefix("#")) if len(args) == 1 else None
        if ticket_id is None:
            return cls(
                "help",
                problem="`summary` takes one ticket number, like `/ticketbolt summary 1234`.",
            )
        return cls("summary", ticket_id)

    @classmethod
    def _assign(cls, rest: str) -> Request:
        found = _ASSIGN.fullmatch(rest)
        if found is None:
            return cls(
                "help",
                problem="`assign` needs a ticket number and a person picked from the @ menu, "
                "like `/ticketbolt assign 1234 @alex`.",
            )
        ticket_id = parse_id(found[1].removeprefix("#"))
        if ticket_id is None:
            return cls("help", problem=ui.not_a_ticket_id(found[1]))
        return cls("assign", ticket_id, found[2])


class Answers:
    """Builds each background answer; the listener only parses, acks and hands over."""

    def __init__(self, deps: Deps):
        self._deps = deps
        self._triage = TriageAnswers(deps)
        self._summaries = SummaryAnswers(deps)

    async def deliver(
        self,
        request: Request,
        team_id: str,
        user_id: str,
        respond: AsyncRespond,
        channel_id: str = "",
    ) -> None:
        """Answer on the command's `response_url`; a failure still tells the person."""
        try:
            text, blocks = await self.answer(request, team_id, user_id, channel_id)
        except SlackApiError as exc:
            # Slack refused a read (an unknown user, a revoked token): its answer, not our fault.
            error = exc.response.get("error")
            log.warning("/ticketbolt %s: Slack refused a read: %s", request.sub, error)
            text, blocks = ui.problem(f"Slack refused to answer (`{error}`); try again later.")
        except Exception:
            # Nothing else would ever see this task's error (it runs after the ack), and the
            # person would wait for an answer that never comes.
            log.exception("/ticketbolt %s failed", request.sub)
            text, blocks = ui.problem(f"Could not finish `{request.sub}`; the bot's log says why.")
        try:
            sent = await respond(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
        except (aiohttp.ClientError, TimeoutError):
            log.warning("could not post the /ticketbolt answer to its response_url", exc_info=True)
            return
        if sent.status_code >= 400:
            # Slack refuses a response_url after 30 minutes or five uses.
            log.warning(
                "response_url refused the /ticketbolt answer: %s %s", sent.status_code, sent.body
            )

    async def answer(
        self, request: Request, team_id: str, user_id: str, channel_id: str = ""
    ) -> ui.Answer:
        reader = SlackReader(self._deps.slack, team_id, self._deps.slack_directory)
        person = await reader.person(user_id)
        if not person.member_of(team_id):
            return ui.refused()
        if request.sub in ("ticket", "summary") and request.ticket_id is not None:
            return await (
                self.ticket(request.ticket_id, team_id)
                if request.sub == "ticket"
                else self._summaries.for_ticket(person, team_id, request.ticket_id)
            )
        if request.sub == "assign" and request.ticket_id is not None:
            return await self._triage.assign(person, team_id, request.ticket_id, request.user_id)
        if request.sub == "mine":
            return await self._triage.mine(person)
        if request.sub in ("channel", "sla"):  # about the caller's channel
            return (
                await sla_answer(self._deps.sla, self._deps.gorgias, team_id, channel_id)
                if request.sub == "sla"
                else self._triage.channel(channel_id)
            )
        return await self.status(request.sub)

    async def status(self, sub: str) -> ui.Answer:
        """`status` or `cache`: read from the process's status source."""
        if self._deps.status is None:
            return ui.problem("Status is not available in this process.")
        if sub == "cache":
            return ui.cache_report((await self._deps.status.stats())["cache"])
        return ui.status_report(await self._deps.status.status_report())

    async def ticket(self, ticket_id: int, team_id: str) -> ui.Answer:
        ticket = await gorgias_ticket(self._deps.gorgias, ticket_id)
        if isinstance(ticket, tuple):  # why there is none
            return ticket
        return ui.ticket_details(
            ticket,
            self._deps.gorgias.ticket_link(ticket_id),
            await self.permalink(ticket_id, team_id),
        )

    async def permalink(self, ticket_id: int, team_id: str) -> str | None:
        """The Slack message the ticket came from, if in this workspace and still there."""
        link = await self._deps.links.by_ticket(ticket_id)
        if link is None or link.team_id != team_id:
            return None
        try:
            found = await self._deps.slack.chat_getPermalink(
                channel=link.channel_id, message_ts=link.message_ts
            )
        except SlackApiError:
            return None  # deleted or out of the bot's reach: the ticket is still worth showing
        return str(found["permalink"])


def register(app: AsyncApp, deps: Deps) -> None:
    answers = Answers(deps)

    @app.command(COMMAND)
    async def on_ticketbolt(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        request = Request.parse(str(body.get("text") or ""))
        if request.sub == "help":
            text, blocks = ui.usage(request.problem)
            await ack(text=text, blocks=blocks, response_type="ephemeral")
            return
        if request.sub == "summary" and request.ticket_id is None:
            text, blocks = no_thread()  # nothing to look up: say how to ask
            await ack(text=text, blocks=blocks, response_type="ephemeral")
            return
        await ack(text=ui.CHECKING, response_type="ephemeral")
        # Membership and every look-up happen after the ack: Slack allows three seconds.
        deps.spawn(
            answers.deliver(
                request,
                str(body.get("team_id") or ""),
                str(body.get("user_id") or ""),
                respond,
                str(body.get("channel_id") or ""),
            )
        )
