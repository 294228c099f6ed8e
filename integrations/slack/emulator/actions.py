"""What people do in the emulated Slack, delivered to the app as signed Events API requests."""

from __future__ import annotations

import json
from typing import Any

from ticketbolt.integrations.slack.emulator.events import (
    Deliverer,
    Delivery,
    SignatureMode,
    app_mention_event,
    envelope,
    message_changed_event,
    message_deleted_event,
    message_event,
    reaction_event,
)
from ticketbolt.integrations.slack.emulator.render import message_json
from ticketbolt.integrations.slack.emulator.socket import SocketModeHub
from ticketbolt.integrations.slack.emulator.state import JSON, Channel, Message, User, Workspace


class UserActions:
    """Mixin of `SlackEmulator`: people posting, editing, deleting and reacting."""

    state: Workspace
    events_url: str | None
    deliveries: list[Delivery]
    _deliverer: Deliverer
    socket: SocketModeHub

    def _notify(self) -> None:
        raise NotImplementedError

    # -- resolution ----------------------------------------------------------------------

    def _user(self, user: User | str) -> User:
        found = self.state.users.get(user.id if isinstance(user, User) else user)
        if found is None:
            raise KeyError(f"unknown user {user!r}")
        return found

    def _channel(self, channel: Channel | str) -> Channel:
        found = self.state.resolve_channel(channel.id if isinstance(channel, Channel) else channel)
        if found is None:
            raise KeyError(f"unknown channel {channel!r}")
        return found

    def _message(self, channel: Channel, ts: str) -> Message:
        message = channel.messages.get(ts)
        if message is None:
            raise KeyError(f"no message {ts} in {channel.id}")
        return message

    # -- low level -------------------------------------------------------------------------

    def make_event_envelope(
        self, event: JSON, event_id: str | None = None, channel: Channel | str | None = None
    ) -> JSON:
        """Wrap an event in Slack's `event_callback` envelope (a fresh `event_id` unless given)."""
        where = self._channel(channel) if channel is not None else None
        if where is None and isinstance(event.get("channel"), str):
            where = self.state.channels.get(event["channel"])
        return envelope(self.state, where, event, event_id or self.state.new_id("Ev"))

    async def deliver(
        self,
        body: JSON,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        *,
        signature: SignatureMode = "valid",
    ) -> Delivery:
        """POST a JSON body (an envelope) to `events_url`, with Slack's retry headers if given."""
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self._send("event", json.dumps(body), "application/json", signature, headers)

    async def _send(
        self,
        kind: str,
        body: str,
        content_type: str,
        signature: SignatureMode,
        headers: dict[str, str] | None = None,
    ) -> Delivery:
        if self.socket.connected:  # the app chose Socket Mode: no HTTP, no signature
            delivery = await self.socket.send(kind, body, headers)
        elif not self.events_url:
            raise RuntimeError("events_url is not set and no Socket Mode connection is open")
        else:
            delivery = await self._deliverer.post(
                kind,
                self.events_url,
                body,
                content_type,
                signature=signature,
                extra_headers=headers,
            )
        self.deliveries.append(delivery)
        self._notify()
        return delivery

    async def _deliver_event(
        self, channel: Channel, event: JSON, signature: SignatureMode = "valid"
    ) -> Delivery | None:
        # Events are perspectival: the app hears only conversations its bot user is in.
        reachable = self.events_url or self.socket.connected
        if not reachable or self.state.bot.id not in channel.members:
            return None
        return await self.deliver(
            self.make_event_envelope(event, channel=channel), signature=signature
        )

    # -- messages and reactions --------------------------------------------------------------

    async def user_posts(
        self,
        user: User | str,
        channel: Channel | str,
        text: str,
        thread_ts: str | None = None,
        files: list[JSON] | None = None,
        *,
        blocks: list[Any] | None = None,
        signature: SignatureMode = "valid",
    ) -> str:
        """A person writes; stored, delivered as `message` (+ `app_mention`); returns its ts."""
        author, where = self._user(user), self._channel(channel)
        if thread_ts is not None:
            self._message(where, thread_ts)  # a person can only reply to a message they see
        if author.id not in where.members:
            where.members.append(author.id)
        message = self.state.post(
            where, author, text, blocks=blocks, thread_ts=thread_ts, files=files
        )
        event = message_event(self.state, where, message)
        if where.is_ext_shared:
            event |= {"user_team": author.team_id, "source_team": author.team_id}
        await self._deliver_event(where, event, signature)
        if f"<@{self.state.bot.id}>" in text and not where.is_im:
            await self._deliver_event(
                where, app_mention_event(self.state, where, message), signature
            )
        return message.ts

    async def user_edits(
        self, user: User | str, channel: Channel | str, ts: str, text: str
    ) -> Delivery | None:
        """The author edits a message; delivered as a hidden `message_changed` event."""
        author, where = self._user(user), self._channel(channel)
        message = self._message(where, ts)
        if message.user != author.id:
            raise PermissionError("only the author can edit a message in Slack")
        previous = message_json(self.state, where, message)
        self.state.edit(message, text, author.id)
        return await self._deliver_event(
            where, message_changed_event(self.state, where, message, previous)
        )

    async def user_deletes(
        self, user: User | str, channel: Channel | str, ts: str
    ) -> Delivery | None:
        """The author deletes a message; delivered as a hidden `message_deleted` event."""
        author, where = self._user(user), self._channel(channel)
        message = self._message(where, ts)
        if message.user != author.id:
            raise PermissionError("only the author can delete a message in this emulator")
        previous = message_json(self.state, where, message)
        self.state.delete(where, message)
        return await self._deliver_event(where, message_deleted_event(self.state, where, previous))

    async def user_reacts(
        self, user: User | str, channel: Channel | str, ts: str, name: str
    ) -> Delivery | None:
        """A person adds a reaction; stored, then delivered as `reaction_added`."""
        return await self._reaction("reaction_added", user, channel, ts, name)

    async def user_unreacts(
        self, user: User | str, channel: Channel | str, ts: str, name: str
    ) -> Delivery | None:
        """A person removes a reaction; delivered as `reaction_removed` when there was one."""
        return await self._reaction("reaction_removed", user, channel, ts, name)

    async def _reaction(
        self, kind: str, user: User | str, channel: Channel | str, ts: str, name: str
    ) -> Delivery | None:
        who, where = self._user(user), self._channel(channel)
        message = self._message(where, ts)
        add = kind == "reaction_added"
        changed = (
            self.state.react(message, who.id, name)
            if add
            else self.state.unreact(message, who.id, name)
        )
        if not changed:
            return None  # Slack's UI toggles; an identical second reaction sends nothing
        return await self._deliver_event(
            where, reaction_event(self.state, where, message, kind=kind, user=who.id, name=name)
        )
