"""Reads what a ticket needs from Slack: the message, its thread, the people and a permalink."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from ticketbolt.handlers.deps import PermanentJobError
from ticketbolt.handlers.slack_directory import Person, SlackDirectory
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
    reply_count: int = 0  # as read; a message seen live counts none (see SlackReader.has_replies)
    replies: list[tuple[str, str, str]] = field(default_factory=list)  # (ts, author name, text)


class SlackReader:
    """One job's view of Slack: asks the process's `SlackDirectory` first (people, channel names,
    messages seen live, the workspace URL), and Slack only for what it does not hold."""

    def __init__(self, client: Any, team_id: str, directory: SlackDirectory | None = None):
        self._client = client
        self._team_id = team_id
        # Without a shared directory the cache lives as long as this reader (one job).
        self._directory = directory or SlackDirectory(client)
        self._people: dict[str, Person] = {}
        self._channels: dict[str, str] = {}

    async def person(self, user_id: str) -> Person:
        if user_id not in self._people:
            self._people[user_id] = await self._directory.person(self._team_id, user_id)
        return self._people[user_id]

    async def organisation(self, team_id: str) -> str:
        """The name of a Slack Connect member's organisation (cached across jobs)."""
        return await self._directory.organisation(team_id)

    async def channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            # A direct message has no name; asking Slack would need im:read for nothing.
            return "direct-message"
        if channel_id not in self._channels:
            self._channels[channel_id] = await self._read_channel_name(channel_id)
        return self._channels[channel_id]

    async def _read_channel_name(self, channel_id: str) -> str:
        async def read() -> str:
            try:
                info = (await self._client.conversations_info(channel=channel_id))["channel"]
            except SlackApiError as exc:
                if exc.response.get("error") not in GONE:
                    raise
                warn_if_missing_scope(exc, "conversations.info")
                return channel_id
            return str(info.get("name") or channel_id)

        return await self._directory.channel_name(self._team_id, channel_id, read)

    async def readable(self, text: str) -> str:
        user_ids, channel_ids = mentioned_ids(text)
        users = {uid: (await self.person(uid)).name for uid in user_ids}
        channels = {cid: await self.channel_name(cid) for cid in channel_ids}
        return render_plain(text, users, channels)

    async def message(
        self, channel_id: str, ts: str, *, with_thread: bool = True
    ) -> MessageContext:
        """The message at `ts` (top-level or a reply) and, for a thread parent, its replies.

        A message seen live is served from the directory; only a miss reads Slack.
        """
        message = await self._directory.recall(self._team_id, channel_id, ts)
        if message is None:
            message = await self._read(channel_id, ts)
        author = await self.person(message["user"]) if message.get("user") else None
        thread_ts = str(message.get("thread_ts") or ts)
        context = MessageContext(
            channel_id=channel_id,
            channel_name=await self.channel_name(channel_id),
            ts=ts,
            thread_ts=thread_ts,
            author=author,
            text=await self.readable(message.get("text") or ""),
            permalink=await self._directory.permalink(channel_id, ts, thread_ts),
            bot_authored=bool(message.get("bot_id")) or bool(author and author.is_bot),
            files=list(message.get("files") or []),
            reply_count=int(message.get("reply_count") or 0),
        )
        if with_thread and await self.has_replies(context):
            context.replies = await self.replies(channel_id, ts)
        return context

    async def _read(self, channel_id: str, ts: str) -> dict[str, Any]:
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
        return dict(message)

    async def has_replies(self, context: MessageContext) -> bool:
        """The thread `context` starts had replies when read, or one was seen live since."""
        if context.thread_ts != context.ts:
            return False
        return bool(context.reply_count) or await self._directory.has_replies(
            self._team_id, context.channel_id, context.ts
        )

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
