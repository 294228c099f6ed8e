"""Emoji ticketing: 🎫 records a create job, ✅ a close job, un-✅ a reopen job, for the worker."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from ticketbolt.handlers import blocks
from ticketbolt.handlers.deps import Deps, JobLike
from ticketbolt.handlers.filters import base_reaction
from ticketbolt.handlers.tickets import TicketService
from ticketbolt.handlers.triage import Claims

log = logging.getLogger(__name__)

# What this feature needs from Slack; tests/test_manifest.py holds manifest.yml to it.
SLACK_EVENTS = ("reaction_added", "reaction_removed")
SCOPES = {
    "reactions:read": "receive reaction_added / reaction_removed",
    "reactions:write": "the bot's marker reaction on ticketed messages",
    "channels:history": "read the reacted message in public channels",
    "groups:history": "read the reacted message in private channels",
    "im:history": "read the reacted message in direct messages",
    "channels:read": "channel names for ticket tags",
    "groups:read": "private channel names for ticket tags",
    "users:read": "names of authors, reactors and mentioned people",
    "users:read.email": "the author's e-mail picks the Gorgias customer",
    "chat:write": "thread replies with the ticket link and state",
    "usergroups:read": "TICKETBOLT_AGENTS may name user groups of agents",
}


def message_key(team_id: str, channel_id: str, ts: str) -> str:
    """The business key of a Slack message: one ticket per key, whoever asks and however often."""
    return f"{team_id}:{channel_id}:{ts}"


def register(app: AsyncApp, deps: Deps) -> None:
    config = deps.config
    service = TicketService(deps)
    claims = Claims(deps)  # the claim reaction (handlers/triage.py)

    added_event, removed_event = SLACK_EVENTS

    @app.event(added_event)
    async def on_reaction_added(body: dict[str, Any], event: dict[str, Any]) -> None:
        await _record(body, event, added=True)

    @app.event(removed_event)
    async def on_reaction_removed(body: dict[str, Any], event: dict[str, Any]) -> None:
        await _record(body, event, added=False)

    async def _record(body: dict[str, Any], event: dict[str, Any], *, added: bool) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
            log.info("reaction on something other than a message ignored")
            return
        name = base_reaction(str(event.get("reaction", "")))
        team_id = str(body.get("team_id") or "")
        key = message_key(team_id, item["channel"], item["ts"])
        payload = {
            "team_id": team_id,
            "channel": item["channel"],
            "ts": item["ts"],
            "user": event.get("user", ""),
        }
        event_id = str(body.get("event_id") or "")
        if name == config.create_reaction and added:
            # Every agent and every retry maps to the same key: the unique index keeps one job.
            await deps.jobs.enqueue(
                "create_ticket",
                payload,
                key=f"create:{key}",
                order_key=key,
                correlation_id=event_id,
                event_id=event_id,
            )
        elif name == config.claim_reaction:
            await claims.record(
                team_id, item["channel"], item["ts"], payload["user"], assign=added,
                event_id=event_id,
            )  # fmt: skip
        elif name == config.resolve_reaction:
            status = "closed" if added else "open"
            await deps.jobs.enqueue(
                "set_status",
                {**payload, "status": status},
                key=f"status:{event_id or key}",
                order_key=key,
                correlation_id=event_id,
                event_id=event_id,
            )

    async def run_create(job: JobLike) -> None:
        await service.create_from_message(job)

    async def run_set_status(job: JobLike) -> None:
        await service.set_status_from_reaction(job)

    deps.job_handlers["create_ticket"] = run_create
    deps.job_handlers["set_status"] = run_set_status


__all__ = ["blocks", "message_key", "register"]
