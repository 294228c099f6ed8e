"""Slash commands, response_url, message shortcuts and modal submissions as Slack sends them."""

from __future__ import annotations

import json

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

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


async def test_slash_command_is_a_signed_form_with_response_url_and_trigger(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """The command form has Slack's fields; the app's ack body comes back in the delivery."""
    receiver.reply = "Checking…"
    delivery = await slack.slash_command(alice, support, "/ticketbolt", "status")
    [request] = receiver.received
    form = request.json()
    assert (True, "application/x-www-form-urlencoded") == (
        request.verified,
        request.headers["content-type"],
    )
    assert ("/ticketbolt", "status", alice.id, support.id, "support", "T0TICKET") == (
        form["command"],
        form["text"],
        form["user_id"],
        form["channel_id"],
        form["channel_name"],
        form["team_id"],
    )
    assert form["response_url"].startswith(f"{slack.base_url}hooks/")
    assert len(form["trigger_id"].split(".")) == 3
    assert (200, "Checking…") == (delivery.status, delivery.body)


async def test_response_url_records_ephemeral_and_in_channel_answers(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """An ephemeral answer is shown to the user only; `in_channel` becomes a bot message."""
    await slack.slash_command(alice, support, text="status")
    webhook = AsyncWebhookClient(receiver.received[0].json()["response_url"])
    private = await webhook.send(text="All systems go")
    public = await webhook.send(text="Ticket #7 opened", response_type="in_channel")
    assert (200, "ok", 200) == (private.status_code, private.body, public.status_code)
    assert [(alice.id, "All systems go")] == [(e["user"], e["text"]) for e in slack.ephemerals]
    assert ["Ticket #7 opened"] == [m.text for m in support.messages.values()]
    assert ["All systems go", "Ticket #7 opened"] == [p.body["text"] for p in slack.hook_posts]


async def test_response_url_accepts_five_posts(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """Slack takes at most five posts per response_url."""
    await slack.slash_command(alice, support)
    webhook = AsyncWebhookClient(receiver.received[0].json()["response_url"])
    statuses = [(await webhook.send(text=str(n))).status_code for n in range(6)]
    assert [200] * 5 + [404] == statuses


async def test_message_shortcut_payload(
    slack: SlackEmulator, receiver: Receiver, alice: User, support: Channel
) -> None:
    """A message shortcut posts `payload=` with the message, callback id and a trigger."""
    ts = await slack.user_posts(alice, support, "my order is late")
    await slack.message_shortcut(alice, support, ts, "create_ticket")
    payload = receiver.received[-1].json()
    assert ("message_action", "create_ticket", ts, "my order is late", alice.id, support.id) == (
        payload["type"],
        payload["callback_id"],
        payload["message_ts"],
        payload["message"]["text"],
        payload["user"]["id"],
        payload["channel"]["id"],
    )
    assert receiver.received[-1].verified is True


async def test_modal_opened_from_a_command_trigger_then_submitted(
    slack: SlackEmulator, receiver: Receiver, client: AsyncWebClient, alice: User, support: Channel
) -> None:
    """The command's trigger opens a modal; a submission carries the values and closes it."""
    await slack.slash_command(alice, support, text="new")
    trigger_id = receiver.received[0].json()["trigger_id"]
    view = {
        "type": "modal",
        "callback_id": "new_ticket",
        "title": {"type": "plain_text", "text": "New ticket"},
        "blocks": [],
    }
    opened = (await client.views_open(trigger_id=trigger_id, view=view))["view"]
    await slack.view_submission(alice, opened["id"], {"subject": {"input": "Lost parcel"}})
    payload = receiver.received[-1].json()
    assert ("view_submission", "new_ticket", alice.id) == (
        payload["type"],
        payload["view"]["callback_id"],
        payload["user"]["id"],
    )
    assert {"type": "plain_text_input", "value": "Lost parcel"} == (
        payload["view"]["state"]["values"]["subject"]["input"]
    )
    assert opened["id"] not in slack.views.views


async def test_modal_stays_open_on_errors_and_changes_on_update(
    slack: SlackEmulator, receiver: Receiver, client: AsyncWebClient, alice: User
) -> None:
    """`response_action: errors` keeps the view; `update` replaces its content."""
    trigger = slack.triggers.issue(alice.id)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "A"}, "blocks": []}
    opened = (await client.views_open(trigger_id=trigger, view=view))["view"]
    receiver.reply = json.dumps({"response_action": "errors", "errors": {"subject": "Required"}})
    await slack.view_submission(alice, opened["id"], {})
    still_open = opened["id"] in slack.views.views
    replacement = view | {"title": {"type": "plain_text", "text": "B"}}
    receiver.reply = json.dumps({"response_action": "update", "view": replacement})
    await slack.view_submission(alice, opened["id"], {})
    assert (True, "B") == (still_open, slack.views.views[opened["id"]]["title"]["text"])
