"""Per-channel behaviour over real HTTP: an `off` channel is ignored, and in a Slack Connect
channel the customer is the external member's organisation and only external members'
messages are tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, drained, eventually
from tests.support.triage import replies, triage_app, workspace
from ticketbolt.integrations.slack.emulator.state import Channel

QUIET, SHARED, HELP = "C0QUIET", "C0SHARED", "C0HELP"
PARTNER = "T0PARTNER"


@pytest.fixture
async def stack(database: Database, tmp_path: Path) -> AsyncIterator[Stack]:
    channels = (
        f"channels:\n  {QUIET}: {{mode: 'off'}}\n  {SHARED}: {{mode: auto, tags: [partner]}}\n"
        f"  {HELP}: {{mode: assistant}}\n"
    )
    async with triage_app(database, tmp_path, channels) as running:
        running.slack.state.add_team(PARTNER, "Partner Co")
        yield running


def bot_posts(stack: Stack, channel: Channel) -> list[str]:
    return [m.text for m in channel.messages.values() if m.user == stack.slack.bot_user.id]


async def test_off_channel_is_ignored_no_tickets_and_no_assistant_answers(stack: Stack) -> None:
    """In an `off` channel neither 🎫 nor 🙋 makes a ticket and a question that mentions the
    bot is not answered, while the same question in an assistant channel is."""
    slack = stack.slack
    customer, alex, _, _ = workspace(slack)
    quiet = slack.add_channel("quiet", members=[customer, alex], channel_id=QUIET)
    helpdesk = slack.add_channel("help", members=[customer, alex], channel_id=HELP)
    question = f"<@{slack.bot_user.id}> What is your return policy?"
    await slack.user_posts(customer, helpdesk, question)
    await eventually(lambda: bool(bot_posts(stack, helpdesk)), timeout=30, what="the answer")
    ts = await slack.user_posts(customer, quiet, question)
    await slack.user_reacts(alex, quiet, ts, "ticket")
    await slack.user_reacts(alex, quiet, ts, "raising_hand")
    await drained(stack)
    await slack.drain()
    assert ([], {}) == (bot_posts(stack, quiet), stack.gorgias.tickets)
    assert [] == [e for e in slack.ephemerals if e["channel"] == QUIET]


async def test_shared_channel_customer_is_the_external_members_organisation(stack: Stack) -> None:
    """`auto` in a Slack Connect channel: each external member's message is a ticket whose
    customer is their organisation (one Gorgias customer for the organisation, its name read
    from Slack once); members' messages, agents' or not, make none; an external member can
    neither claim nor resolve."""
    slack = stack.slack
    customer, alex, _, _ = workspace(slack)
    carol = slack.add_user(
        "carol", real_name="Carol Partner", team_id=PARTNER, email="carol@partner.example"
    )
    dave = slack.add_user("dave", real_name="Dave Partner", team_id=PARTNER)
    shared = slack.add_channel(
        "ext-partner", members=[alex, customer, carol, dave], is_ext_shared=True, channel_id=SHARED
    )
    first = await slack.user_posts(carol, shared, "Invoice 42 is wrong")
    await slack.user_posts(dave, shared, "And invoice 43")
    await slack.user_posts(customer, shared, "A member of our workspace, not an agent")
    await slack.user_posts(alex, shared, "We are on it")
    await drained(stack)
    views = [stack.gorgias.state.ticket_view(t) for t in stack.gorgias.tickets.values()]
    # Made concurrently: in either order.
    assert {"Invoice 42 is wrong", "And invoice 43"} == {v["subject"] for v in views}
    assert 2 == len(views)
    assert [("Partner Co", f"slack:{slack.state.team_id}:{PARTNER}")] * 2 == [
        (v["customer"]["name"], v["customer"]["external_id"]) for v in views
    ]
    assert 1 == len(stack.gorgias.state.customers)
    assert 1 == len(slack.calls_to("team.info"))
    assert all("partner" in {t["name"] for t in v["tags"]} for v in views)

    before = replies(shared, first)
    await slack.user_reacts(carol, shared, first, "raising_hand")
    await slack.user_reacts(carol, shared, first, "white_check_mark")
    await drained(stack)
    after = [stack.gorgias.state.ticket_view(t) for t in stack.gorgias.tickets.values()]
    assert [(None, "open")] * 2 == [(v["assignee_user"], v["status"]) for v in after]
    assert before == replies(shared, first)
