"""Slash commands, shortcuts and modal submissions sent to the app; its `response_url` posts."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from ticketbolt.integrations.slack.emulator.actions import UserActions
from ticketbolt.integrations.slack.emulator.api import json_body
from ticketbolt.integrations.slack.emulator.events import Delivery, SignatureMode, message_event
from ticketbolt.integrations.slack.emulator.render import message_json
from ticketbolt.integrations.slack.emulator.state import JSON, Channel, User
from ticketbolt.integrations.slack.emulator.views import TriggerStore, ViewStore

FORM = "application/x-www-form-urlencoded"
MAX_HOOK_USES = 5  # Slack accepts five posts per response_url


@dataclass
class Hook:
    """A `response_url` handed to the app: where it was issued and how often it was used."""

    id: str
    channel: str
    user: str
    uses: int = 0


@dataclass(frozen=True)
class HookPost:
    """A body the app posted to a `response_url` (e.g. its answer to a slash command)."""

    hook_id: str
    channel: str
    user: str
    body: Any


class Interactions(UserActions):
    """Mixin of `SlackEmulator`: interactions that reach the app as signed form posts."""

    triggers: TriggerStore
    views: ViewStore
    hooks: dict[str, Hook]
    hook_posts: list[HookPost]
    ephemerals: list[JSON]

    def _hook_url(self, hook_id: str) -> str:
        raise NotImplementedError

    def _bot_event(self, channel: Channel, event: JSON) -> None:
        raise NotImplementedError

    def _issue_hook(self, channel: Channel, user: User) -> str:
        hook = Hook(f"{self.state.team_id}-{secrets.token_hex(8)}", channel.id, user.id)
        self.hooks[hook.id] = hook
        return self._hook_url(hook.id)

    def _user_block(self, user: User) -> JSON:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}

    def _team_block(self) -> JSON:
        return {"id": self.state.team_id, "domain": self.state.team_domain}

    async def slash_command(
        self,
        user: User | str,
        channel: Channel | str,
        command: str = "/ticketbolt",
        text: str = "",
        *,
        signature: SignatureMode = "valid",
    ) -> Delivery:
        """A person runs a slash command: signed form POST with `response_url` and `trigger_id`."""
        who, where = self._user(user), self._channel(channel)
        form = {
            "token": "emulated-verification-token",
            "team_id": self.state.team_id,
            "team_domain": self.state.team_domain,
            "channel_id": where.id,
            "channel_name": "directmessage" if where.is_im else where.name,
            "user_id": who.id,
            "user_name": who.name,
            "command": command,
            "text": text,
            "api_app_id": self.state.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._issue_hook(where, who),
            "trigger_id": self.triggers.issue(who.id),
        }
        return await self._send("command", urlencode(form), FORM, signature)

    async def _interactive(self, payload: JSON, signature: SignatureMode) -> Delivery:
        body = f"payload={quote(json.dumps(payload))}"
        return await self._send(payload["type"], body, FORM, signature)

    async def message_shortcut(
        self,
        user: User | str,
        channel: Channel | str,
        ts: str,
        callback_id: str,
        *,
        signature: SignatureMode = "valid",
    ) -> Delivery:
        """A person picks the app's message shortcut on a message (`message_action` payload)."""
        who, where = self._user(user), self._channel(channel)
        message = self._message(where, ts)
        payload = {
            "type": "message_action",
            "token": "emulated-verification-token",
            "action_ts": self.state.clock.next(),
            "team": self._team_block(),
            "user": self._user_block(who),
            "channel": {"id": where.id, "name": "directmessage" if where.is_im else where.name},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.triggers.issue(who.id),
            "response_url": self._issue_hook(where, who),
            "message_ts": message.ts,
            "message": message_json(self.state, where, message),
            "api_app_id": self.state.api_app_id,
        }
        return await self._interactive(payload, signature)

    async def block_action(
        self,
        user: User | str,
        channel: Channel | str,
        ts: str,
        action_id: str,
        *,
        selected_user: str | None = None,
        signature: SignatureMode = "valid",
    ) -> Delivery:
        """A person clicks a button (or picks someone in a `users_select`) of a message's blocks:
        a signed `block_actions` payload. KeyError when the message shows no such element."""
        who, where = self._user(user), self._channel(channel)
        message = self._message(where, ts)
        block, element = _element(message.blocks or [], action_id)
        action: JSON = {
            "type": element.get("type"),
            "action_id": action_id,
            "block_id": block.get("block_id", ""),
            "action_ts": self.state.clock.next(),
        }
        if element.get("type") == "users_select":
            action["selected_user"] = selected_user
        else:
            action |= {"text": element.get("text"), "value": element.get("value")}
        state: JSON = {}
        if selected_user is not None:
            picked = {"type": "users_select", "selected_user": selected_user}
            state = {action["block_id"]: {action_id: picked}}
        shown = message_json(self.state, where, message)
        payload = {
            "type": "block_actions",
            "token": "emulated-verification-token",
            "api_app_id": self.state.api_app_id,
            "user": self._user_block(who),
            "team": self._team_block(),
            "enterprise": None,
            "is_enterprise_install": False,
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": where.id,
                "is_ephemeral": False,
                **({"thread_ts": message.thread_ts} if message.thread_ts else {}),
            },
            "trigger_id": self.triggers.issue(who.id),
            "channel": {"id": where.id, "name": "directmessage" if where.is_im else where.name},
            "message": shown,
            "state": {"values": state},
            "response_url": self._issue_hook(where, who),
            "actions": [action],
        }
        return await self._interactive(payload, signature)

    async def view_submission(
        self,
        user: User | str,
        view_id: str,
        values: dict[str, dict[str, Any]],
        *,
        signature: SignatureMode = "valid",
    ) -> Delivery:
        """A person submits an open modal; `values[block_id][action_id]` may be a plain string.

        The app's answer is applied like Slack does: empty or `clear` closes the modal, `update`
        replaces it, `push` stacks a new view, `errors` keeps it open.
        """
        who = self._user(user)
        view = self.views.views.get(view_id)
        if view is None:
            raise KeyError(f"no open view {view_id}")
        state = {
            block: {
                action: {"type": "plain_text_input", "value": v} if isinstance(v, str) else v
                for action, v in actions.items()
            }
            for block, actions in values.items()
        }
        payload = {
            "type": "view_submission",
            "token": "emulated-verification-token",
            "team": self._team_block() | {"enterprise_id": None, "enterprise_name": None},
            "user": self._user_block(who),
            "api_app_id": self.state.api_app_id,
            "trigger_id": self.triggers.issue(who.id),
            "view": view | {"state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        delivery = await self._interactive(payload, signature)
        if delivery.status == 200:
            self._apply_view_response(who, view, delivery.json())
        return delivery

    def _apply_view_response(self, user: User, view: JSON, answer: Any) -> None:
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "update" and isinstance(answer, dict):
            self.views.replace(view, answer.get("view", {}))
        elif action == "push" and isinstance(answer, dict):
            self.views.open(user.id, answer.get("view", {}), push=True)
        elif action != "errors":
            self.views.close(view["id"], clear=action == "clear")

    # -- response_url receiver --------------------------------------------------------------

    async def _hook(self, request: web.Request) -> web.Response:
        hook = self.hooks.get(request.match_info["hook_id"])
        if hook is None:
            return web.Response(status=404, text="no_service")
        if hook.uses >= MAX_HOOK_USES:
            return web.Response(status=404, text="used_url")
        hook.uses += 1
        body = json_body(await request.text())
        self.hook_posts.append(HookPost(hook.id, hook.channel, hook.user, body))
        if isinstance(body, dict):
            self._show_hook_message(hook, body)
        self._notify()
        return web.Response(text="ok")

    def _show_hook_message(self, hook: Hook, body: JSON) -> None:
        channel = self.state.channels[hook.channel]
        text, blocks = body.get("text") or "", body.get("blocks")
        if body.get("response_type") == "in_channel":
            message = self.state.post(
                channel, self.state.bot, text, blocks=blocks, thread_ts=body.get("thread_ts")
            )
            self._bot_event(channel, message_event(self.state, channel, message))
            return
        self.ephemerals.append(
            {
                "channel": channel.id,
                "user": hook.user,
                "text": text,
                "blocks": blocks,
                "thread_ts": body.get("thread_ts"),
                "message_ts": self.state.clock.next(),
                "source": "response_url",
            }
        )


def _element(blocks: list[Any], action_id: str) -> tuple[JSON, JSON]:
    """The interactive element with `action_id` in a message's blocks, and its block."""
    for block in blocks:
        elements = block.get("elements") or []
        accessory = block.get("accessory")
        for element in [*elements, *([accessory] if accessory else [])]:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block, element
    raise KeyError(f"the message shows no element {action_id!r}")
