"""Satisfaction back in the thread: "⭐ 4/5 — comment", and low scores in the alert channel.

Gorgias records a survey score after a ticket is closed. It reaches us on a `ticket-updated`
delivery (handlers/sync_gorgias.py re-reads the ticket and calls `ticket_updated`) or through
the SLA watchdog's poll of the tickets it tracked (`poll`, within its API budget). Each score
is posted once per survey: its notice jobs are keyed by the survey's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ticketbolt.handlers.channel_rules import Routing
from ticketbolt.handlers.deps import JobSink, LinkLike
from ticketbolt.handlers.sla import Clock, SlaService
from ticketbolt.handlers.sla_watchdog import NOTICE_JOB, notice
from ticketbolt.handlers.sync_gorgias import clip, mrkdwn_escape
from ticketbolt.integrations.gorgias.models import SatisfactionSurvey, Ticket

DEFAULT_ALERT_BELOW = 2  # TICKETBOLT_CSAT_ALERT_BELOW
COMMENT_LIMIT = 500


def csat_text(survey: SatisfactionSurvey, ticket_id: int, link: str) -> str:
    """`⭐ 4/5 — Quick and kind · ticket #12`; the comment shown as typed, never as markup."""
    comment = " ".join((survey.body_text or "").split())
    said = f" — {clip(mrkdwn_escape(comment), COMMENT_LIMIT)}" if comment else ""
    ticket = f"<{link}|ticket #{ticket_id}>" if link else f"ticket #{ticket_id}"
    return f"⭐ {survey.score}/5{said} · {ticket}"


def alert_text(survey: SatisfactionSurvey, ticket_id: int, link: str) -> str:
    return f"Low satisfaction score: {csat_text(survey, ticket_id, link)}"


@dataclass
class Satisfaction:
    """Posts scored surveys of tickets made from Slack."""

    jobs: JobSink
    gorgias: Any  # ticketbolt.integrations.gorgias.GorgiasClient
    routing: Routing
    sla: SlaService | None = None  # remembers scores of tracked tickets, so polling stops
    alert_below: int = DEFAULT_ALERT_BELOW

    async def ticket_updated(self, link: LinkLike, ticket: Ticket) -> None:
        """A `ticket-updated` delivery, the ticket re-read: ask for its surveys once it shows
        one, unless its score was already posted."""
        if not ticket.satisfaction_survey or link.ticket_id is None:
            return
        if self.sla is not None:
            clock = await self.sla.store.get(ticket.id)
            if clock is not None and clock.csat_score is not None:
                return
        score = await self.check(link.ticket_id, link.channel_id, link.thread_ts)
        if score is not None and self.sla is not None:
            await self.sla.store.csat_checked(link.ticket_id, self.sla.clock(), score)

    async def poll(self, clock: Clock, now: datetime) -> None:
        """The watchdog's poll of one closed ticket (one Gorgias call)."""
        score = await self.check(clock.ticket_id, clock.channel_id, clock.thread_ts)
        if self.sla is not None:
            await self.sla.store.csat_checked(clock.ticket_id, now, score)

    async def check(self, ticket_id: int, channel: str, thread_ts: str) -> int | None:
        """Read the ticket's surveys and post each scored one; the latest score, if any."""
        surveys = await self.gorgias.list_satisfaction_surveys(ticket_id)
        scored = [s for s in surveys if s.score is not None]
        for survey in scored:
            await self._post(survey, ticket_id, channel, thread_ts)
        return scored[-1].score if scored else None

    async def _post(
        self, survey: SatisfactionSurvey, ticket_id: int, channel: str, thread_ts: str
    ) -> None:
        link = self.gorgias.ticket_link(ticket_id)
        key = f"csat:{ticket_id}:{survey.id}"
        notices: list[tuple[str, dict[str, Any]]] = [
            (key, notice(channel, thread_ts, csat_text(survey, ticket_id, link), key))
        ]
        alert = self.routing.of(channel).alert_channel
        if alert and survey.score is not None and survey.score <= self.alert_below:
            text = alert_text(survey, ticket_id, link)
            notices.append((f"{key}:alert", notice(alert, "", text, f"{key}:alert")))
        for job_key, payload in notices:
            # The key makes a repeated delivery or poll of the same survey one job.
            await self.jobs.enqueue(NOTICE_JOB, payload, key=job_key, correlation_id=key)
