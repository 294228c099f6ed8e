"""What tickets need from Slack, kept across jobs in the cache: people, channel names, the
workspace URL (for permalinks) and the messages the bot saw live, so a 🎫 costs few Web API calls.

Entries live in a `Cache` (Redis when configured, so replicas share them). People and channel
names expire after `lookup_ttl` and are dropped at once on `user_change` / `channel_rename`.
Messages are written on the message-event path, one cache write each (replies add a second: a
mark on their thread, which tells a create that the thread has replies to back-fill); edits
replace them and deletions drop them. A cache that fails is a miss: the caller reads Slack.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from ticketbolt.cache.base import Cache, CacheUnavailable
from ticketbolt.cache.memory import MemoryCache
from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.filters import CONTENT_SUBTYPES
from ticketbolt.integrations.slack.identity import BotIdentity

log = logging.getLogger(__name__)

SLACK_EVENTS = ("user_change", "channel_rename")
SCOPES = {
    "users:read": "user_change: a renamed person is looked up afresh",
    "channels:read": "channel_rename: a renamed channel is looked up afresh",
    "team:read": "the organisation of a Slack Connect member, a shared channel's customer",
}
LOOKUP_TTL = 600.0
# A thread's mark outlives any create that could still be reading its parent.
THREAD_TTL = 3600.0
# Bigger messages (long block kits, many files) are read from Slack instead.
MAX_MESSAGE_BYTES = 32_768
# What a ticket reads of a message; the rest of the event is not kept.
KEPT = (
    *("type", "subtype", "user", "bot_id", "app_id", "text", "ts", "thread_ts", "files"),
    *("blocks", "reply_count", "edited"),
)
CACHED_SUBTYPES = CONTENT_SUBTYPES | {"bot_message"}


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


def person_of(user: dict[str, Any]) -> Person:
    """A `users.info` user as the fields tickets use; the display name first."""
    profile = user.get("profile") or {}
    user_id = str(user.get("id") or "")
    name = (
        profile.get("display_name")
        or profile.get("real_name")
        or user.get("real_name")
        or user.get("name")
        or user_id
    )
    email, team = profile.get("email"), user.get("team_id")
    return Person(user_id, name, email, team, bool(user.get("is_bot")))


def permalink(workspace_url: str, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
    """Slack's permalink format (as `chat.getPermalink` answers); replies link into the thread."""
    url = f"{workspace_url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        url += f"?thread_ts={thread_ts}&cid={channel_id}"
    return url


