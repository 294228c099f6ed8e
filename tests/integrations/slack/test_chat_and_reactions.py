"""chat.*, reactions.* and permalinks through the real slack_sdk client."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.integrations.slack.emulator import Channel, SlackEmulator, User


@pytest.fixture
def alice(slack: SlackEmulator) -> User:
    """A member of the workspace."""
    return slack.add_user("alice", real_name="Alice Agent")


@pytest.fixture
def support(slack: SlackEmulator, alice: User) -> Channel:
    """A public channel with alice and the bot."""
    return slack.add_channel("support", members=[alice])


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call  # type: ignore[misc]
    return str(raised.value.response["error"])


async def test_post_message_in_a_thread_joins_the_thread(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """A bot reply posted with `thread_ts` shows up in conversations.replies."""
    parent = slack.state.post(support, alice, "my order is late").ts
    posted = await client.chat_postMessage(channel=support.id, text="Ticket #1", thread_ts=parent)
    thread = await client.conversations_replies(channel=support.id, ts=parent)
    assert (support.id, "Ticket #1", slack.bot_user.bot_id) == (
        posted["channel"],
        posted["message"]["text"],
        posted["message"]["bot_id"],
    )
    assert [parent, posted["ts"]] == [m["ts"] for m in thread["messages"]]


async def test_post_message_with_blocks_only_is_accepted(
    client: AsyncWebClient, support: Channel
) -> None:
    """Blocks without text are a valid message (slack_sdk only warns about the missing text)."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    with pytest.warns(UserWarning, match="top-level `text`"):
        posted = await client.chat_postMessage(channel=support.id, blocks=blocks)
    assert blocks == posted["message"]["blocks"]


async def test_post_message_without_text_or_blocks_is_no_text(
    client: AsyncWebClient, support: Channel
) -> None:
    """Neither text nor blocks is Slack's `no_text`."""
    with pytest.warns(UserWarning, match="top-level `text`"):
        error = await _error(client.chat_postMessage(channel=support.id))
    assert "no_text" == error


async def test_post_message_to_a_user_id_lands_in_the_dm(
    slack: SlackEmulator, client: AsyncWebClient, alice: User
) -> None:
    """A user id as `channel` posts into the bot's DM with that user."""
    posted = await client.chat_postMessage(channel=alice.id, text="hello")
    assert slack.open_dm(alice).id == posted["channel"]


async def test_post_message_in_a_private_channel_without_the_bot_is_channel_not_found(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """A private channel the bot is not in does not exist for the bot."""
    secret = slack.add_channel("secret", is_private=True, bot_member=False)
    assert "channel_not_found" == await _error(client.chat_postMessage(channel=secret.id, text="x"))


async def test_post_ephemeral_needs_the_user_in_the_channel(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """An ephemeral to a member is recorded, never stored; to a non-member it fails."""
    outsider = slack.add_user("mallory")
    answer = await client.chat_postEphemeral(channel=support.id, user=alice.id, text="only you")
    error = await _error(client.chat_postEphemeral(channel=support.id, user=outsider.id, text="x"))
    assert ("user_not_in_channel", [answer["message_ts"]]) == (
        error,
        [e["message_ts"] for e in slack.ephemerals],
    )
    assert {} == support.messages


async def test_update_changes_the_bots_message_only(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """chat.update edits the bot's own message and refuses anyone else's."""
    posted = await client.chat_postMessage(channel=support.id, text="Ticket open")
    updated = await client.chat_update(channel=support.id, ts=posted["ts"], text="Ticket closed")
    theirs = slack.state.post(support, alice, "mine").ts
    error = await _error(client.chat_update(channel=support.id, ts=theirs, text="hacked"))
    stored = support.messages[posted["ts"]]
    assert ("Ticket closed", "Ticket closed", slack.bot_user.id) == (
        updated["text"],
        stored.text,
        (stored.edited or {}).get("user"),
    )
    assert "cant_update_message" == error


async def test_delete_removes_the_bots_message(client: AsyncWebClient, support: Channel) -> None:
    """chat.delete removes the message; a second delete is `message_not_found`."""
    posted = await client.chat_postMessage(channel=support.id, text="oops")
    deleted = await client.chat_delete(channel=support.id, ts=posted["ts"])
    error = await _error(client.chat_delete(channel=support.id, ts=posted["ts"]))
    assert (posted["ts"], "message_not_found") == (deleted["ts"], error)
    assert posted["ts"] not in support.messages


async def test_permalinks_of_messages_and_replies(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """Top-level links are `/archives/C/pTS`; replies add `thread_ts` and `cid`."""
    parent = slack.state.post(support, alice, "top").ts
    reply = slack.state.post(support, alice, "reply", thread_ts=parent).ts
    top_link = await client.chat_getPermalink(channel=support.id, message_ts=parent)
    reply_link = await client.chat_getPermalink(channel=support.id, message_ts=reply)
    base = f"https://ticketbolt-sandbox.slack.com/archives/{support.id}"
    assert f"{base}/p{parent.replace('.', '')}" == top_link["permalink"]
    assert (
        f"{base}/p{reply.replace('.', '')}?thread_ts={parent}&cid={support.id}"
        == reply_link["permalink"]
    )


async def test_reactions_add_get_remove_and_their_errors(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """The bot's reactions are stored; repeating or removing a missing one are errors."""
    ts = slack.state.post(support, alice, "help").ts
    await client.reactions_add(channel=support.id, timestamp=ts, name="eyes")
    again = await _error(client.reactions_add(channel=support.id, timestamp=ts, name="eyes"))
    got = await client.reactions_get(channel=support.id, timestamp=ts)
    await client.reactions_remove(channel=support.id, timestamp=ts, name="eyes")
    gone = await _error(client.reactions_remove(channel=support.id, timestamp=ts, name="eyes"))
    assert [{"name": "eyes", "users": [slack.bot_user.id], "count": 1}] == got["message"][
        "reactions"
    ]
    assert ("already_reacted", "no_reaction", {}) == (again, gone, support.messages[ts].reactions)


async def test_reactions_on_a_missing_message_are_message_not_found(
    client: AsyncWebClient, support: Channel
) -> None:
    """Reacting to a ts that does not exist fails with `message_not_found`."""
    error = await _error(client.reactions_add(channel=support.id, timestamp="1.000001", name="x"))
    assert "message_not_found" == error


async def test_message_metadata_is_returned_only_when_asked_for(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """An app's message metadata comes back from conversations.replies with
    `include_all_metadata`, and is absent without it; a malformed one is refused."""
    parent = slack.state.post(support, alice, "help").ts
    metadata = {"event_type": "ticketbolt", "event_payload": {"marker": "ticket-7"}}
    await client.chat_postMessage(
        channel=support.id, text="Ticket #7", thread_ts=parent, metadata=metadata
    )
    plain = await client.conversations_replies(channel=support.id, ts=parent)
    full = await client.conversations_replies(
        channel=support.id, ts=parent, include_all_metadata=True
    )
    assert [None, None] == [m.get("metadata") for m in plain["messages"]]
    assert [None, metadata] == [m.get("metadata") for m in full["messages"]]
    bad = client.chat_postMessage(
        channel=support.id, text="x", metadata={"event_type": "ticketbolt"}
    )
    assert "invalid_metadata_format" == await _error(bad)
