"""`/ticketbolt summary <id>` and the "Ticket summary" message shortcut: a ticket's summary,
shown only to the person who asked."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from ticketbolt.handlers import blocks_status as ui
from ticketbolt.handlers.agents import Agents
from ticketbolt.handlers.deps import Deps, LinkLike, PermanentJobError
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.slack_directory import Person
from ticketbolt.handlers.summary import stored_summary, thread_lines
from ticketbolt.integrations.gorgias.errors import GorgiasError, GorgiasNotFound
from ticketbolt.integrations.gorgias.models import Ticket

log = logging.getLogger(__name__)

# What this feature needs from Slack; tests/test_manifest.py holds manifest.yml to it.
SLACK_SHORTCUTS = ("ticket_summary",)
SCOPES = {
    "commands": "the Ticket summary message shortcut",
    "channels:history": "the thread a summary is written from",
    "users:read": "only agents of the workspace may read summaries",
}
SHORTCUT = SLACK_SHORTCUTS[0]
HANDOFF_SOURCE = "assistant"  # ticket_links.source of hand-offs (handlers/assistant_handoff.py)
NO_THREAD = (
    "Slack does not run slash commands inside threads, so I can't tell which ticket you mean. "
    "Use `/ticketbolt summary <ticket number>` (the number is in the thread's ticket message), "
    "or pick *Ticket summary* from the ⋯ menu of any message in the ticketed thread."
)
NOT_TICKETED = (
    "This thread has no ticket, so there is no summary. React with :ticket: on its first "
    "message to open one."
)
OFF = "Summaries are off here (TICKETBOLT_SUMMARIES=off)."


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def no_thread() -> ui.Answer:
    return NO_THREAD, [_section(f":information_source: {NO_THREAD}")]


def summary_answer(ticket_id: int, summary: str, link: str | None, note: str) -> ui.Answer:
    """The summary as plain text (escaped: it is data, never markup), and where it is from."""
    where = f"<{link}|Ticket #{ticket_id}>" if link else f"Ticket #{ticket_id}"
    text = f"Ticket #{ticket_id} — {summary}"
    return text, [
        _section(f"*{where}*\n{ui.escape(summary)}"),
        _context(f"{note} Machine-written: check it against the conversation."),
    ]


async def gorgias_ticket(gorgias: Any, ticket_id: int) -> Ticket | ui.Answer:
    """The ticket, read from Gorgias (`gorgias` is the client or None), or the answer that says
    why it cannot be: Gorgias not configured, no such ticket, or no answer."""
    if gorgias is None:
        return ui.problem("Gorgias is not configured (set GORGIAS_ACCOUNT and its keys).")
    try:
        ticket: Ticket = await gorgias.get_ticket(ticket_id)
    except GorgiasNotFound:
        return ui.ticket_not_found(ticket_id)
    except GorgiasError as exc:
        return ui.problem(f"Gorgias did not answer: {exc.message}")
    return ticket


class SummaryAnswers:
    """Finds a ticket's conversation and its summary for the person asking."""

    def __init__(self, deps: Deps):
        self._deps = deps
        self._agents = Agents(deps)

    async def for_ticket(self, person: Person, team_id: str, ticket_id: int) -> ui.Answer:
        link = await self._deps.links.by_ticket(ticket_id)
        if link is None or link.team_id != team_id:
            return ui.problem(
                f"Ticket #{ticket_id} did not come from a Slack conversation in this workspace, "
                "so there is nothing here to summarise."
            )
        return await self.for_link(person, team_id, link)

    async def for_message(
        self, person: Person, team_id: str, channel: str, ts: str, thread_ts: str
    ) -> ui.Answer:
        links = self._deps.links
        link = await links.get(team_id, channel, ts) or await links.by_thread(
            team_id, channel, thread_ts or ts
        )
        if link is None or link.ticket_id is None:
            return NOT_TICKETED, [_section(f":information_source: {NOT_TICKETED}")]
        return await self.for_link(person, team_id, link)

    async def for_link(self, person: Person, team_id: str, link: LinkLike) -> ui.Answer:
        summaries = self._deps.summaries
        if summaries is None:
            return ui.problem(OFF)
        if not await self._agents.is_agent(person, team_id):
            return ui.problem("Only agents can read ticket summaries (see TICKETBOLT_AGENTS).")
        if link.ticket_id is None:
            return ui.problem("That ticket is still being made; try again in a moment.")
        gorgias = self._deps.gorgias
        url = gorgias.ticket_link(link.ticket_id) if gorgias else None
        if getattr(link, "source", "") == HANDOFF_SOURCE:
            return await self._stored(link.ticket_id, url)
        return await self._live(summaries, team_id, link, link.ticket_id, url)

    async def _live(
        self, summaries: Any, team_id: str, link: LinkLike, ticket_id: int, url: str | None
    ) -> ui.Answer:
        """A thread ticket's summary, of the thread as it stands now (cached while unchanged)."""
        reader = SlackReader(self._deps.slack, team_id, self._deps.slack_directory)
        try:
            context = await reader.message(link.channel_id, link.thread_ts, with_thread=False)
        except PermanentJobError as exc:  # deleted, or out of the bot's reach
            return ui.problem(f"The ticket's Slack thread cannot be read ({exc}).")
        summary = await summaries.summarize(await thread_lines(self._deps.slack, reader, context))
        if summary is None:
            return ui.problem("Only the customer has written in this thread; the ticket holds it.")
        note = "The thread as it stands now."
        return summary_answer(ticket_id, summary.text, url, note)

    async def _stored(self, ticket_id: int, url: str | None) -> ui.Answer:
        """A hand-off's summary, as its ticket's first message carries it."""
        ticket = await gorgias_ticket(self._deps.gorgias, ticket_id)
        if isinstance(ticket, tuple):  # why there is none
            return ticket
        first = min(ticket.messages, key=lambda m: m.id, default=None)
        summary = stored_summary((first.body_text if first else None) or "")
        if summary is None:
            return ui.problem(f"Ticket #{ticket_id} was handed off without a summary.")
        return summary_answer(ticket_id, summary, url, "Written when it was handed off.")

    async def shortcut(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """The message shortcut's answer, after the ack; a failure still tells the person."""
        message = body.get("message") or {}
        team_id, channel = str(body["team"]["id"]), str(body["channel"]["id"])
        ts = str(message.get("ts") or body.get("message_ts") or "")
        try:
            reader = SlackReader(self._deps.slack, team_id, self._deps.slack_directory)
            person = await reader.person(str(body["user"]["id"]))
            if not person.member_of(team_id):
                text, blocks = ui.refused()
            else:
                thread_ts = str(message.get("thread_ts") or ts)
                text, blocks = await self.for_message(person, team_id, channel, ts, thread_ts)
        except SlackApiError as exc:
            log.warning("Ticket summary: Slack refused a read: %s", exc.response.get("error"))
            text, blocks = ui.problem("Slack refused to answer; try again later.")
        except Exception:
            # This runs after the ack: nothing else would ever log its error.
            log.exception("Ticket summary failed")
            text, blocks = ui.problem("Could not write the summary; the bot's log says why.")
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)


def register(app: AsyncApp, deps: Deps) -> None:
    answers = SummaryAnswers(deps)

    @app.message_shortcut(SHORTCUT)
    async def on_ticket_summary(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        deps.spawn(answers.shortcut(body, respond))
