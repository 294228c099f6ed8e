"""Thread sync, Slack → Gorgias: replies in a ticketed thread become notes or customer messages."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ticketbolt.handlers import sync_gorgias
from ticketbolt.handlers.deps import Deps, JobLike, LinkLike, MirrorStore
from ticketbolt.handlers.filters import CONTENT_SUBTYPES
from ticketbolt.handlers.slack_context import SlackReader
from ticketbolt.handlers.slack_directory import Person
from ticketbolt.handlers.tickets import BACKFILL_JOB
from ticketbolt.integrations.gorgias.models import Customer, CustomerRef

log = logging.getLogger(__name__)

SLACK_EVENTS = ("message.channels", "message.groups")  # arrive through ticketbolt.handlers.messages
SCOPES = {
    "channels:history": "replies in ticketed threads of public channels",
    "groups:history": "replies in ticketed threads of private channels",
    "users:read": "names of the people whose replies are mirrored",
    "users:read.email": "a reply by the ticket's customer becomes a customer message",
    "chat:write": "agents' replies and ticket changes from Gorgias, in the thread",
    "reactions:write": "the marker reaction follows status changes made in Gorgias",
}
MIRROR_JOB = "sync_to_gorgias"
Kind = Literal["post", "edit", "delete"]


@dataclass(frozen=True)
class SlackChange:
    """One thing a person did in a ticketed thread, as much as the worker needs of the event."""

    kind: Kind
    ts: str
    thread_ts: str
    user: str
    text: str
    edit_ts: str = ""
    files: list[dict[str, str]] = field(default_factory=list)

    def external_id(self, team: str, channel: str) -> str:
        """The Gorgias message's `external_id`: one per reply, per edit, per deletion."""
        suffix = {"post": "", "edit": f":edit:{self.edit_ts}", "delete": ":delete"}[self.kind]
        return f"slack:{team}:{channel}:{self.ts}{suffix}"


def _from_person(message: dict[str, Any], bot_user: str) -> bool:
    """No bot, no app and never ourselves: the bot's own posts are what would echo."""
    if message.get("bot_id") or message.get("bot_profile") or message.get("app_id"):
        return False
    user = message.get("user")
    return bool(user) and user != bot_user and message.get("subtype") in CONTENT_SUBTYPES


def change_of(event: dict[str, Any], bot_user: str = "") -> SlackChange | None:
    """The reply, edit or deletion a `message` event carries; None for anything else."""
    subtype = event.get("subtype")
    kind: Kind
    if subtype == "message_changed":
        message, previous = event.get("message") or {}, event.get("previous_message") or {}
        # Slack also "changes" messages to add unfurls or reply counts; only edits matter.
        if not message.get("edited") or message.get("text") == previous.get("text"):
            return None
        kind = "edit"
    elif subtype == "message_deleted":
        message, kind = event.get("previous_message") or {}, "delete"
    elif subtype in CONTENT_SUBTYPES:
        message, kind = event, "post"
    else:
        return None
    ts, thread_ts = str(message.get("ts") or ""), str(message.get("thread_ts") or "")
    if not _from_person(message, bot_user) or not ts or not thread_ts or ts == thread_ts:
        return None
    files = [
        {"name": str(f.get("name") or "file"), "url": str(f.get("permalink") or "")}
        for f in message.get("files") or []
        if isinstance(f, dict)
    ]
    return SlackChange(
        kind,
        ts,
        thread_ts,
        str(message["user"]),
        str(message.get("text") or ""),
        str((message.get("edited") or {}).get("ts") or ""),
        files,
    )


def bot_user_of(body: dict[str, Any]) -> str:
    for authorization in body.get("authorizations") or []:
        if authorization.get("is_bot"):
            return str(authorization.get("user_id") or "")
    return ""


def order_key(link: LinkLike) -> str:
    """Everything about one ticketed message runs in one line: its create, resolve and sync."""
    return f"{link.team_id}:{link.channel_id}:{link.message_ts}"


