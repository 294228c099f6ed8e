"""Agents' own identity in Gorgias: a thread reply by an agent who is a Gorgias user is an
internal note written as that user, over real HTTP against the emulators."""

from __future__ import annotations

from tests.handlers.test_sync import stack
from tests.support.stack import Stack
from tests.support.sync import edited_reply, from_slack, settle, ticketed, workspace

__all__ = ["stack"]  # the fixture, shared with the thread-sync tests


async def test_agent_reply_is_a_note_whose_sender_is_the_agents_gorgias_user(stack: Stack) -> None:
    """Alex has a Gorgias user with the e-mail of Alex's Slack profile: Alex's reply is an
    internal note whose `sender` is that user, with Alex's words alone as its body; an edit
    is a further note by the same user that says so."""
    alex_user = stack.gorgias.state.add_user("Alex in Gorgias", "Alex@OurTeam.example")
    _, _, ticket_id, _ = await edited_reply(
        stack, "Parcel lost", "Checking with the courier", "Checked: it is in Lyon"
    )
    notes = from_slack(stack, ticket_id)
    assert [("internal-note", False, True)] * 2 == [
        (n["channel"], n["public"], n["from_agent"]) for n in notes
    ]
    expected = {"id": alex_user["id"], "email": "Alex@OurTeam.example", "name": "Alex in Gorgias"}
    assert [expected] * 2 == [n["sender"] for n in notes]
    assert ["Checking with the courier", "Edited in Slack: Checked: it is in Lyon"] == [
        n["body_text"] for n in notes
    ]


async def test_reply_by_a_member_without_a_gorgias_user_is_written_by_the_api_user(
    stack: Stack,
) -> None:
    """No Gorgias user has the member's e-mail: the note is the API user's, naming the member."""
    customer, agent, channel = workspace(stack.slack)
    ts, ticket_id = await ticketed(stack, customer, agent, channel, "Parcel lost")
    await stack.slack.user_posts(agent, channel, "On it", ts)
    await settle(stack)
    [note] = from_slack(stack, ticket_id)
    assert stack.gorgias.state.me["id"] == note["sender"]["id"]
    assert "Alex Agent (Slack) wrote: On it" == note["body_text"]
