"""Slack mrkdwn → plain text for Gorgias, over generated messages: no markup survives."""

# STYLE.md: asserts read `expected == actual`, which SIM300 calls a Yoda condition.

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ticketbolt.integrations.slack.text import render_plain

USERS = {"U1": "Alice", "U2": "Bob Builder"}
CHANNELS = {"C1": "support"}
MARKERS = "*_~`"


def slack_escape(text: str) -> str:
    """What a Slack client sends for typed text: `&`, `<` and `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Typed text that can hold every entity but never spells one after decoding (no `<` or `;`), so
# whatever `<` or entity an output holds came from markup left behind.
typed = st.text(st.characters(exclude_characters="<;", exclude_categories=("Cs",)), max_size=12)
label = typed.map(slack_escape).map(lambda s: s.replace("|", ""))
user_id = st.sampled_from(["U1", "U2", "U404", "W9"])
channel_id = st.sampled_from(["C1", "C404", "G7"])
url = st.sampled_from(["https://example.com", "http://x.io/a_b*c~d", "https://x.io/?a=1&amp;b=2"])
tokens = st.one_of(
    user_id.map(lambda u: f"<@{u}>"),
    st.tuples(user_id, label).map(lambda t: f"<@{t[0]}|{t[1]}>"),
    channel_id.map(lambda c: f"<#{c}>"),
    st.tuples(channel_id, label).map(lambda t: f"<#{t[0]}|{t[1]}>"),
    st.sampled_from(["<!here>", "<!channel>", "<!everyone>", "<!subteam^S1>"]),
    st.tuples(st.integers(-(10**12), 10**12), label).map(
        lambda t: f"<!date^{t[0]}^{{date_short}}|{t[1]}>"
    ),
    st.integers(0, 2**31).map(lambda n: f"<!date^{n}^{{date_long}} at {{time}}>"),
    url.map(lambda u: f"<{u}>"),
    st.tuples(url, label).map(lambda t: f"<{t[0]}|{t[1]}>"),
    label.map(lambda a: f"<mailto:a@b.io|{a}>"),
)
pieces = st.one_of(typed.map(slack_escape), tokens)


def styled(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["*", "_", "~", "`", "```"]), inner).map(
        lambda t: f"{t[0]}{t[1]}{t[0]}"
    )


messages = st.recursive(pieces, lambda inner: styled(inner) | st.lists(inner).map(" ".join))


@given(messages)
def test_no_token_or_entity_survives(message: str) -> None:
    """Whatever a Slack message holds, its plain text has no `<…>` token left (`<@`, `<#`,
    `<!`, `<http`) and no undecoded entity: typed text has no `<`, so none may remain."""
    plain = render_plain(message, USERS, CHANNELS)
    assert [] == [left for left in ("<", "&lt;", "&gt;", "&amp;") if left in plain]


@given(st.text(st.characters(exclude_characters=f"<>&{MARKERS}", exclude_categories=("Cs",))))
def test_text_without_markup_is_unchanged(text: str) -> None:
    """Text with no brackets, entities or formatting marks is its own plain text."""
    assert text == render_plain(text, USERS, CHANNELS)


@given(st.text(st.characters(exclude_characters=MARKERS, exclude_categories=("Cs",))))
def test_typed_brackets_and_entities_come_back_as_typed(text: str) -> None:
    """Slack's escaping is undone exactly once: `<b>`, `&` and even `&lt;` read as typed."""
    assert text == render_plain(slack_escape(text), USERS, CHANNELS)


words = st.text(st.sampled_from("abc xyz,.!?"), min_size=1).filter(
    lambda w: w.strip(" ") == w and w.strip(",.!?") != ""
)


@given(words, st.lists(st.sampled_from("*_~"), min_size=1, max_size=3, unique=True))
def test_formatting_marks_go_and_their_words_stay(word: str, marks: list[str]) -> None:
    """`*bold*`, `_italics_`, `~strike~`, nested in any order, leave just their words."""
    wrapped = word
    for mark in marks:
        wrapped = f"{mark}{wrapped}{mark}"
    assert f"say {word} now" == render_plain(f"say {wrapped} now", USERS, CHANNELS)
