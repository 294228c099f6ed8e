"""The Web API method table of the emulator: arguments, errors, scopes and shared context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ticketbolt.integrations.slack.emulator.state import JSON, Channel, Message, Workspace
from ticketbolt.integrations.slack.emulator.views import TriggerStore, ViewStore

DEFAULT_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "channels:read",
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:history",
        "groups:read",
        "im:history",
        "im:read",
        "im:write",
        "reactions:read",
        "reactions:write",
        "team:read",
        "users:read",
        "users:read.email",
        "usergroups:read",
    }
)


class ApiError(Exception):
    """An `{"ok": false, "error": …}` answer, with any extra fields Slack adds to it."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class Params:
    """A method's arguments merged from query string and body, read the way Slack coerces them."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def text(self, name: str) -> str | None:
        """The argument as a string, None when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def required(self, name: str) -> str:
        """The argument, or Slack's `invalid_arguments` naming the missing field."""
        value = self.text(name)
        if value is None:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
            )
        return value

    def flag(self, name: str) -> bool:
        """A boolean argument: slack_sdk sends `1`/`0`, JSON bodies send true/false."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in {"1", "true"}
        return bool(value)

    def number(self, name: str, default: int) -> int:
        """An integer argument, `default` when absent; `invalid_<name>` when malformed."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(f"invalid_{name}") from None

    def structured(self, name: str, error: str) -> Any:
        """A JSON argument (`blocks`, `view`) given as an object or as a JSON-encoded string."""
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ApiError(error) from None
        return value


EventSink = Callable[[Channel, JSON], None]


@dataclass
class ApiContext:
    """What method implementations may touch: the workspace, views, triggers and the event sink."""

    ws: Workspace
    views: ViewStore
    triggers: TriggerStore
    scopes: set[str]
    emit: EventSink
    ephemerals: list[JSON] = field(default_factory=list)

    def channel(self, params: Params, *, user_means_dm: bool = False) -> Channel:
        """The conversation named by the `channel` argument, or `channel_not_found`."""
        ref = params.text("channel") or ""
        channel = self.ws.resolve_channel(ref, user_means_dm=user_means_dm)
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def message(self, channel: Channel, ts: str | None) -> Message:
        """The message with `ts` in the channel, or `message_not_found`."""
        message = channel.messages.get(ts or "")
        if message is None:
            raise ApiError("message_not_found")
        return message


Handler = Callable[[ApiContext, Params], JSON]


@dataclass(frozen=True)
class Method:
    """A Web API method: its implementation and the scope it needs.

    A scope containing `{kind}` depends on the conversation: `channels`, `groups` or `im`.
    """

    handler: Handler
    scope: str | None


METHODS: dict[str, Method] = {}


def api_method(name: str, scope: str | None = None) -> Callable[[Handler], Handler]:
    """Register a function as the implementation of the Web API method `name`."""

    def register(handler: Handler) -> Handler:
        METHODS[name] = Method(handler, scope)
        return handler

    return register


def needed_scope(ctx: ApiContext, method: Method, params: Params) -> str | None:
    """The concrete scope this call needs, resolving `{kind}` from its `channel` argument."""
    if method.scope is None or "{kind}" not in method.scope:
        return method.scope
    channel = ctx.ws.resolve_channel(params.text("channel") or "")
    kind = (
        {"im": "im", "group": "groups"}.get(channel.channel_type, "channels")
        if channel
        else "channels"
    )
    return method.scope.replace("{kind}", kind)
