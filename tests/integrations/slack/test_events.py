"""Slack's side of the Events API: what people do arrives at the app as signed envelopes."""

from __future__ import annotations

import json

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.integrations.slack.conftest import Receiver
from ticketbolt.integrations.slack.emulator import Channel, SlackEmulator, User


@pytest.fixture
def alice(slack: SlackEmulator) -> User:
    """A member of the workspace."""
    return slack.add_user("alice", real_name="Alice Agent")


@pytest.fixture
def support(slack: SlackEmulator, alice: User) -> Channel:
    """A public channel with alice and the bot."""
    return slack.add_channel("support", members=[alice])


async def test_user_post_is_stored_and_delivered_as_a_signed_message_envelope(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """The envelope verifies with the signing secret and carries Slack's fields."""
    ts = await slack.user_posts(alice, support, "my parcel is lost")
    [request] = receiver.received
    envelope = request.json()
    event = envelope["event"]
    assert request.verified is True
    assert ("event_callback", "T0TICKET", "A0TICKETBOLT") == (
        envelope["type"],
        envelope["team_id"],
        envelope["api_app_id"],
    )
    assert envelope["event_id"].startswith("Ev")
    assert isinstance(envelope["event_time"], int)
    assert [slack.bot_user.id] == [a["user_id"] for a in envelope["authorizations"]]
    assert ("message", alice.id, "my parcel is lost", ts, ts, support.id, "channel") == (
        event["type"],
        event["user"],
        event["text"],
        event["ts"],
        event["event_ts"],
        event["channel"],
        event["channel_type"],
    )
    assert "my parcel is lost" == support.messages[ts].text
    assert (200, 1) == (slack.deliveries[-1].status, len(slack.deliveries))


async def test_dm_message_has_channel_type_im_and_no_app_mention(
    slack: SlackEmulator, receiver: Receiver, alice: User
) -> None:
    """In a DM a mention of the bot is only a `message` with `channel_type: im`."""
    dm = slack.open_dm(alice)
    await slack.user_posts(alice, dm, f"<@{slack.bot_user.id}> hello")
    assert [("message", "im")] == [(e["type"], e["channel_type"]) for e in receiver.events()]


async def test_channel_mention_also_delivers_app_mention(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """Mentioning the bot in a channel delivers `message` and `app_mention`, distinct event ids."""
    ts = await slack.user_posts(alice, support, f"<@{slack.bot_user.id}> help please")
    envelopes = [r.json() for r in receiver.received]
    assert ["message", "app_mention"] == [e["event"]["type"] for e in envelopes]
    assert ts == envelopes[1]["event"]["ts"]
    assert envelopes[0]["event_id"] != envelopes[1]["event_id"]


async def test_thread_reply_and_files(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """A reply carries `thread_ts`/`parent_user_id`; an upload is a `file_share` with files."""
    parent = await slack.user_posts(alice, support, "order 42")
    await slack.user_posts(alice, support, "photo", thread_ts=parent, files=[{"name": "box.png"}])
    reply = receiver.events()[1]
    assert (parent, alice.id, "file_share", "box.png") == (
        reply["thread_ts"],
        reply["parent_user_id"],
        reply["subtype"],
        reply["files"][0]["name"],
    )


async def test_no_delivery_from_a_channel_without_the_bot(
    slack: SlackEmulator, receiver: Receiver, alice: User
) -> None:
    """Events are perspectival: a channel the bot is not in produces nothing for the app."""
    random = slack.add_channel("random", members=[alice], bot_member=False)
    ts = await slack.user_posts(alice, random, "chit-chat")
    assert ([], "chit-chat") == (receiver.received, random.messages[ts].text)


async def test_edit_and_delete_are_hidden_subtype_events(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """Edits nest the new and previous message; deletes name the deleted ts."""
    ts = await slack.user_posts(alice, support, "helo")
    await slack.user_edits(alice, support, ts, "hello")
    await slack.user_deletes(alice, support, ts)
    _, changed, deleted = receiver.events()
    assert ("message_changed", True, "hello", "helo", alice.id) == (
        changed["subtype"],
        changed["hidden"],
        changed["message"]["text"],
        changed["previous_message"]["text"],
        changed["message"]["edited"]["user"],
    )
    assert ("message_deleted", ts, "hello") == (
        deleted["subtype"],
        deleted["deleted_ts"],
        deleted["previous_message"]["text"],
    )
    assert ts not in support.messages


async def test_reactions_are_stored_and_delivered(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """reaction_added names reactor, item and item author; removing delivers reaction_removed."""
    agent = slack.add_user("agent")
    ts = await slack.user_posts(alice, support, "refund please")
    await slack.user_reacts(agent, support, ts, "ticket")
    stored = {name: list(users) for name, users in support.messages[ts].reactions.items()}
    await slack.user_unreacts(agent, support, ts, "ticket")
    _, added, removed = receiver.events()
    assert {"ticket": [agent.id]} == stored
    assert (agent.id, alice.id, "ticket", {"type": "message", "channel": support.id, "ts": ts}) == (
        added["user"],
        added["item_user"],
        added["reaction"],
        added["item"],
    )
    assert ("reaction_removed", {}) == (removed["type"], support.messages[ts].reactions)


async def test_repeated_reaction_delivers_nothing(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """The same person adding the same emoji twice changes nothing and sends nothing."""
    ts = await slack.user_posts(alice, support, "hi")
    first = await slack.user_reacts(alice, support, ts, "eyes")
    second = await slack.user_reacts(alice, support, ts, "eyes")
    assert (200, None, 2) == (first.status if first else None, second, len(receiver.received))


async def test_bot_posts_and_reactions_come_back_as_events(
    slack: SlackEmulator, receiver: Receiver, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """Like Slack, the app hears its own messages (with `bot_id`) and reactions."""
    ts = await slack.user_posts(alice, support, "hi")
    posted = await client.chat_postMessage(channel=support.id, text="on it", thread_ts=ts)
    await client.reactions_add(channel=support.id, timestamp=ts, name="eyes")
    await slack.wait_until(lambda: len(receiver.received) == 3)
    _, own_message, own_reaction = receiver.events()
    assert (posted["ts"], slack.bot_user.bot_id, slack.bot_user.id) == (
        own_message["ts"],
        own_message["bot_id"],
        own_message["user"],
    )
    assert ("reaction_added", slack.bot_user.id) == (own_reaction["type"], own_reaction["user"])


async def test_bot_events_can_be_switched_off(
    slack: SlackEmulator, receiver: Receiver, client: AsyncWebClient, support: Channel
) -> None:
    """With `deliver_bot_events = False` the bot's own actions produce no deliveries."""
    slack.deliver_bot_events = False
    await client.chat_postMessage(channel=support.id, text="quiet")
    await slack.drain()
    assert [] == receiver.received


async def test_deliver_sends_retry_headers(
    slack: SlackEmulator, receiver: Receiver, support: Channel
) -> None:
    """A redelivery carries X-Slack-Retry-Num/Reason and the same event id."""
    envelope = slack.make_event_envelope(
        {"type": "app_home_opened", "user": "U1", "channel": support.id}, event_id="Ev123"
    )
    await slack.deliver(envelope)
    await slack.deliver(envelope, retry_num=1, retry_reason="http_timeout")
    first, retry = receiver.received
    assert (None, ("1", "http_timeout")) == (
        first.headers.get("x-slack-retry-num"),
        (retry.headers["x-slack-retry-num"], retry.headers["x-slack-retry-reason"]),
    )
    assert ["Ev123", "Ev123"] == [r.json()["event_id"] for r in receiver.received]


@pytest.mark.parametrize("signature", ["wrong_secret", "stale", "missing"])
async def test_bad_signatures_do_not_verify(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel, signature: str
) -> None:
    """Signed with another secret, ten minutes old, or unsigned: the verifier rejects it."""
    await slack.user_posts(alice, support, "hi", signature=signature)  # type: ignore[arg-type]
    assert ([False], 401) == ([r.verified for r in receiver.received], slack.deliveries[-1].status)


async def test_app_answer_is_returned(
    slack: SlackEmulator, receiver: Receiver, support: Channel
) -> None:
    """The app's HTTP status and body come back from `deliver`."""
    receiver.status, receiver.reply = 500, json.dumps({"error": "boom"})
    delivery = await slack.deliver(slack.make_event_envelope({"type": "x"}, channel=support))
    assert (500, {"error": "boom"}) == (delivery.status, delivery.json())
