"""The shapes of Slack bodies that Bolt and our listeners may read; anything else is ignored.

Bolt's context builders and matchers, and our listeners, index Slack payloads as Slack documents
them (`body["event"]["type"]`, `team["id"]`, `actions[0]`). A body that contradicts the docs
(`"event": null`, `"authorizations": 5`) would raise inside them. `mismatch` finds such a body
before Bolt sees it, so the server can answer it 200 and ignore it instead of failing with 500.
Only fields that someone reads are described; any other field may hold anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Text:
    """A JSON string of at most `max_length` characters, all matching `chars` (when given)."""

    max_length: int | None = None
    chars: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Obj:
    """A JSON object; `required` keys must be there, `optional` ones may be; both of a shape."""

    required: Mapping[str, Shape] = field(default_factory=dict)
    optional: Mapping[str, Shape] = field(default_factory=dict)
    # Both, merged once (a required key's shape wins), for the checks' every call.
    known: Mapping[str, Shape] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", {**self.optional, **self.required})


@dataclass(frozen=True)
class ListOf:
    item: Shape
    non_empty: bool = False


@dataclass(frozen=True)
class MapOf:
    """A JSON object with any keys, every value of one shape."""

    value: Shape


@dataclass(frozen=True)
class Either:
    options: tuple[Shape, ...]


@dataclass(frozen=True)
class ByKey:
    """An object whose shape depends on its `key` field (an event's or a payload's `type`)."""

    key: str
    shapes: Mapping[str, Shape]
    default: Shape


class _Absent:
    """The key must not be there: Slack never nests that deep, and Bolt would recurse into it."""


ABSENT = _Absent()
Shape: TypeAlias = Text | Obj | ListOf | MapOf | Either | ByKey | _Absent | type[bool] | None

# Slack ids and timestamps (`C024BE91L`, `1700000000.000100`): no NUL, space or markup can hide in
# one on its way into a query, and our columns hold 32 characters.
_ID_CHARS = re.compile(r"[A-Za-z0-9._-]*")
ID = Text(32, _ID_CHARS)
TEXT = Text()
MAYBE_ID = Either((None, ID))  # Slack sends `"enterprise_id": null` and the like
_REF_FIELDS: dict[str, Shape] = dict.fromkeys(("team_id", "enterprise_id"), MAYBE_ID)
REF = Either((None, ID, Obj(optional={"id": ID, **_REF_FIELDS})))
# The objects Bolt's context builders descend into, looking for the same fields again.
CHAIN = ("event", "message", "previous_message", "item", "assistant_thread", "root")
DEPTH = 4  # envelope → event → message → previous_message is as deep as Slack nests them

_VALUE = Obj(optional={"value": Either((None, TEXT)), "selected_option": Either((None, Obj()))})
VIEW_FIELDS: dict[str, Shape] = {
    **dict.fromkeys(("id", "callback_id", "type", "private_metadata", "hash"), TEXT),
    **dict.fromkeys(("team_id", "app_installed_team_id"), MAYBE_ID),
    "state": Obj(optional={"values": MapOf(MapOf(Either((None, _VALUE))))}),
}


def _bolt(depth: int) -> dict[str, Shape]:
    """What Bolt's context builders read at one level, `depth` levels above the deepest."""
    inner: Shape = Obj(optional=_bolt(depth - 1)) if depth > 1 else ABSENT
    authorization = Obj(optional={**_bolt(depth - 1), "is_bot": bool}) if depth > 1 else ABSENT
    return {
        "type": TEXT,
        **dict.fromkeys(("team", "user", "channel", "enterprise"), REF),
        **dict.fromkeys(
            ("team_id", "user_id", "channel_id", "enterprise_id", "user_team"), MAYBE_ID
        ),
        **dict.fromkeys(("thread_ts", "ts", "function_execution_id", "bot_access_token"), TEXT),
        "response_url": TEXT,
        "response_urls": ListOf(Obj(optional={"response_url": TEXT})),
        "authorizations": ListOf(authorization),
        "view": Obj(optional=VIEW_FIELDS),
        "function_data": Obj(optional={"execution_id": TEXT}),
        **dict.fromkeys(CHAIN, inner),
    }