class SlackDirectory:
    """One per process; every job's `SlackReader` asks it before it asks Slack."""

    def __init__(
        self,
        client: Any,
        cache: Cache | None = None,
        *,
        message_ttl: float = 0.0,
        lookup_ttl: float = LOOKUP_TTL,
        identity: BotIdentity | None = None,
    ):
        self._client = client
        self._cache: Cache = cache if cache is not None else MemoryCache(1_000)
        self._message_ttl = message_ttl
        self._lookup_ttl = lookup_ttl
        self._identity = identity if identity is not None else BotIdentity(client)
        self._loading: dict[str, asyncio.Future[Any]] = {}

    async def _get(self, key: str) -> Any:
        try:
            raw = await self._cache.get(key)
        except CacheUnavailable:
            return None
        return json.loads(raw) if raw is not None else None

    async def _set(self, key: str, value: Any, ttl: float) -> None:
        try:
            await self._cache.set(key, json.dumps(value).encode(), ttl)
        except CacheUnavailable:
            log.debug("slack cache write skipped: cache unavailable")

    async def _delete(self, key: str) -> None:
        try:
            await self._cache.delete(key)
        except CacheUnavailable:
            log.debug("slack cache delete skipped: cache unavailable")

    async def _lookup(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value of `key`, else `load()`'s, kept for `lookup_ttl`. Concurrent askers
        of one key share one load: a burst of tickets by one agent looks them up once."""
        cached = await self._get(key)
        if cached is not None:
            return cached
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, load))
            loading.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(loading)

    async def _load(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        value = await load()
        await self._set(key, value, self._lookup_ttl)
        return value

    def _finished(self, key: str, done: asyncio.Future[Any]) -> None:
        self._loading.pop(key, None)
        if not done.cancelled():
            done.exception()  # seen here, so an error nobody awaited any more is not logged

    # -- people and channels ---------------------------------------------------------------

    async def person(self, team: str, user_id: str) -> Person:
        async def load() -> dict[str, Any]:
            user = (await self._client.users_info(user=user_id))["user"]
            return asdict(person_of({"id": user_id, **user}))

        return Person(**await self._lookup(f"user:{team}:{user_id}", load))

    async def forget_person(self, team: str, user_id: str) -> None:
        await self._delete(f"user:{team}:{user_id}")

    async def channel_name(
        self, team: str, channel_id: str, read: Callable[[], Awaitable[str]]
    ) -> str:
        """The channel's name, from the cache or else from `read()` (`conversations.info`)."""
        return str(await self._lookup(f"channel:{team}:{channel_id}", read))

    async def forget_channel(self, team: str, channel_id: str) -> None:
        await self._delete(f"channel:{team}:{channel_id}")

    async def organisation(self, team_id: str) -> str:
        """The name of the Slack team `team_id` (a Slack Connect member's organisation), read
        once per `lookup_ttl` however many tickets its members open; its id if Slack won't say."""

        async def load() -> str:
            try:
                return str((await self._client.team_info(team=team_id))["team"]["name"])
            except SlackApiError as exc:
                log.warning("team.info %s: %s", team_id, exc.response.get("error"))
                return team_id

        return str(await self._lookup(f"team:{team_id}", load))

    # -- permalinks -------------------------------------------------------------------------

    async def workspace_url(self) -> str:
        """`auth.test`'s `url`, asked once per process (shared with Bolt's authorisation)."""
        return await self._identity.workspace_url()

    async def permalink(self, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
        return permalink(await self.workspace_url(), channel_id, ts, thread_ts)

    # -- messages seen live -----------------------------------------------------------------

    @property
    def keeps_messages(self) -> bool:
        return self._message_ttl > 0

    async def remember(self, team: str, channel: str, message: dict[str, Any]) -> None:
        """Keep what a ticket reads of `message`; too big a message is dropped instead."""
        if not self.keeps_messages:
            return
        key = f"msg:{team}:{channel}:{message['ts']}"
        kept = {k: message[k] for k in KEPT if k in message}
        raw = json.dumps(kept)
        if len(raw) > MAX_MESSAGE_BYTES:
            await self._delete(key)
            return
        try:
            await self._cache.set(key, raw.encode(), self._message_ttl)
        except CacheUnavailable:
            log.debug("message not kept: cache unavailable")

    async def recall(self, team: str, channel: str, ts: str) -> dict[str, Any] | None:
        if not self.keeps_messages:
            return None
        found = await self._get(f"msg:{team}:{channel}:{ts}")
        return found if isinstance(found, dict) else None

    async def forget_message(self, team: str, channel: str, ts: str) -> None:
        await self._delete(f"msg:{team}:{channel}:{ts}")

    async def mark_replied(self, team: str, channel: str, thread_ts: str) -> None:
        await self._set(f"thread:{team}:{channel}:{thread_ts}", 1, THREAD_TTL)

    async def has_replies(self, team: str, channel: str, thread_ts: str) -> bool:
        """A reply to this thread was seen live in the last hour."""
        return await self._get(f"thread:{team}:{channel}:{thread_ts}") is not None

    async def see(self, team: str, event: dict[str, Any]) -> None:
        """The ack path of a `message` event: keep it, replace an edit, drop a deletion."""
        channel, subtype = str(event.get("channel") or ""), event.get("subtype")
        if not channel:
            return
        if subtype == "message_changed":
            message = event.get("message")
            if isinstance(message, dict) and isinstance(message.get("ts"), str):
                await self.remember(team, channel, message)
        elif subtype == "message_deleted":
            deleted = event.get("deleted_ts")
            if isinstance(deleted, str) and self.keeps_messages:
                await self.forget_message(team, channel, deleted)
        elif subtype in CACHED_SUBTYPES and isinstance(event.get("ts"), str):
            await self.remember(team, channel, event)
            thread_ts = event.get("thread_ts")
            if isinstance(thread_ts, str) and thread_ts != event["ts"]:
                await self.mark_replied(team, channel, thread_ts)


def register(app: AsyncApp, deps: Deps) -> None:
    """Messages are kept before other features see them (thread sync relies on the mark)."""
    directory = deps.slack_directory
    if directory is None:
        return

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        await directory.see(str(body.get("team_id") or ""), event)

    @app.event("user_change")
    async def on_user_change(body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event.get("user")
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            await directory.forget_person(str(body.get("team_id") or ""), user["id"])

    @app.event("channel_rename")
    async def on_channel_rename(body: dict[str, Any], event: dict[str, Any]) -> None:
        channel = event.get("channel")
        if isinstance(channel, dict) and isinstance(channel.get("id"), str):
            await directory.forget_channel(str(body.get("team_id") or ""), channel["id"])

    deps.message_consumers.append(on_message)
