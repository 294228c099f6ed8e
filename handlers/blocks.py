"""Pure Block Kit builders: every message the bot posts is shaped here."""

from __future__ import annotations

from typing import Any

from ticketbolt.handlers.blocks_triage import take_it

Blocks = list[dict[str, Any]]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def ticket_created(ticket_id: int, subject: str, link: str, reactor: str) -> tuple[str, Blocks]:
    text = f"Ticket #{ticket_id} opened: {subject}"
    return text, [
        _section(f":ticket: *<{link}|Ticket #{ticket_id}>* opened — {subject}"),
        _context(f"Status: *open* · requested by <@{reactor}>"),
        take_it(ticket_id),  # claiming (handlers/triage.py)
    ]


def ticket_status(ticket_id: int, link: str, status: str, actor: str) -> tuple[str, Blocks]:
    verb = "resolved" if status == "closed" else "reopened"
    icon = ":white_check_mark:" if status == "closed" else ":arrows_counterclockwise:"
    text = f"Ticket #{ticket_id} {verb} by {actor}"
    return text, [_section(f"{icon} *<{link}|Ticket #{ticket_id}>* {verb} by {actor}")]


def job_failed(action: str, reason: str, job_id: int) -> tuple[str, Blocks]:
    text = f"Could not {action}: {reason}"
    return text, [
        _section(f":warning: Could not {action}: {reason}"),
        _context(f"An operator can retry it with `ticketbolt jobs retry {job_id}`."),
    ]


def helpdesk_reply(agent: str, body: str, link: str, ticket_id: int) -> tuple[str, Blocks]:
    text = f"{agent} (helpdesk): {body}"
    return text, [
        _section(f"*{agent}* via <{link}|ticket #{ticket_id}>:\n{body}"),
    ]


def helpdesk_note(agent: str, body: str, link: str, ticket_id: int) -> tuple[str, Blocks]:
    text = f"{agent} (internal note): {body}"
    return text, [
        _section(f":lock: *{agent}* noted on <{link}|ticket #{ticket_id}>:\n{body}"),
        _context("Internal note: the customer does not see it."),
    ]


def helpdesk_change(ticket_id: int, link: str, what: str, kind: str) -> tuple[str, Blocks]:
    """A change made in Gorgias: `what` reads "closed by Sam", `kind` picks the icon."""
    icon = {"closed": ":white_check_mark:", "open": ":arrows_counterclockwise:"}.get(
        kind, ":bust_in_silhouette:"
    )
    text = f"Ticket #{ticket_id} {what} in Gorgias"
    return text, [_section(f"{icon} *<{link}|Ticket #{ticket_id}>* {what} in Gorgias")]
