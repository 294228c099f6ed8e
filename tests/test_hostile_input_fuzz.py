"""Every public route under generated hostile input: never a 5xx, an error log or a recorded job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.db import Database
from tests.support.stack import SIGNING_SECRET, Stack, guarded_app
from ticketbolt.integrations.slack.emulator.events import signed_headers

ADMIN_TOKEN = "fuzz-admin-token"
WEBHOOK_TOKEN = "fuzz-webhook-token"

# -- JSON shapes --------------------------------------------------------------------------------

# Names Slack and Gorgias bodies use, so generated objects collide with what the code reads.
FIELDS = (
    "type", "event", "event_id", "team_id", "team", "user", "user_id", "channel", "channel_id",
    "enterprise", "enterprise_id", "authorizations", "is_bot", "item", "item_user", "reaction",
    "ts", "thread_ts", "text", "subtype", "channel_type", "message", "previous_message", "edited",
    "files", "bot_id", "view", "state", "values", "private_metadata", "callback_id", "actions",
    "action_id", "trigger_id", "response_url", "response_urls", "challenge", "command", "id",
    "ticket", "ticket_id", "name", "value", "selected_option", "is_ext_shared_channel",
)  # fmt: skip
IDS = st.text(string.ascii_uppercase + string.digits + ".", min_size=1, max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | IDS
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)


def objects(
    required: dict[str, st.SearchStrategy[Any]], without: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with `required` keys and any known field names but `without`, holding anything."""
    optional = {name: JSON for name in FIELDS if name not in (*required, *without)}
    return st.fixed_dictionaries(required, optional=optional)


# Keys a mutation leaves alone: each keeps its document from asking for work (a bookkeeping
# message subtype, a bot author, a reaction that is not ours, form metadata that is not ours), so
# any job that appears was recorded for junk.
GUARDS = frozenset({"subtype", "bot_id", "reaction", "private_metadata"})


