"""The Slack body check's fast path agrees with its explaining walk on every body."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_hostile_input_fuzz import ENVELOPES, INTERACTIONS, JSON, mutated
from ticketbolt.bot.server.slack_shapes import BODY, body_mismatch, explain, fits

# Values at the edges of the rules: ids one character past 32, ids with a space, empty lists.
EDGES = st.one_of(
    st.text("AB09._-", min_size=30, max_size=34),
    st.text("AB0 ", min_size=1, max_size=4),
    st.just([]),
    st.just({}),
    JSON,
)


@st.composite
def id_at_edge(draw: st.DrawFn) -> dict[str, Any]:
    """An envelope whose event has one id at the length limit or past it, or holding a space."""
    doc = draw(ENVELOPES)
    event = doc["event"]
    key = draw(st.sampled_from(["channel", "ts", "user", "thread_ts", "item_user"]))
    event[key] = draw(st.one_of(EDGES, st.text("AB09._-", min_size=32, max_size=33)))
    return doc


BODIES = st.one_of(
    mutated(ENVELOPES),
    mutated(INTERACTIONS),
    mutated(ENVELOPES, EDGES),
    mutated(INTERACTIONS, EDGES),
    id_at_edge(),
    JSON,
)


@settings(max_examples=400, deadline=None)
@given(BODIES)
def test_fits_exactly_when_the_walk_finds_nothing(body: Any) -> None:
    """`fits` is the path-free copy of the rules that `mismatch` explains with: a body the one
    accepts, the other must accept too, or a junk body would reach Bolt (or a good one be
    dropped)."""
    assert (explain(body, BODY, "body") is None) == fits(body, BODY)


@settings(max_examples=200, deadline=None)
@given(mutated(ENVELOPES))
def test_a_body_that_does_not_fit_is_told_where(body: Any) -> None:
    problem = body_mismatch(body) if isinstance(body, dict) else None
    if isinstance(body, dict) and not fits(body, BODY):
        assert problem is not None
        assert problem.startswith("body")
