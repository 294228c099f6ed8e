"""The visitor's modals: which one each person sees, and a filled form as Slack submits it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ticketbolt.integrations.slack.emulator.views import ViewStore

# Slack's limit for a plain_text_input value; a select sends one of its own options' values.
MAX_VALUE = 3000


class FormError(ValueError):
    """The page sent form values the modal cannot hold; the message says which."""


def open_modals(views: ViewStore, people: Collection[str]) -> dict[str, dict[str, Any]]:
    """Each person's modal on top of their stack (the one Slack shows them), by user id."""
    shown: dict[str, dict[str, Any]] = {}
    for user, stack in views.stacks.items():
        if user in people and stack and stack[-1] in views.views:
            shown[user] = views.views[stack[-1]]
    return shown


def owned_view(views: ViewStore, view_id: str, user: str) -> dict[str, Any]:
    """The open view `view_id` of `user`; KeyError when there is none (or it is someone else's)."""
    view = views.views.get(view_id)
    if view is None or views.owners.get(view_id) != user:
        raise KeyError(f"no open view {view_id} for {user}")
    return view


def form_values(view: dict[str, Any], sent: Any) -> dict[str, dict[str, Any]]:
    """Slack's `view.state.values` for the page's `{block_id: text}`: every input block of the
    view, a text input as its value (None when empty), a select as the option with that value."""
    if not isinstance(sent, dict):
        raise FormError("'values' must be an object of block ids and texts")
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or "action_id" not in element:
            continue
        raw = sent.get(block.get("block_id"), "")
        if not isinstance(raw, str) or len(raw) > MAX_VALUE:
            raise FormError(f"'{block.get('block_id')}' must be at most {MAX_VALUE} characters")
        values[block["block_id"]] = {element["action_id"]: _element_state(element, raw)}
    return values


def _element_state(element: dict[str, Any], raw: str) -> dict[str, Any]:
    if element.get("type") == "static_select":
        options = element.get("options") or []
        chosen = next((o for o in options if o.get("value") == raw), None)
        return {"type": "static_select", "selected_option": chosen}
    return {"type": element.get("type", "plain_text_input"), "value": raw or None}
