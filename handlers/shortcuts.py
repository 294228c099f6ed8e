"""The "Create ticket" message shortcut: a modal for subject, priority and tags, then the 🎫 job."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from ticketbolt.handlers import blocks_status as ui
from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.reactions import message_key
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.ticket_text import subject_of

log = logging.getLogger(__name__)

# What this feature needs from Slack; tests/test_manifest.py holds manifest.yml to it.
SLACK_SHORTCUTS = ("create_ticket",)
SCOPES = {
    "commands": "the Create ticket message shortcut",
    "users:read": "only members of the workspace may create tickets",
}
SHORTCUT = SLACK_SHORTCUTS[0]
MODAL = "create_ticket_form"
MAX_SUBJECT = 998  # Gorgias' limit for a ticket subject
MAX_TAG = 256  # Gorgias' limit for a tag name
LOST = "This form no longer knows its message. Use *Create ticket* on the message again."


@dataclass(frozen=True)
class Target:
    """The message a modal is about; travels in the view's `private_metadata`."""

    team_id: str
    channel: str
    ts: str

    def dump(self) -> str:
        return json.dumps({"team": self.team_id, "channel": self.channel, "ts": self.ts})

    @classmethod
    def load(cls, metadata: str) -> Target | None:
        """The target `dump` wrote, or None for metadata that is not ours."""
        try:
            data = json.loads(metadata)
            return cls(str(data["team"]), str(data["channel"]), str(data["ts"]))
        except (ValueError, RecursionError, TypeError, KeyError):
            return None

    @property
    def key(self) -> str:
        return message_key(self.team_id, self.channel, self.ts)


@dataclass(frozen=True)
class TicketForm:
    """What the person entered, or per-field errors to show in the modal."""

    subject: str = ""
    body: str = ""
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, values: dict[str, dict[str, Any]]) -> TicketForm:
        def text(block: str) -> str:
            return str((values.get(block, {}).get(block) or {}).get("value") or "").strip()

        errors: dict[str, str] = {}
        subject = " ".join(text(ui.SUBJECT).split())
        if not subject:
            errors[ui.SUBJECT] = "Enter a subject."
        elif len(subject) > MAX_SUBJECT:
            errors[ui.SUBJECT] = f"At most {MAX_SUBJECT} characters (this one has {len(subject)})."
        tags = tuple(dict.fromkeys(t.strip().lstrip("#").strip() for t in text(ui.TAGS).split(",")))
        tags = tuple(t for t in tags if t)
        too_long = [t for t in tags if len(t) > MAX_TAG]
        if too_long:
            errors[ui.TAGS] = f"Separate tags with commas; each is at most {MAX_TAG} characters."
        chosen = (values.get(ui.PRIORITY, {}).get(ui.PRIORITY) or {}).get("selected_option") or {}
        priority = str(chosen.get("value") or "normal")
        if priority not in ui.PRIORITIES:
            errors[ui.PRIORITY] = "Choose one of the listed priorities."
        return cls(subject, text(ui.BODY), priority, tags, errors)


class CreateTicket:
    """Opens the form for a message and records the create job when it is submitted."""

    def __init__(self, deps: Deps):
        self._deps = deps

    async def open_form(self, body: dict[str, Any]) -> None:
        """Open the modal, or say why not; runs after the ack, within the trigger's 3 seconds."""
        try:
            view = await self.form_for(body)
            await self._deps.slack.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            # An expired trigger or an unknown user: Slack's answer, and nothing more to do.
            log.warning("could not open the Create ticket form: %s", exc.response.get("error"))
        except Exception:
            # This runs after the ack: nothing else would ever log its error.
            log.exception("could not open the Create ticket form")

    async def form_for(self, body: dict[str, Any]) -> dict[str, Any]:
        message = body.get("message") or {}
        target = Target(
            str(body["team"]["id"]),
            str(body["channel"]["id"]),
            str(message.get("ts") or body.get("message_ts")),
        )
        reader = SlackReader(self._deps.slack, target.team_id, self._deps.slack_directory)
        person = await reader.person(str(body["user"]["id"]))
        if not person.member_of(target.team_id):
            return ui.notice_modal("Create ticket", ui.refused()[0])
        existing = await self.existing(target)
        if existing is not None:
            return ui.notice_modal("Create ticket", existing)
        text = await reader.readable(str(message.get("text") or ""))
        return ui.create_ticket_modal(MODAL, subject_of(text), text, target.dump())

    async def existing(self, target: Target) -> str | None:
        """A notice naming the message's ticket, when it already has one."""
        link = await self._deps.links.get(target.team_id, target.channel, target.ts)
        if link is None or link.ticket_id is None:
            return None
        gorgias = self._deps.gorgias
        return ui.already_ticketed(
            link.ticket_id, gorgias.ticket_link(link.ticket_id) if gorgias else None
        )

    async def submit(self, target: Target, form: TicketForm, user_id: str, trigger: str) -> str:
        """Record the create job under the message's one key; a notice for the modal."""
        existing = await self.existing(target)
        if existing is not None:
            return existing
        payload = {
            "team_id": target.team_id,
            "channel": target.channel,
            "ts": target.ts,
            "user": user_id,
            "source": "shortcut",
            "subject": form.subject,
            "body": form.body,
            "tags": list(form.tags),
            "priority": form.priority,
        }
        # The same key as the 🎫 reaction: whichever comes first makes the only ticket.
        created = await self._deps.jobs.enqueue(
            "create_ticket",
            payload,
            key=f"create:{target.key}",
            order_key=target.key,
            correlation_id=trigger,
        )
        return ui.REQUESTED if created else ui.ALREADY_REQUESTED


def register(app: AsyncApp, deps: Deps) -> None:
    feature = CreateTicket(deps)

    @app.message_shortcut(SHORTCUT)  # a global shortcut has no message to ticket
    async def on_create_ticket(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        deps.spawn(feature.open_form(body))

    @app.view(MODAL)
    async def on_form_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        target = Target.load(str(view.get("private_metadata") or ""))
        if target is None:
            log.warning("a Create ticket form came back without its message")
            await ack(response_action="update", view=ui.notice_modal("Create ticket", LOST))
            return
        form = TicketForm.read(((view.get("state") or {}).get("values")) or {})
        if form.errors:
            await ack(response_action="errors", errors=form.errors)
            return
        notice = await feature.submit(
            target,
            form,
            str(body["user"]["id"]),
            str(body.get("trigger_id") or ""),
        )
        await ack(response_action="update", view=ui.notice_modal("Create ticket", notice))
