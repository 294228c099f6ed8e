"""The emulated Slack workspace: team, users, channels, messages, threads and reactions."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

TOMBSTONE_TEXT = "This message was deleted."


@dataclass
class User:
    """A Slack user; a `team_id` other than the workspace's models a Slack Connect user."""

    id: str
    name: str
    real_name: str
    display_name: str
    email: str | None
    team_id: str
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None

    @property
    def label(self) -> str:
        """What Slack shows for the user: the display name, else the real name, else the handle."""
        return self.display_name or self.real_name or self.name


@dataclass
class Message:
    """One stored message, top-level or a thread reply (`thread_ts` set and different from `ts`)."""

    ts: str
    channel: str
    user: str | None
    text: str
    team: str | None = None
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    subtype: str | None = None
    files: list[JSON] = field(default_factory=list)
    client_msg_id: str | None = None
    reply_broadcast: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: JSON | None = None
    replies: list[str] = field(default_factory=list)
    metadata: JSON | None = None  # {"event_type", "event_payload"} set by the posting app

    @property
    def is_reply(self) -> bool:
        """True for a message inside a thread other than the thread's parent."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Channel:
    """A public or private channel, or a DM (`is_im`) between the bot and `im_user`."""

    id: str
    name: str
    created: int
    members: list[str] = field(default_factory=list)
    is_private: bool = False
    is_im: bool = False
    is_ext_shared: bool = False
    im_user: str | None = None
    # Insertion order is ts order because every ts comes from the workspace's monotonic clock.
    messages: dict[str, Message] = field(default_factory=dict)

    @property
    def channel_type(self) -> str:
        """The Events API `channel_type`: `im`, `group` (private) or `channel`."""
        if self.is_im:
            return "im"
        return "group" if self.is_private else "channel"


class TsClock:
    """Slack-like message timestamps (`"1700000000.000100"`), strictly increasing.

    With `start` the sequence is deterministic (100 µs apart); without it it follows wall time.
    """

    def __init__(self, start: float | None = None) -> None:
        self._fixed = start is not None
        self._last = int((start or 0) * 1_000_000)

    def next(self) -> str:
        """A new timestamp, later than every one handed out before."""
        if self._fixed:
            self._last += 100
        else:
            self._last = max(time.time_ns() // 1000, self._last + 1)
        return f"{self._last // 1_000_000}.{self._last % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """A sortable key for a Slack timestamp; raises ValueError for one that is malformed."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6] or "0")


