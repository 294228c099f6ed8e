"""The SLA watchdog: warns at `warn_at`, posts 🔴 breach notices and tags `sla:breached`.

A periodic run (every `TICKETBOLT_SLA_INTERVAL_SECONDS`) reads the clocks that fall due
(handlers/sla.py), confirms each ticket is still open — and not answered in Gorgias already —
with one Gorgias read, and records each decision with its notice jobs in one transaction. The
jobs post in the thread and in the channel's `alert_channel`, each once. What is left of the
run's calls (at most `api_calls_per_run`: the share of the allowance `TICKETBOLT_SLA_API_SHARE`
grants) polls recently closed tickets for a satisfaction score (handlers/sla_csat.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ticketbolt.handlers.deps import Deps, JobLike
from ticketbolt.handlers.posting import post_once
from ticketbolt.handlers.sla import CLOCK_LABELS, Clock, ClockName, JobSpec, SlaService, Stage
from ticketbolt.handlers.sla_hours import business_time_between
from ticketbolt.integrations.gorgias.errors import GorgiasError, GorgiasNotFound
from ticketbolt.integrations.slack.text import slack_time

log = logging.getLogger(__name__)

NOTICE_JOB = "sla_notice"
TAG_JOB = "sla_tag"
BREACHED_TAG = "sla:breached"
LAST_RUN_KEY = "sla:watchdog:last_run_calls"
SCOPES = {"chat:write": "SLA warnings and breach notices in the thread and the alert channel"}


def notice_text(clock: Clock, name: ClockName, stage: Stage, left_minutes: int, link: str) -> str:
    """`⏳ first response due in 4 min …` or `🔴 first response SLA breached …`."""
    what = CLOCK_LABELS[name]
    ticket = f"<{link}|ticket #{clock.ticket_id}>" if link else f"ticket #{clock.ticket_id}"
    if stage == "warn":
        return f"⏳ {what.capitalize()} due in {left_minutes} min ({clock.policy} SLA) — {ticket}"
    return f"🔴 {what.capitalize()} SLA breached ({clock.policy}) — {ticket}"


class SatisfactionPoll(Protocol):
    """handlers/sla_csat.py `Satisfaction`: one Gorgias read for a closed ticket's score."""

    async def poll(self, clock: Clock, now: datetime) -> None: ...


class WatchdogMetrics(Protocol):
    """bot/metrics.py `SlaMetrics`."""

    def decided(self, policy: str, clock: ClockName, stage: Stage) -> None: ...
    def tracked(self, counts: dict[str, dict[str, int]]) -> None: ...
    def api_used(self, calls: int, budget: int) -> None: ...


