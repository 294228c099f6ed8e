"""Reads what a ticket needs from Slack: the message, its thread, the people and a permalink."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from ticketbolt.handlers.deps import PermanentJobError
from ticketbolt.integrations.slack.text import find_emails, mentioned_ids, render_plain

log = logging.getLogger(__name__)

# Slack errors that will not go away on retry: the message or channel is gone or out of reach.
GONE = {
    "thread_not_found",
    "message_not_found",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "missing_scope",
}


def warn_if_missing_scope(exc: SlackApiError, method: str) -> None:
    """A `missing_scope` the feature can live without is still a setup error to surface."""
    if exc.response.get("error") == "missing_scope":
        log.warning(
            "Slack refused %s: the app lacks the scope %s; add it to the app (manifest.yml) "
            "and reinstall",
            method,
            exc.response.get("needed") or "(not named)",
        )


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str | None
    team_id: str | None
    is_bot: bool

    def member_of(self, team_id: str) -> bool:
        """A member of the installing workspace (never an external Slack Connect user)."""
        return not self.is_bot and self.team_id == team_id


@dataclass
class MessageContext:
    channel_id: str
    channel_name: str
    ts: str
    thread_ts: str
    author: Person | None
    text: str
    permalink: str
    bot_authored: bool
    files: list[dict[str, Any]] = field(default_factory=list)
    replies: list[tuple[str, str, str]] = field(default_factory=list)  # (ts, author name, text)


class SlackReader:
    """Caches people and channel names for one job: ten mentions of one person cost one call."""

    def __init__(self, client: Any, team_id: str):
        self._client = client
        self._team_id = team_id
        self._people: dict[str, Person] = {}
        self._channels: dict[str, str] = {}

    async def person(self, user_id: str) -> Person:
        if user_id not in self._people:
            user = (await self._client.users_info(user=user_id))["user"]
            profile = user.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or user_id
            )
            self._people[user_id] = Person(
                user_id,
                name,
                profile.get("email"),
                user.get("team_id"),
                bool(user.get("is_bot")),
            )
        return self._people[user_id]

    async def channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            # A direct message has no name; asking Slack would need im:read for nothing.
            return "direct-message"
        if channel_id not in self._channels:
            try:
                info = (await self._client.conversations_info(channel=channel_id))["channel"]
                self._channels[channel_id] = info.get("name") or channel_id
            except SlackApiError as exc:
                if exc.response.get("error") not in GONE:
                    raise
                warn_if_missing_scope(exc, "conversations.info")
                self._channels[channel_id] = channel_id
        return self._channels[channel_id]

    async def readable(self, text: str) -> str:
        user_ids, channel_ids = mentioned_ids(text)
        users = {uid: (await self.person(uid)).name for uid in user_ids}
        channels = {cid: await self.channel_name(cid) for cid in channel_ids}
        return render_plain(text, users, channels)

    async def message(
        self, channel_id: str, ts: str, *, with_thread: bool = True
    ) -> MessageContext:
        """The message at `ts` (top-level or a reply) and, for a thread parent, its replies."""
        try:
            found = await self._client.conversations_replies(
                channel=channel_id, ts=ts, limit=1, inclusive=True
            )
        except SlackApiError as exc:
            if exc.response.get("error") in GONE:
                warn_if_missing_scope(exc, "conversations.replies")
                raise PermanentJobError(
                    f"message unavailable: {exc.response.get('error')}"
                ) from exc
            raise
        messages = found.get("messages") or []
        message = next((m for m in messages if m.get("ts") == ts), None)
        if message is None:
            raise PermanentJobError("message unavailable: not found")
        author = await self.person(message["user"]) if message.get("user") else None
        permalink = (await self._client.chat_getPermalink(channel=channel_id, message_ts=ts))[
            "permalink"
        ]
        context = MessageContext(
            channel_id=channel_id,
            channel_name=await self.channel_name(channel_id),
            ts=ts,
            thread_ts=message.get("thread_ts") or ts,
            author=author,
            text=await self.readable(message.get("text") or ""),
            permalink=permalink,
            bot_authored=bool(message.get("bot_id")) or bool(author and author.is_bot),
            files=list(message.get("files") or []),
        )
        if with_thread and message.get("reply_count") and context.thread_ts == ts:
            context.replies = await self.replies(channel_id, ts)
        return context

    async def replies(self, channel_id: str, thread_ts: str) -> list[tuple[str, str, str]]:
        """Every reply of a thread in order, bots included, the parent excluded."""
        out: list[tuple[str, str, str]] = []
        cursor: str | None = None
        while True:
            page = await self._client.conversations_replies(
                channel=channel_id, ts=thread_ts, limit=200, cursor=cursor
            )
            for reply in page.get("messages") or []:
                if reply.get("ts") == thread_ts:
                    continue
                name = (await self.person(reply["user"])).name if reply.get("user") else "bot"
                out.append((reply["ts"], name, await self.readable(reply.get("text") or "")))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not page.get("has_more", True):
                return out


def customer_email(context: MessageContext, team_id: str) -> str | None:
    """An address written in the message, else the author's profile e-mail if a workspace member."""
    written = find_emails(context.text)
    if written:
        return written[0]
    if context.author and context.author.member_of(team_id) and context.author.email:
        return context.author.email
    return None