class Workspace:
    """All state of one emulated workspace; mutated only from the event loop, so no locks."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        team_domain: str,
        api_app_id: str,
        bot_name: str,
        clock_start: float | None = None,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.clock = TsClock(clock_start)
        self._ids = itertools.count(1)
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, list[str]] = {}  # user-group id → member user ids
        # Other organisations met in Slack Connect channels: team id → name (`team.info`).
        self.teams: dict[str, str] = {}
        self.bot = self.add_user(bot_name, real_name=bot_name, is_bot=True, app_id=api_app_id)

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-style id such as `U0000000A` or `C0000000B`."""
        return f"{prefix}{next(self._ids):08X}"

    # -- seeding ---------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        team_id: str | None = None,
        is_bot: bool = False,
        app_id: str | None = None,
        user_id: str | None = None,
    ) -> User:
        """Create a user (a bot also gets a `bot_id`); another `team_id` makes it external."""
        user = User(
            id=user_id or self.new_id("U"),
            name=name,
            real_name=real_name if real_name is not None else name.title(),
            display_name=display_name if display_name is not None else "",
            email=email,
            team_id=team_id or self.team_id,
            is_bot=is_bot,
            bot_id=self.new_id("B") if is_bot else None,
            app_id=app_id,
        )
        self.users[user.id] = user
        return user

    def add_team(self, team_id: str, name: str) -> None:
        """Another organisation, whose members reach this workspace through Slack Connect."""
        self.teams[team_id] = name

    def add_channel(
        self,
        name: str,
        *,
        members: list[str] | None = None,
        is_private: bool = False,
        is_ext_shared: bool = False,
        bot_member: bool = True,
        channel_id: str | None = None,
    ) -> Channel:
        """Create a channel; the bot is a member unless `bot_member` is False."""
        member_ids = list(dict.fromkeys(members or []))
        if bot_member and self.bot.id not in member_ids:
            member_ids.append(self.bot.id)
        channel = Channel(
            id=channel_id or self.new_id("G" if is_private else "C"),
            name=name,
            created=int(time.time()),
            members=member_ids,
            is_private=is_private,
            is_ext_shared=is_ext_shared,
        )
        self.channels[channel.id] = channel
        return channel

    def open_dm(self, user_id: str) -> Channel:
        """The DM between the bot and a user, created on first use."""
        for channel in self.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel
        channel = Channel(
            id=self.new_id("D"),
            name=user_id,
            created=int(time.time()),
            members=[user_id, self.bot.id],
            is_im=True,
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        return channel

    # -- lookups ---------------------------------------------------------------------------

    def resolve_channel(self, ref: str, *, user_means_dm: bool = False) -> Channel | None:
        """A channel by id or `name` / `#name`; with `user_means_dm` a user id means that DM.

        `chat.postMessage` is the method that accepts a user id for the DM with that user.
        """
        if ref in self.channels:
            return self.channels[ref]
        if user_means_dm and ref in self.users:
            return self.open_dm(ref)
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def find(self, channel_id: str, ts: str) -> Message | None:
        """The message with this `ts` in the channel, or None."""
        channel = self.channels.get(channel_id)
        return channel.messages.get(ts) if channel else None

    def is_external(self, user_id: str) -> bool:
        """True for a user of another team (Slack Connect)."""
        user = self.users.get(user_id)
        return user is not None and user.team_id != self.team_id

    # -- mutations -------------------------------------------------------------------------

    def post(
        self,
        channel: Channel,
        user: User,
        text: str,
        *,
        blocks: list[Any] | None = None,
        thread_ts: str | None = None,
        files: list[JSON] | None = None,
        reply_broadcast: bool = False,
        metadata: JSON | None = None,
    ) -> Message:
        """Store a new message; a `thread_ts` naming a reply is moved to that reply's parent."""
        parent = channel.messages.get(thread_ts) if thread_ts else None
        if parent is not None and parent.is_reply and parent.thread_ts:
            parent = channel.messages.get(parent.thread_ts)
        message = Message(
            ts=self.clock.next(),
            channel=channel.id,
            user=user.id,
            text=text,
            team=user.team_id,
            blocks=blocks,
            bot_id=user.bot_id,
            app_id=user.app_id,
            files=[self._file(f, user) for f in files or []],
            client_msg_id=None if user.is_bot else str(uuid.uuid4()),
            subtype="file_share" if files and not user.is_bot else None,
            metadata=metadata,
        )
        if parent is not None:
            message.thread_ts = parent.thread_ts = parent.ts
            message.reply_broadcast = reply_broadcast
            if reply_broadcast:
                message.subtype = "thread_broadcast"
            parent.replies.append(message.ts)
        channel.messages[message.ts] = message
        return message

    def _file(self, spec: JSON, user: User) -> JSON:
        file_id = spec.get("id") or self.new_id("F")
        name = spec.get("name", f"{file_id}.txt")
        base = f"https://files.slack.com/files-pri/{self.team_id}-{file_id}"
        return {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": spec.get("title", name),
            "mimetype": spec.get("mimetype", "text/plain"),
            "filetype": spec.get("filetype", name.rsplit(".", 1)[-1]),
            "user": user.id,
            "size": spec.get("size", 0),
            "url_private": spec.get("url_private", f"{base}/{name}"),
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user.id}/{file_id}/{name}",
        }

    def edit(self, message: Message, text: str, by: str, blocks: list[Any] | None = None) -> None:
        """Change a message's text (and blocks), marking it edited by `by`."""
        message.text = text
        if blocks is not None:
            message.blocks = blocks
        message.edited = {"user": by, "ts": self.clock.next()}

    def delete(self, channel: Channel, message: Message) -> None:
        """Delete a message; a parent with replies stays as a tombstone, as in Slack."""
        if message.replies:
            message.text, message.subtype, message.user = TOMBSTONE_TEXT, "tombstone", "USLACKBOT"
            message.blocks, message.files, message.reactions = None, [], {}
            return
        del channel.messages[message.ts]
        parent = channel.messages.get(message.thread_ts or "")
        if message.is_reply and parent is not None:
            parent.replies.remove(message.ts)
            if not parent.replies and parent.subtype == "tombstone":
                del channel.messages[parent.ts]
            elif not parent.replies:
                parent.thread_ts = None

    def react(self, message: Message, user_id: str, name: str) -> bool:
        """Add a reaction; False when this user already reacted with this emoji."""
        users = message.reactions.setdefault(name, [])
        if user_id in users:
            return False
        users.append(user_id)
        return True

    def unreact(self, message: Message, user_id: str, name: str) -> bool:
        """Remove a reaction; False when this user had not reacted with this emoji."""
        users = message.reactions.get(name, [])
        if user_id not in users:
            return False
        users.remove(user_id)
        if not users:
            del message.reactions[name]
        return True

    def permalink(self, channel_id: str, message: Message) -> str:
        """Slack's permalink format; replies carry `thread_ts` and `cid`."""
        base = f"https://{self.team_domain}.slack.com/archives/{channel_id}"
        url = f"{base}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            url += f"?thread_ts={message.thread_ts}&cid={channel_id}"
        return url
