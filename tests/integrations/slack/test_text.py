"""Slack mrkdwn rendered as ticket text, and what a message mentions."""

from __future__ import annotations

import pytest

from ticketbolt.integrations.slack.text import find_emails, mentioned_ids, render_plain

USERS = {"U123": "Alice Agent", "W999": "Enterprise Eve"}
CHANNELS = {"C123": "support"}


@pytest.mark.parametrize(
    ("mrkdwn", "expected"),
    [
        ("hi <@U123>", "hi @Alice Agent"),
        ("hi <@W999>", "hi @Enterprise Eve"),
        ("hi <@U404>", "hi @U404"),
        ("hi <@U404|bob>", "hi @bob"),
        ("see <#C123|general>", "see #support"),
        ("see <#C777|general>", "see #general"),
        ("see <#C123>", "see #support"),
        ("see <#C777>", "see #C777"),
        (
            "<https://example.com/a?b=1&amp;c=2|the docs>",
            "the docs (https://example.com/a?b=1&c=2)",
        ),
        ("<https://example.com>", "https://example.com"),
        ("<https://example.com|https://example.com>", "https://example.com"),
        ("mail <mailto:a@b.io|a@b.io>", "mail a@b.io"),
        ("mail <mailto:a@b.io|Alice>", "mail Alice (a@b.io)"),
        ("<!here> and <!channel> and <!everyone>", "@here and @channel and @everyone"),
        ("<!here|@here> ping", "@here ping"),
        ("<!subteam^S1|@support-team> help", "@support-team help"),
        ("<!subteam^S1> help", "@S1 help"),
        ("<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("literal &amp;lt; stays", "literal &lt; stays"),
        ("no markup at all", "no markup at all"),
        ("*bold* _italics_ ~strike~ `code`", "bold italics strike code"),
        ("(*bold*), _done_.", "(bold), done."),
        ("*_~all three~_*", "all three"),
        ("*ask <@U123> in <#C123|x>*", "ask @Alice Agent in #support"),
        ("*see <https://x.io/a_b*c_|the docs>*", "see the docs (https://x.io/a_b*c_)"),
        ("snake_case_name and 2*3*4 and ~/dir~x", "snake_case_name and 2*3*4 and ~/dir~x"),
        ("a * b * c and _ alone", "a * b * c and _ alone"),
        ("`*not bold* &lt;x&gt;`", "*not bold* <x>"),
        ("run:\n```\nmake *all*\n```\ndone", "run:\nmake *all*\ndone"),
        ("run ```make``` now", "run \nmake\n now"),
        ("<!date^1392734382^{date_short}^https://x.io>", "2014-02-18 14:39 UTC"),
        ("<!date^never^{date_short}>", "(a date)"),
        ("*unclosed and _half", "*unclosed and _half"),
    ],
)
def test_render_plain(mrkdwn: str, expected: str) -> None:
    """Mentions become names, links become `label (url)`, entities are decoded, and formatting
    marks go while their words stay; code keeps what it holds as typed."""
    assert expected == render_plain(mrkdwn, USERS, CHANNELS)


def test_decoded_angle_brackets_are_not_reparsed_as_markup() -> None:
    """Text a user typed as `<@U123>` arrives escaped and must stay literal text."""
    assert "type <@U123> to mention" == render_plain("type &lt;@U123&gt; to mention", USERS, {})


def test_mentioned_ids_lists_each_user_and_channel_once_in_order() -> None:
    """Users and channels come back separately, deduplicated, in order of appearance."""
    text = "<@U2> <#C1|a> <@U1|x> <@U2> <#G5> <https://x.io> <!here>"
    assert (["U2", "U1"], ["C1", "G5"]) == mentioned_ids(text)


def test_find_emails_in_text_and_mailto_links_once_each() -> None:
    """Addresses in plain text and inside mailto links are found once, as written."""
    text = "write <mailto:Bob@Shop.io|Bob@Shop.io> or ops@shop.io. cc bob@shop.io; not @here"
    assert ["Bob@Shop.io", "ops@shop.io"] == find_emails(text)


def test_find_emails_ignores_mentions_and_urls_without_addresses() -> None:
    """Mentions and ordinary links hold no e-mail address."""
    assert [] == find_emails("<@U123> see <https://example.com/path|docs>")