def _message(depth: int) -> dict[str, Shape]:
    """A message as the assistant and thread sync read it (an event, or inside one)."""
    fields: dict[str, Shape] = {
        **_bolt(depth),
        **dict.fromkeys(("user", "channel", "ts", "thread_ts"), ID),
        **dict.fromkeys(("text", "subtype", "channel_type"), TEXT),
        "edited": Obj(optional={"ts": ID, "user": ID}),
        "files": ListOf(Obj(optional={"name": TEXT, "permalink": TEXT})),
    }
    if depth > 1:
        inner = Obj(optional=_message(depth - 1))
        fields |= {"message": inner, "previous_message": inner}
    return fields


# -- events: what the listeners of each event type read -----------------------------------------

MESSAGE_EVENT = Obj(required={"type": TEXT, "channel": ID, "ts": ID}, optional=_message(DEPTH - 1))
REACTION_EVENT = Obj(
    required={"type": TEXT, "user": ID, "reaction": TEXT},
    optional={
        **_bolt(DEPTH - 1),
        "item_user": ID,
        "item": Obj(optional={**_bolt(DEPTH - 2), "type": TEXT, "channel": ID, "ts": ID}),
    },
)
EVENT = ByKey(
    "type",
    {
        "message": MESSAGE_EVENT,
        "app_mention": MESSAGE_EVENT,
        "reaction_added": REACTION_EVENT,
        "reaction_removed": REACTION_EVENT,
    },
    Obj(required={"type": TEXT}, optional=_bolt(DEPTH - 1)),
)

# -- envelopes and interactivity payloads ---------------------------------------------------------

BOLT = _bolt(DEPTH)
_WHO = Obj(required={"id": ID}, optional=_REF_FIELDS)
_CALLBACK = Obj(required={"callback_id": TEXT}, optional=BOLT)
_ACTIONS = {"actions": ListOf(Obj(required={"action_id": TEXT}), non_empty=True)}
_VIEW_PAYLOAD = Obj(
    required={
        "view": Obj(required={"callback_id": TEXT, "type": TEXT}, optional=VIEW_FIELDS),
        "user": _WHO,
    },
    optional={**BOLT, "trigger_id": TEXT},
)
BODY = ByKey(
    "type",
    {
        "event_callback": Obj(
            required={"event": EVENT},
            optional={**BOLT, "team_id": ID, "event_id": Text(64, _ID_CHARS)},
        ),
        "url_verification": Obj(required={"challenge": TEXT}, optional=BOLT),
        "block_actions": Obj(required=_ACTIONS, optional={**BOLT, "trigger_id": TEXT}),
        "interactive_message": Obj(required={**_ACTIONS, "callback_id": TEXT}, optional=BOLT),
        "message_action": Obj(
            required={
                "callback_id": TEXT,
                "trigger_id": TEXT,
                **dict.fromkeys(("team", "channel", "user"), _WHO),
            },
            optional={
                **BOLT,
                "message": Obj(optional=_message(DEPTH - 1)),
                "message_ts": ID,
            },
        ),
        "shortcut": Obj(required={"callback_id": TEXT, "trigger_id": TEXT}, optional=BOLT),
        "view_submission": _VIEW_PAYLOAD,
        "view_closed": _VIEW_PAYLOAD,
        "block_suggestion": Obj(required={"action_id": TEXT}, optional=BOLT),
        **dict.fromkeys(
            ("dialog_submission", "dialog_cancellation", "dialog_suggestion"), _CALLBACK
        ),
        "workflow_step_edit": _CALLBACK,
    },
    Obj(optional=BOLT),
)
# A slash command is a form without `type`; Bolt takes any body with `command` for one.
COMMAND = Obj(
    required={
        "command": TEXT,
        **dict.fromkeys(("team_id", "user_id", "channel_id"), ID),
        **dict.fromkeys(("response_url", "trigger_id"), TEXT),
    },
    optional={"text": TEXT},
)


def mismatch(value: object, shape: Shape, where: str = "body") -> str | None:
    """Where `value` departs from `shape` (e.g. `body.event is not an object`), or None.

    Every Slack delivery is checked, so a body that fits is found so by `fits`, which builds
    no path strings; only a body that does not fit is walked again to say where."""
    if fits(value, shape):
        return None
    return explain(value, shape, where)


_UNKNOWN = object()


def fits(value: object, shape: Shape) -> bool:
    """Whether `value` has `shape`: `mismatch` without saying where (the same rules)."""
    if shape is None:
        return value is None
    if isinstance(shape, type):
        return isinstance(value, shape)
    return _FITS[type(shape)](value, shape)


