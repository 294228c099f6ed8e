"""Modal views and the short-lived, single-use trigger ids that open them."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ticketbolt.integrations.slack.emulator.state import JSON


@dataclass
class Trigger:
    """A trigger id handed to the app with a user interaction; valid once, for a few seconds."""

    id: str
    user: str
    expires_at: float
    used: bool = False


class TriggerStore:
    """Issues trigger ids and exchanges them the way `views.open` / `views.push` do."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._triggers: dict[str, Trigger] = {}
        self._seq = itertools.count(1)

    def issue(self, user: str) -> str:
        """A fresh trigger id in Slack's `digits.digits.hex` format."""
        trigger_id = f"{next(self._seq)}.{int(time.time())}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = Trigger(trigger_id, user, time.monotonic() + self.ttl)
        return trigger_id

    def expire_all(self) -> None:
        """Make every issued trigger expired (to test the expired path without waiting)."""
        for trigger in self._triggers.values():
            trigger.expires_at = 0.0

    def exchange(self, trigger_id: str) -> tuple[Trigger | None, str | None]:
        """The trigger and no error, or None and Slack's error name for an unusable trigger."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return None, "invalid_trigger_id"
        if trigger.used:
            return None, "exchanged_trigger_id"
        if time.monotonic() > trigger.expires_at:
            return None, "expired_trigger_id"
        trigger.used = True
        return trigger, None


@dataclass
class ViewStore:
    """Every view the app opened, updated or pushed, by id, with each user's modal stack."""

    team_id: str
    app_id: str
    bot_id: str
    views: dict[str, JSON] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    stacks: dict[str, list[str]] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def _stamp(self) -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def open(self, user: str, view: JSON, *, push: bool = False) -> JSON:
        """Record a new view as the root of a modal stack, or pushed on top of the current one."""
        view_id = f"V{next(self._seq):08X}"
        stack = self.stacks.setdefault(user, []) if push else []
        previous = stack[-1] if stack else None
        stored = self._complete(view, view_id, root=stack[0] if stack else view_id)
        stored["previous_view_id"] = previous
        self.owners[view_id] = user
        stack.append(view_id)
        self.stacks[user] = stack
        self.views[view_id] = stored
        return stored

    def _complete(self, view: JSON, view_id: str, root: str) -> JSON:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": self._stamp(),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }

    def find(self, view_id: str | None, external_id: str | None) -> JSON | None:
        """A live view by id or by the app's `external_id`."""
        if view_id:
            return self.views.get(view_id)
        return next(
            (v for v in self.views.values() if external_id and v["external_id"] == external_id),
            None,
        )

    def replace(self, current: JSON, view: JSON) -> JSON:
        """Replace a view's content, keeping its id, stack position and owner; new hash."""
        updated = self._complete(view, current["id"], root=current["root_view_id"])
        updated["previous_view_id"] = current["previous_view_id"]
        self.views[current["id"]] = updated
        return updated

    def close(self, view_id: str, *, clear: bool = False) -> None:
        """Close a view (the top of its stack), or the whole stack with `clear`."""
        view = self.views.get(view_id)
        if view is None:
            return
        stack = self.stacks.get(self.owners.get(view_id, ""), [])
        closing = list(stack) if clear else [view_id]
        for closed in closing:
            self.views.pop(closed, None)
            if closed in stack:
                stack.remove(closed)