def _slots(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in `doc` a mutation may change."""
    if isinstance(doc, dict):
        items = [(k, v) for k, v in doc.items() if k not in GUARDS]
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    else:
        return []
    return [slot for key, value in items for slot in [(doc, key), *_slots(value)]]


@st.composite
def mutated(
    draw: st.DrawFn,
    documents: st.SearchStrategy[dict[str, Any]],
    junk: st.SearchStrategy[Any] = JSON,
) -> dict[str, Any]:
    """A document as Slack sends it, then up to three fields deleted or replaced by `junk`."""
    doc = draw(documents)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        slots = _slots(doc)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(junk)
    return doc


TEXTS = st.text(max_size=12)
TEAM = st.fixed_dictionaries({"id": IDS, "domain": TEXTS})
USER = st.fixed_dictionaries({"id": IDS, "name": TEXTS, "team_id": IDS})
CHANNEL = st.fixed_dictionaries({"id": IDS, "name": TEXTS})
HOOK = st.sampled_from(["http://127.0.0.1:9/hook", "not a url", ""])
SLACK_MESSAGE = st.fixed_dictionaries(
    {"type": st.just("message"), "ts": IDS, "text": TEXTS},
    optional={
        "user": IDS,
        "thread_ts": IDS,
        "edited": st.fixed_dictionaries({"ts": IDS, "user": IDS}),
        "files": st.lists(st.fixed_dictionaries({"name": TEXTS, "permalink": TEXTS}), max_size=2),
    },
)
QUIET_SUBTYPES = ("message_changed", "message_deleted", "channel_join", "bot_message", "tombstone")
EVENTS = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "subtype": st.sampled_from(QUIET_SUBTYPES),
            "channel": IDS,
            "ts": IDS,
            "event_ts": IDS,
            "channel_type": st.sampled_from(["channel", "group", "im", "mpim"]),
        },
        optional={"user": IDS, "message": SLACK_MESSAGE, "previous_message": SLACK_MESSAGE},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("app_mention"),
            "bot_id": IDS,
            "user": IDS,
            "channel": IDS,
            "ts": IDS,
            "text": TEXTS,
        },
        optional={"thread_ts": IDS},
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["reaction_added", "reaction_removed"]),
            "user": IDS,
            "reaction": st.sampled_from(["eyes", "tada::skin-tone-2", ""]),
            "item": st.fixed_dictionaries(
                {"type": st.sampled_from(["message", "file"]), "channel": IDS, "ts": IDS}
            ),
            "event_ts": IDS,
        },
        optional={"item_user": IDS},
    ),
    objects({"type": st.sampled_from(["app_home_opened", "channel_rename", "user_change"])}),
)
AUTHORIZATION = st.fixed_dictionaries(
    {
        "enterprise_id": st.none(),
        "team_id": IDS,
        "user_id": IDS,
        "is_bot": st.booleans(),
        "is_enterprise_install": st.booleans(),
    }
)
ENVELOPES = st.fixed_dictionaries(
    {
        "type": st.just("event_callback"),
        "team_id": IDS,
        "api_app_id": IDS,
        "event": EVENTS,
        "event_id": IDS,
        "event_time": st.integers(),
        "authorizations": st.lists(AUTHORIZATION, max_size=2),
        "is_ext_shared_channel": st.booleans(),
    }
)
FORM_VALUE = st.fixed_dictionaries(
    {"type": st.just("plain_text_input"), "value": st.none() | TEXTS}
)
INTERACTIONS = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["block_actions", "interactive_message"]),
            "team": TEAM,
            "user": USER,
            "channel": CHANNEL,
            "trigger_id": IDS,
            "callback_id": IDS,
            "actions": st.lists(
                st.fixed_dictionaries({"action_id": IDS, "block_id": IDS, "value": TEXTS}),
                max_size=2,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["message_action", "shortcut"]),
            "callback_id": st.sampled_from(["create_ticket", "other"]),
            "team": TEAM,
            "user": USER,
            "channel": CHANNEL,
            "trigger_id": IDS,
            "response_url": HOOK,
            "message_ts": IDS,
            "message": SLACK_MESSAGE,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["view_submission", "view_closed"]),
            "team": TEAM,
            "user": USER,
            "trigger_id": IDS,
            "view": st.fixed_dictionaries(
                {
                    "id": IDS,
                    "type": st.just("modal"),
                    "callback_id": st.sampled_from(["create_ticket_form", "other"]),
                    "private_metadata": st.text(max_size=30),
                    "state": st.fixed_dictionaries(
                        {
                            "values": st.dictionaries(
                                st.sampled_from(["subject", "body", "tags", "priority"]),
                                st.dictionaries(
                                    st.sampled_from(["subject", "body", "tags", "priority"]),
                                    FORM_VALUE,
                                    max_size=1,
                                ),
                                max_size=4,
                            )
                        }
                    ),
                }
            ),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["url_verification", "app_rate_limited"]), "challenge": TEXTS}
    ),
)
COMMAND_TEXT = st.sampled_from(
    ["", "help", "status", "cache", "ticket", "ticket ²", "ticket #12", f"ticket {10**30}"]
) | st.text(max_size=20).map(lambda t: f"ticket {t}")
COMMANDS = st.fixed_dictionaries(
    {
        "command": st.sampled_from(["/ticketbolt", "/other"]),
        "text": COMMAND_TEXT,
        **dict.fromkeys(("team_id", "user_id", "channel_id", "trigger_id"), IDS),
        "response_url": HOOK,
    }
)
# Ticket ids that are no id at all: webhooks carrying one must record nothing.
NOT_IDS = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**63),
    st.sampled_from(["²", "١٢", "0", "-1", "+1", " 1", "1_000", "1.0", "", "9" * 30]),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=8).filter(lambda t: not (t.isascii() and t.isdigit())),
)
IDS_AT = ("ticket", "ticket_id", "message", "id")  # where a webhook may carry a ticket id
WEBHOOK_BODIES = st.one_of(
    objects({"ticket": objects({"id": NOT_IDS}, IDS_AT)}, IDS_AT),
    objects({"ticket_id": NOT_IDS, "message": objects({"ticket_id": NOT_IDS}, IDS_AT)}, IDS_AT),
    # A valid ticket with a message id that is none: still refused.
    objects(
        {"ticket": st.just({"id": 7}), "message": objects({"id": NOT_IDS.filter(bool)}, IDS_AT)},
        IDS_AT,
    ),
)

# -- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One request; `sign` asks for Slack's signature over the body at the moment it is sent."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sign: bool = False


def dumped(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def truncated(draw: st.DrawFn, bodies: st.SearchStrategy[bytes]) -> bytes:
    body = draw(bodies)
    return body[: draw(st.integers(min_value=0, max_value=len(body)))]


JSON_BODIES = st.one_of(
    JSON.map(dumped), mutated(ENVELOPES).map(dumped), mutated(INTERACTIONS).map(dumped)
)
FORM, JSON_TYPE = "application/x-www-form-urlencoded", "application/json"
# Each kind of body with the Content-Type Slack would send it with; structured kinds come up
# more often than plain junk, which is refused early and teaches little.
SLACK_BODIES = {
    "event": (mutated(ENVELOPES).map(dumped), JSON_TYPE),
    "interaction as JSON": (mutated(INTERACTIONS).map(dumped), JSON_TYPE),
    "command": (mutated(COMMANDS).map(lambda form: urlencode(form).encode()), FORM),
    "interaction": (
        mutated(INTERACTIONS).map(lambda p: f"payload={quote(json.dumps(p))}".encode()),
        FORM,
    ),
    "payload not JSON": (st.text(max_size=30).map(lambda t: f"payload={quote(t)}".encode()), FORM),
    "truncated JSON": (truncated(JSON_BODIES), JSON_TYPE),
    "any JSON": (JSON.map(dumped), JSON_TYPE),
    "any bytes": (st.binary(max_size=60), FORM),
}
SLACK_KINDS = st.sampled_from(
    ["event", "event", "command", "interaction", "interaction", *SLACK_BODIES]
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=no-such-codec",
        "application/x-www-form-urlencoded; charset=utf-16",
        "",
    ]
)
HEADER_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
HEADER_NAMES = st.sampled_from(
    [
        "X-Slack-Retry-Num",
        "X-Slack-Retry-Reason",
        "X-Slack-Request-Timestamp",
        "X-Slack-Signature",
        "Authorization",
        "X-Ticketbolt-Token",
        "Accept",
        "X-Forwarded-For",
    ]
)
EXTRA_HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3)


@st.composite
def slack_attempts(draw: st.DrawFn) -> Attempt:
    bodies, content_type = SLACK_BODIES[draw(SLACK_KINDS)]
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        content_type = draw(CONTENT_TYPES)
    headers = {"Content-Type": content_type, **draw(EXTRA_HEADERS)}
    sign = draw(st.sampled_from([True, True, True, False]))
    return Attempt("POST", "/slack/events", draw(bodies), headers, sign=sign)


@st.composite
def webhook_attempts(draw: st.DrawFn) -> Attempt:
    body = draw(WEBHOOK_BODIES.map(dumped) | truncated(JSON_BODIES) | st.binary(max_size=40))
    token = draw(st.sampled_from([WEBHOOK_TOKEN] * 3 + ["wrong"]) | HEADER_VALUES)
    headers = {"X-Ticketbolt-Token": token, "Content-Type": draw(CONTENT_TYPES)}
    return Attempt("POST", "/gorgias/webhook", body, headers | draw(EXTRA_HEADERS))


@st.composite
def read_attempts(draw: st.DrawFn) -> Attempt:
    path = draw(st.sampled_from(["/healthz", "/readyz", "/metrics", "/admin/stats", "/admin/x"]))
    query = draw(st.dictionaries(st.text(max_size=5), st.text(max_size=10), max_size=2))
    bearer = draw(st.sampled_from([f"Bearer {ADMIN_TOKEN}", "Bearer", "Basic x"]) | HEADER_VALUES)
    method = draw(st.sampled_from(["GET", "GET", "POST", "HEAD", "DELETE"]))
    headers = {"Authorization": bearer, **draw(EXTRA_HEADERS)}
    return Attempt(method, f"{path}?{urlencode(query)}", draw(st.binary(max_size=30)), headers)


# -- the properties -----------------------------------------------------------------------------


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    """The service with its admin API and webhook on, and no worker: recorded jobs stay visible."""
    async with guarded_app(database, ADMIN_TOKEN, WEBHOOK_TOKEN) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(http: aiohttp.ClientSession, stack: Stack, attempt: Attempt) -> int:
    headers = dict(attempt.headers)
    if attempt.sign:
        with contextlib.suppress(UnicodeDecodeError):  # Slack signs text; bytes go unsigned
            headers |= signed_headers(SIGNING_SECRET, attempt.body.decode())
    async with http.request(
        attempt.method, f"{stack.url}{attempt.path}", data=attempt.body, headers=headers
    ) as response:
        await response.read()
        return response.status


async def survives(
    http: aiohttp.ClientSession, stack: Stack, caplog: pytest.LogCaptureFixture, attempt: Attempt
) -> None:
    """The answer is below 500, nothing is logged at ERROR (work spawned after an ack included),
    no job is recorded, Gorgias has no ticket, and the process still serves."""
    caplog.clear()
    status = await send(http, stack, attempt)
    background = await asyncio.gather(*stack.runtime.deps.background, return_exceptions=True)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    queue = await stack.runtime.queue.stats()
    assert (True, [], [], 0, {}) == (
        status < 500,
        errors,
        [repr(b) for b in background if isinstance(b, BaseException)],
        sum(queue["by_state"].values()),
        stack.gorgias.tickets,
    )
    async with http.get(f"{stack.url}/healthz") as alive:
        assert 200 == alive.status


@settings(max_examples=200)  # the widest input space: bodies, encodings, signatures, shapes
@given(attempt=slack_attempts())
async def test_slack_events_survive_junk_signed_or_not(
    stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, attempt: Attempt
) -> None:
    """POST /slack/events with any body, headers and shape, signed or not, changes nothing."""
    await survives(http, stack, caplog, attempt)


@given(attempt=webhook_attempts())
async def test_gorgias_webhook_survives_junk_and_ids_that_are_none(
    stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, attempt: Attempt
) -> None:
    """POST /gorgias/webhook with junk, or with ids that are none, records nothing."""
    await survives(http, stack, caplog, attempt)


@given(attempt=read_attempts())
async def test_health_metrics_and_admin_survive_junk(
    stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, attempt: Attempt
) -> None:
    """/healthz, /readyz, /metrics and /admin/* with any method, query, token and body."""
    await survives(http, stack, caplog, attempt)