@dataclass
class SlaWatchdog:
    """One run at a time across replicas (the store's `exclusive`)."""

    deps: Deps
    service: SlaService
    api_calls_per_run: int = 5
    batch: int = 500
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    interval: float = 30.0  # seconds between runs
    share: float = 0.25  # of the Gorgias allowance: what `api_calls_per_run` was derived from
    csat: SatisfactionPoll | None = None
    metrics: WatchdogMetrics | None = None
    last_run_calls: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Run every `interval` seconds until `stop`; a failed run is logged and retried."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("SLA watchdog run failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def report(self) -> dict[str, Any]:
        """What `/ticketbolt status` shows of the watchdog's API use. The last run may have been
        another replica's or the supervised worker's: its count is read from the shared cache."""
        last = self.last_run_calls
        cache = self.deps.cache
        if cache is not None:
            with contextlib.suppress(Exception):  # a cache outage only shows this process's
                stored = await cache.get(LAST_RUN_KEY)
                last = int(stored) if stored is not None else last
        return {
            "share": self.share,
            "calls_per_run": self.api_calls_per_run,
            "interval_seconds": self.interval,
            "last_run_calls": last,
        }

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Decide what is due at `now`; returns counts per outcome."""
        now = now or self.clock()
        counts = {"warned": 0, "breached": 0, "closed": 0, "deferred": 0, "skipped": 0}
        counts |= {"csat_polled": 0, "api_calls": 0}
        store = self.service.store
        async with store.exclusive() as mine:
            if not mine:
                counts["skipped"] += 1
                return counts
            budget = self.api_calls_per_run
            for clock in await store.due(now, self.batch):
                decisions = clock.pending(now)
                if not decisions:
                    continue
                if budget <= 0:
                    counts["deferred"] += 1
                    continue
                budget -= 1
                still_open = await self._still_open(clock)
                if not still_open:
                    counts["closed" if still_open is False else "deferred"] += 1
                    continue
                for name, stage in decisions:
                    jobs = self._jobs(clock, name, stage, now)
                    if await store.decide(clock.ticket_id, name, stage, jobs):
                        counts["warned" if stage == "warn" else "breached"] += 1
                        if self.metrics is not None:
                            self.metrics.decided(clock.policy, name, stage)
            if self.csat is not None and budget > 0:
                counts["csat_polled"] = await self._poll_surveys(self.csat, now, budget)
                budget -= counts["csat_polled"]
            counts["api_calls"] = self.last_run_calls = self.api_calls_per_run - budget
            if self.deps.cache is not None:
                with contextlib.suppress(Exception):
                    ttl = max(60.0, self.interval * 4)
                    await self.deps.cache.set(LAST_RUN_KEY, str(self.last_run_calls).encode(), ttl)
            if self.metrics is not None:
                self.metrics.api_used(self.last_run_calls, self.api_calls_per_run)
                self.metrics.tracked(await store.counts())
        return counts

    async def _poll_surveys(self, csat: SatisfactionPoll, now: datetime, budget: int) -> int:
        """What is left of the run's calls asks closed tickets for a satisfaction score."""
        clocks = await self.service.store.csat_due(now, budget)
        for clock in clocks:
            try:
                await csat.poll(clock, now)
            except GorgiasError as exc:  # asked again at a later run
                log.warning("SLA watchdog: no survey for ticket %s: %s", clock.ticket_id, exc)
        return len(clocks)

    async def _still_open(self, clock: Clock) -> bool | None:
        """One Gorgias read; a closed (or deleted) ticket stops its clocks instead, an agent's
        reply in Gorgias its first-response clock; None when Gorgias cannot tell now (the next
        run asks again)."""
        try:
            ticket = await self.deps.gorgias.get_ticket(clock.ticket_id)
        except GorgiasNotFound:
            await self.service.resolved(clock.ticket_id)
            return False
        except GorgiasError as exc:
            log.warning("SLA watchdog: cannot confirm ticket %s: %s", clock.ticket_id, exc)
            return None
        if ticket.status == "closed":
            await self.service.resolved(clock.ticket_id, ticket.closed_datetime)
            return False
        if clock.first_response_at is None:
            await self.service.replied_in_gorgias(clock.ticket_id, ticket.messages)
        return True

    def _jobs(self, clock: Clock, name: ClockName, stage: Stage, now: datetime) -> list[JobSpec]:
        due = clock.due_at(name) or now
        left = business_time_between(self.service.schedule_of(clock.policy), now, due)
        gorgias = self.deps.gorgias
        link = gorgias.ticket_link(clock.ticket_id) if gorgias is not None else ""
        text = notice_text(clock, name, stage, max(1, round(left.total_seconds() / 60)), link)
        key = f"sla:{clock.ticket_id}:{name}:{stage}"
        jobs = [JobSpec(NOTICE_JOB, notice(clock.channel_id, clock.thread_ts, text, key), key)]
        rules = self.service.routing.of(clock.channel_id)
        if rules.alert_channel:
            called = f" {mention(rules.alert_mention)}" if stage == "breach" else ""
            alert = notice(rules.alert_channel, "", text + called, key)
            jobs.append(JobSpec(NOTICE_JOB, alert, f"{key}:alert"))
        if stage == "breach":
            jobs.append(JobSpec(TAG_JOB, {"ticket_id": clock.ticket_id}, f"{key}:tag"))
        return jobs


def mention(who: str | None) -> str:
    """`alert_mention` as Slack writes it: `<!subteam^S…>`, `<@U…>`, `<!here>`."""
    if not who:
        return ""
    if who in ("here", "channel"):
        return f"<!{who}>"
    return f"<!subteam^{who}>" if who.startswith("S") else f"<@{who}>"


def notice(channel: str, thread_ts: str, text: str, marker: str) -> dict[str, Any]:
    return {"channel": channel, "thread_ts": thread_ts, "text": text, "marker": marker}


def register(app: Any, deps: Deps) -> None:
    del app  # no listeners: agents' replies come through the message router
    service: SlaService | None = deps.sla
    if service is None:
        return

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        """An agent's reply in a ticket's thread is its first response."""
        thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
        if not thread_ts or ts == thread_ts or not user or event.get("bot_id"):
            return
        if event.get("subtype") or user == event.get("parent_user_id"):
            return  # edits, deletions and the customer's own replies
        agents = deps.config.agents
        if agents and user not in agents:
            return
        team, channel = str(body.get("team_id") or ""), str(event.get("channel") or "")
        link = await deps.links.by_thread(team, channel, str(thread_ts))
        at = slack_time(str(ts))
        if link is not None and link.ticket_id is not None and at is not None:
            await service.first_response(link.ticket_id, at)

    async def run_notice(job: JobLike) -> None:
        p = job.payload
        await post_once(
            deps.slack,
            job,
            channel=p["channel"],
            thread_ts=p["thread_ts"] or None,
            text=p["text"],
            marker=p["marker"],
            notes=deps.cache,
            unfurl_links=False,
        )

    async def run_tag(job: JobLike) -> None:
        await deps.gorgias.add_tags(int(job.payload["ticket_id"]), [BREACHED_TAG])

    deps.message_consumers.append(on_message)
    deps.job_handlers[NOTICE_JOB] = run_notice
    deps.job_handlers[TAG_JOB] = run_tag