class TicketMirror:
    """Writes Slack changes into one ticket; caches the ticket's customer and known messages."""

    def __init__(self, deps: Deps, store: MirrorStore, team: str, channel: str, ticket_id: int):
        self._deps, self._store = deps, store
        self._team, self._channel, self._ticket_id = team, channel, ticket_id
        self._reader = SlackReader(deps.slack, team, deps.slack_directory)
        self._customer: Customer | None = None
        self._customer_read = False
        self._on_ticket: set[str] | None = None

    async def write(self, change: SlackChange, *, verify: bool) -> None:
        """Mirror once: our record first, then (after an unknown outcome) the ticket itself."""
        key = change.external_id(self._team, self._channel)
        if await self._store.seen(key):
            return
        gorgias = self._deps.gorgias
        if verify and key in await self._external_ids():
            await self._store.record(key, self._ticket_id, None)
            return
        author = await self._reader.person(change.user)
        if author.is_bot:
            return
        text = await self._render(change)
        customer = await self._customer_of(author) if change.kind == "post" else None
        if customer is not None:
            message = await gorgias.add_message(
                self._ticket_id,
                body_text=text,
                from_agent=False,
                sender=CustomerRef(id=customer.id),
                external_id=key,
            )
        else:
            message = await self._note(author, change, text, key)
        await self._store.record(key, self._ticket_id, message.id)

    async def _note(self, author: Person, change: SlackChange, text: str, key: str) -> Any:
        """An internal note written as the author's own Gorgias user when there is one (matched
        by profile e-mail, which the client caches), else as the API user naming the author."""
        gorgias = self._deps.gorgias
        user = None
        if author.member_of(self._team) and author.email:
            user = await gorgias.find_user_by_email(author.email)
        if user is None:
            note = f"{self._label(author)} {self._verb(change)}: {text}"
            return await gorgias.add_internal_note(self._ticket_id, note, external_id=key)
        if change.kind != "post":
            text = f"{self._verb(change).capitalize()} in Slack: {text}"
        return await gorgias.add_internal_note(
            self._ticket_id, text, sender_id=user.id, external_id=key
        )

    async def _render(self, change: SlackChange) -> str:
        lines = [await self._reader.readable(change.text)] if change.text else []
        lines += [f"Attachment: {f['name']} {f['url']}".rstrip() for f in change.files]
        return "\n".join(lines) or "(no text)"

    @staticmethod
    def _verb(change: SlackChange) -> str:
        return {"post": "wrote", "edit": "edited", "delete": "deleted"}[change.kind]

    def _label(self, author: Person) -> str:
        where = "Slack" if author.member_of(self._team) else "Slack, outside the workspace"
        return f"{author.name} ({where})"

    async def _customer_of(self, author: Person) -> Customer | None:
        """The ticket's customer when `author` is that customer, else None.

        A match is the Slack user the ticket's customer was created for (its `external_id`), a
        member of the Slack Connect organisation it was created for, or a workspace member with
        the customer's e-mail; external users' profile e-mail is not trusted.
        """
        if not self._customer_read:
            self._customer = (await self._deps.gorgias.get_ticket(self._ticket_id)).customer
            self._customer_read = True
        customer = self._customer
        if customer is None:
            return None
        if customer.external_id == f"slack:{self._team}:{author.id}":
            return customer
        if not author.member_of(self._team) and author.team_id:
            # A Slack Connect ticket's customer is the member's organisation (handlers/tickets).
            org = f"slack:{self._team}:{author.team_id}"
            return customer if customer.external_id == org else None
        trusted = author.member_of(self._team) and author.email and customer.email
        if trusted and str(author.email).lower() == str(customer.email).lower():
            return customer
        return None

    async def _external_ids(self) -> set[str]:
        if self._on_ticket is None:
            messages = await self._deps.gorgias.list_ticket_messages(self._ticket_id)
            self._on_ticket = {m.external_id for m in messages if m.external_id}
        return self._on_ticket


async def thread_replies(client: Any, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    """Every reply of a thread, oldest first, the parent excluded."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await client.conversations_replies(
            channel=channel, ts=thread_ts, limit=200, cursor=cursor
        )
        out += [m for m in page.get("messages") or [] if m.get("ts") != thread_ts]
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor or not page.get("has_more", True):
            return out


def register(app: Any, deps: Deps) -> None:
    del app  # messages come through the router in ticketbolt.handlers.messages
    store: MirrorStore | None = deps.mirror
    if store is None:
        log.info("thread sync off: no mirror store wired")
        return

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        change = change_of(event, bot_user_of(body))
        if change is None:
            return
        team, channel = str(body.get("team_id") or ""), str(event.get("channel") or "")
        link = await deps.links.by_thread(team, channel, change.thread_ts)
        if link is None or link.ticket_id is None:
            return
        key = change.external_id(team, channel).replace("slack:", "mirror:", 1)
        await deps.jobs.enqueue(
            MIRROR_JOB,
            {"team_id": team, "channel": channel, "change": asdict(change)},
            key=key,
            order_key=order_key(link),
            correlation_id=str(body.get("event_id") or ""),
            event_id=str(body.get("event_id") or ""),
        )

    async def run_mirror(job: JobLike) -> None:
        p = job.payload
        change = SlackChange(**p["change"])
        link = await deps.links.by_thread(p["team_id"], p["channel"], change.thread_ts)
        if link is None or link.ticket_id is None:
            return
        mirror = TicketMirror(deps, store, p["team_id"], p["channel"], link.ticket_id)
        await mirror.write(change, verify=job.outcome_unknown)

    async def run_backfill(job: JobLike) -> None:
        """The thread's replies so far, each its own message, in order; runs after the create."""
        team, channel, ts = job.payload["team_id"], job.payload["channel"], job.payload["ts"]
        link = await deps.links.get(team, channel, ts)
        if link is None or link.ticket_id is None:
            return  # the create failed for good; nothing to fill
        mirror = TicketMirror(deps, store, team, channel, link.ticket_id)
        for reply in await thread_replies(deps.slack, channel, ts):
            change = change_of(reply)  # the bot's own replies carry a bot_id
            if change is not None:
                await mirror.write(change, verify=True)

    deps.message_consumers.append(on_message)
    deps.job_handlers[MIRROR_JOB] = run_mirror
    deps.job_handlers[BACKFILL_JOB] = run_backfill
    sync_gorgias.register(deps, store)
