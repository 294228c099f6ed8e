"""conversations.* and auth.test through the real slack_sdk client."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.integrations.slack.emulator import Channel, SlackEmulator, User


@pytest.fixture
def alice(slack: SlackEmulator) -> User:
    """A member of the workspace."""
    return slack.add_user("alice", real_name="Alice Agent", email="alice@example.com")


@pytest.fixture
def support(slack: SlackEmulator, alice: User) -> Channel:
    """A public channel with alice and the bot."""
    return slack.add_channel("support", members=[alice])


def _thread(slack: SlackEmulator, channel: Channel, author: User, replies: int) -> list[str]:
    parent = slack.state.post(channel, author, "parent")
    tss = [parent.ts]
    for n in range(replies):
        tss.append(slack.state.post(channel, author, f"reply {n}", thread_ts=parent.ts).ts)
    return tss


async def test_auth_test_names_the_bot_user(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """auth.test answers with the bot's user id, bot id and the team."""
    response = await client.auth_test()
    assert (slack.bot_user.id, slack.bot_user.bot_id, "T0TICKET") == (
        response["user_id"],
        response["bot_id"],
        response["team_id"],
    )


async def test_replies_of_a_parent_give_the_whole_thread(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """The parent's ts returns the parent first, then every reply, oldest first."""
    tss = _thread(slack, support, alice, replies=2)
    response = await client.conversations_replies(channel=support.id, ts=tss[0])
    assert tss == [m["ts"] for m in response["messages"]]
    parent = response["messages"][0]
    assert (2, tss[-1], tss[0]) == (
        parent["reply_count"],
        parent["latest_reply"],
        parent["thread_ts"],
    )
    assert [alice.id, alice.id] == [m["parent_user_id"] for m in response["messages"][1:]]
    assert response["has_more"] is False


async def test_replies_of_a_reply_give_only_that_reply(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """Slack answers a reply's ts with just that reply (bolt-python#783)."""
    tss = _thread(slack, support, alice, replies=2)
    response = await client.conversations_replies(channel=support.id, ts=tss[1])
    assert [tss[1]] == [m["ts"] for m in response["messages"]]


async def test_replies_limit_one_inclusive_fetches_just_the_message(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """The usual 'fetch the reacted message' call returns the message and says there is more."""
    tss = _thread(slack, support, alice, replies=1)
    response = await client.conversations_replies(
        channel=support.id, ts=tss[0], limit=1, inclusive=True
    )
    assert ([tss[0]], True) == ([m["ts"] for m in response["messages"]], response["has_more"])


async def test_replies_paginate_with_cursor(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """Following `next_cursor` walks the whole thread once, without repeats."""
    tss = _thread(slack, support, alice, replies=4)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        response = await client.conversations_replies(
            channel=support.id, ts=tss[0], limit=2, cursor=cursor
        )
        pages += 1
        seen += [m["ts"] for m in response["messages"]]
        metadata: dict[str, str] = response.get("response_metadata") or {}
        cursor = metadata.get("next_cursor")
        if not cursor:
            break
    assert (tss, 3) == (seen, pages)


async def test_replies_window_filters_replies(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """`oldest` without `inclusive` keeps the parent and the replies strictly after it."""
    tss = _thread(slack, support, alice, replies=3)
    response = await client.conversations_replies(channel=support.id, ts=tss[0], oldest=tss[1])
    assert [tss[0], tss[2], tss[3]] == [m["ts"] for m in response["messages"]]


@pytest.mark.parametrize(
    ("channel_ref", "ts", "error"),
    [
        ("support", "1.000000", "thread_not_found"),
        ("C404", "1.000000", "channel_not_found"),
    ],
)
async def test_replies_errors(
    client: AsyncWebClient, support: Channel, channel_ref: str, ts: str, error: str
) -> None:
    """An unknown ts is `thread_not_found`; an unknown channel is `channel_not_found`."""
    channel = support.id if channel_ref == "support" else channel_ref
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_replies(channel=channel, ts=ts)
    assert error == raised.value.response["error"]


async def test_history_is_newest_first_top_level_only_and_paginates(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """History lists top-level messages newest first; replies stay in their thread."""
    first = _thread(slack, support, alice, replies=2)[0]
    second = slack.state.post(support, alice, "second").ts
    third = slack.state.post(support, alice, "third").ts
    page1 = await client.conversations_history(channel=support.id, limit=2)
    page2 = await client.conversations_history(
        channel=support.id, limit=2, cursor=page1["response_metadata"]["next_cursor"]
    )
    assert [third, second] == [m["ts"] for m in page1["messages"]]
    assert ([first], False) == ([m["ts"] for m in page2["messages"]], page2["has_more"])


async def test_history_single_message_with_latest_oldest_inclusive(
    slack: SlackEmulator, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """`latest=oldest=ts, inclusive` selects exactly that message; without inclusive, none."""
    slack.state.post(support, alice, "before")
    target = slack.state.post(support, alice, "target").ts
    slack.state.post(support, alice, "after")
    inclusive = await client.conversations_history(
        channel=support.id, latest=target, oldest=target, inclusive=True, limit=1
    )
    exclusive = await client.conversations_history(channel=support.id, latest=target, oldest=target)
    assert ["target"] == [m["text"] for m in inclusive["messages"]]
    assert [] == exclusive["messages"]


async def test_history_of_a_channel_without_the_bot_is_not_in_channel(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """The bot cannot read a public channel it has not joined."""
    elsewhere = slack.add_channel("random", bot_member=False)
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_history(channel=elsewhere.id)
    assert "not_in_channel" == raised.value.response["error"]


async def test_info_describes_shared_and_dm_conversations(
    slack: SlackEmulator, client: AsyncWebClient, alice: User
) -> None:
    """conversations.info shows `is_ext_shared` for Slack Connect and `is_im`/`user` for DMs."""
    shared = slack.add_channel("ext-acme", members=[alice], is_ext_shared=True)
    dm = slack.open_dm(alice)
    shared_info = (await client.conversations_info(channel=shared.id))["channel"]
    dm_info = (await client.conversations_info(channel=dm.id))["channel"]
    assert ("ext-acme", True, True) == (
        shared_info["name"],
        shared_info["is_ext_shared"],
        shared_info["is_member"],
    )
    assert (True, alice.id) == (dm_info["is_im"], dm_info["user"])


async def test_open_returns_the_same_dm_each_time(
    slack: SlackEmulator, client: AsyncWebClient, alice: User
) -> None:
    """conversations.open creates the DM once, then reports it as already open."""
    first = await client.conversations_open(users=alice.id)
    second = await client.conversations_open(users=[alice.id])
    assert first["channel"]["id"] == second["channel"]["id"]
    assert (None, True) == (first.get("already_open"), second["already_open"])
    assert slack.open_dm(alice).id == first["channel"]["id"]


async def test_open_unknown_user_is_user_not_found(client: AsyncWebClient) -> None:
    """Opening a DM with a user who does not exist fails with `user_not_found`."""
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_open(users="U404")
    assert "user_not_found" == raised.value.response["error"]


async def test_members_paginate(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """conversations.members pages through every member once."""
    users = [slack.add_user(f"user{n}") for n in range(5)]
    channel = slack.add_channel("big", members=users)
    seen: list[str] = []
    cursor = ""
    while True:
        response = await client.conversations_members(channel=channel.id, limit=2, cursor=cursor)
        seen += response["members"]
        cursor = response["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [u.id for u in users] + [slack.bot_user.id] == seen