def _fits_object(value: object, shape: Obj) -> bool:
    if not isinstance(value, dict) or any(key not in value for key in shape.required):
        return False
    known = shape.known
    for key, item in value.items():
        sub = known.get(key, _UNKNOWN)
        if sub is not _UNKNOWN and not fits(item, sub):  # type: ignore[arg-type]  # a Shape
            return False
    return True


def _fits_text(value: object, shape: Text) -> bool:
    return (
        isinstance(value, str)
        and (shape.max_length is None or len(value) <= shape.max_length)
        and (shape.chars is None or shape.chars.fullmatch(value) is not None)
    )


def _fits_by_key(value: object, shape: ByKey) -> bool:
    if not isinstance(value, dict):
        return False
    tag = value.get(shape.key)
    return fits(
        value, shape.shapes.get(tag, shape.default) if isinstance(tag, str) else shape.default
    )


def _fits_list(value: object, shape: ListOf) -> bool:
    if not isinstance(value, list) or (shape.non_empty and not value):
        return False
    return all(fits(item, shape.item) for item in value)


def _fits_map(value: object, shape: MapOf) -> bool:
    return isinstance(value, dict) and all(fits(item, shape.value) for item in value.values())


def _fits_either(value: object, shape: Either) -> bool:
    return any(fits(value, option) for option in shape.options)


def _never(value: object, shape: _Absent) -> bool:
    return False


_FITS: dict[type, Callable[[Any, Any], bool]] = {
    Obj: _fits_object,
    Text: _fits_text,
    ByKey: _fits_by_key,
    ListOf: _fits_list,
    MapOf: _fits_map,
    Either: _fits_either,
    _Absent: _never,
}


def explain(value: object, shape: Shape, where: str) -> str | None:
    """Where `value` departs from `shape`: the slow walk behind `mismatch`, which builds each
    path as it goes and never asks `fits` (the tests hold the two against each other)."""
    if shape is None or isinstance(shape, type):
        expected = type(None) if shape is None else shape
        return None if isinstance(value, expected) else f"{where} is not {expected.__name__}"
    check: Callable[[Any, Any, str], str | None] = _CHECKS[type(shape)]
    return check(value, shape, where)


def _absent(value: object, shape: _Absent, where: str) -> str | None:
    return f"{where} is nested deeper than Slack sends"


def _either(value: object, shape: Either, where: str) -> str | None:
    found = [explain(value, option, where) for option in shape.options]
    return None if None in found else found[-1]


def _text(value: object, shape: Text, where: str) -> str | None:
    if not isinstance(value, str):
        return f"{where} is not a string"
    if shape.max_length is not None and len(value) > shape.max_length:
        return f"{where} is longer than {shape.max_length} characters"
    if shape.chars is not None and not shape.chars.fullmatch(value):
        return f"{where} holds characters no Slack id has"
    return None


def _list(value: object, shape: ListOf, where: str) -> str | None:
    if not isinstance(value, list) or (shape.non_empty and not value):
        return f"{where} is not a{' non-empty' if shape.non_empty else ''} list"
    return _first(explain(item, shape.item, f"{where}[{n}]") for n, item in enumerate(value))


def _map(value: object, shape: MapOf, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} is not an object"
    return _first(explain(v, shape.value, f"{where}.{k}") for k, v in value.items())


def _by_key(value: object, shape: ByKey, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} is not an object"
    tag = value.get(shape.key)
    chosen = shape.shapes.get(tag, shape.default) if isinstance(tag, str) else shape.default
    return explain(value, chosen, where)


def _object(value: object, shape: Obj, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} is not an object"
    missing = next((key for key in shape.required if key not in value), None)
    if missing is not None:
        return f"{where}.{missing} is missing"
    known = shape.known
    return _first(
        explain(value[key], known[key], f"{where}.{key}") for key in known if key in value
    )


_CHECKS: dict[type, Callable[[Any, Any, str], str | None]] = {
    _Absent: _absent,
    Either: _either,
    Text: _text,
    ListOf: _list,
    MapOf: _map,
    ByKey: _by_key,
    Obj: _object,
}


def _first(found: Iterable[str | None]) -> str | None:
    return next((f for f in found if f is not None), None)


def body_mismatch(body: dict[str, object]) -> str | None:
    """Why Bolt or a listener could not read `body` as Slack sends it; None when they can."""
    if "command" in body:
        problem = mismatch(body, COMMAND)
        if problem is not None:
            return problem
    return mismatch(body, BODY)
