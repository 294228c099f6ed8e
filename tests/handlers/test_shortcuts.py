"""The "Create ticket" message shortcut over real HTTP: modal opened, submitted, one ticket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.db import Database
from tests.support.stack import Stack, emulators, eventually, running_app
from ticketbolt.handlers import blocks_status
from ticketbolt.integrations.slack.emulator import SlackEmulator
from ticketbolt.integrations.slack.emulator.state import Channel, User


@pytest.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    async with emulators() as (slack, gorgias), running_app(database, slack, gorgias) as running:
        yield running


def workspace(slack: SlackEmulator) -> tuple[User, User, Channel]:
    customer = slack.state.add_user("dana", real_name="Dana Customer", email="dana@shop.example")
    agent = slack.state.add_user("alex", real_name="Alex Agent", email="alex@ourteam.example")
    channel = slack.state.add_channel("support", members=[customer.id, agent.id])
    return customer, agent, channel


async def open_form(slack: SlackEmulator, user: User, channel: Channel, ts: str) -> dict[str, Any]:
    """Pick the shortcut on a message; the view the bot opened for that person in answer."""
    before = set(slack.views.views)

    def opened() -> list[dict[str, Any]]:
        return [
            view
            for view_id, view in slack.views.views.items()
            if view_id not in before and slack.views.owners[view_id] == user.id
        ]

    delivery = await slack.message_shortcut(user, channel, ts, "create_ticket")
    assert 200 == delivery.status
    await eventually(opened, what="views.open")
    [view] = opened()
    return view


def values(subject: str, tags: str = "", priority: str = "normal") -> dict[str, dict[str, Any]]:
    return {
        "subject": {"subject": subject},
        "body": {"body": "The box arrived crushed."},
        "priority": {"priority": {"type": "static_select", "selected_option": {"value": priority}}},
        "tags": {"tags": tags},
    }


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    element: dict[str, Any] = next(b for b in view["blocks"] if b.get("block_id") == block_id)[
        "element"
    ]
    return element


async def drained(stack: Stack) -> None:
    async def idle() -> bool:
        states = (await stack.runtime.queue.stats())["by_state"]
        return states["queued"] == 0 and states["running"] == 0

    await eventually(idle, timeout=60, what="the job queue to drain")


async def test_shortcut_opens_a_form_prefilled_from_the_message(stack: Stack) -> None:
    """The modal carries the message's first line as subject, its text as body, a priority
    select and a tags input; its private metadata names the message."""
    customer, agent, channel = workspace(stack.slack)
    ts = await stack.slack.user_posts(customer, channel, "Parcel damaged\nThe box was crushed.")
    view = await open_form(stack.slack, agent, channel, ts)
    assert "create_ticket_form" == view["callback_id"]
    assert "Parcel damaged" == element(view, "subject")["initial_value"]
    assert "Parcel damaged\nThe box was crushed." == element(view, "body")["initial_value"]
    assert ["low", "normal", "high", "critical"] == [
        o["value"] for o in element(view, "priority")["options"]
    ]
    assert "plain_text_input" == element(view, "tags")["type"]
    metadata = json.loads(view["private_metadata"])
    assert {"team": stack.slack.state.team_id, "channel": channel.id, "ts": ts} == metadata


async def test_submission_creates_one_ticket_with_the_subject_and_tags(stack: Stack) -> None:
    """Submitting the form records the same create job as 🎫: one ticket with the chosen
    subject, tags and priority, a thread reply, and a modal saying it is on its way."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "Parcel damaged")
    view = await open_form(slack, agent, channel, ts)
    answer = await slack.view_submission(
        agent, view["id"], values("Crushed box", "damage, #vip", priority="high")
    )
    assert 200 == answer.status
    assert "update" == answer.json()["response_action"]
    assert blocks_status.REQUESTED in json.dumps(answer.json()["view"], ensure_ascii=False)
    await drained(stack)
    [ticket] = gorgias.tickets.values()
    assert "Crushed box" == ticket["subject"]
    assert {"slack", "support", "damage", "vip"} == {t["name"] for t in ticket["tags"]}
    assert "high" == ticket["priority"]
    replies = [m for m in channel.messages.values() if m.thread_ts == ts and m.ts != ts]
    assert 1 == len(replies)


async def test_submitting_twice_then_reacting_creates_no_second_ticket(stack: Stack) -> None:
    """Two forms for one message submitted, then a 🎫 on it: still exactly one ticket, and the
    later submission is told the ticket exists."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    other = slack.state.add_user("sam", real_name="Sam Agent")
    channel.members.append(other.id)
    ts = await slack.user_posts(customer, channel, "Refund please")
    first = await open_form(slack, agent, channel, ts)
    second = await open_form(slack, other, channel, ts)
    assert 200 == (await slack.view_submission(agent, first["id"], values("Refund"))).status
    again = await slack.view_submission(other, second["id"], values("Refund again"))
    assert 200 == again.status
    shown = json.dumps(again.json()["view"], ensure_ascii=False)
    assert "already" in shown
    await slack.user_reacts(agent, channel, ts, "ticket")
    await drained(stack)
    [ticket] = gorgias.tickets.values()
    assert "Refund" == ticket["subject"]


async def test_shortcut_on_a_ticketed_message_names_its_ticket(stack: Stack) -> None:
    """On a message that already has a ticket the shortcut shows that ticket, not a form."""
    slack, gorgias = stack.slack, stack.gorgias
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "Wrong size")
    await slack.user_reacts(agent, channel, ts, "ticket")
    await drained(stack)
    [ticket_id] = gorgias.tickets
    view = await open_form(slack, agent, channel, ts)
    assert view["submit"] is None
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert f"/app/ticket/{ticket_id}|ticket #{ticket_id}>" in shown


@pytest.mark.parametrize(
    ("subject", "tags", "field"),
    [
        ("   ", "", "subject"),
        ("x" * 999, "", "subject"),
        ("Late parcel", "ok, " + "t" * 257, "tags"),
    ],
    ids=["blank-subject", "subject-too-long", "tag-too-long"],
)
async def test_invalid_form_shows_field_errors_and_records_nothing(
    stack: Stack, subject: str, tags: str, field: str
) -> None:
    """A blank or too long subject, or an overlong tag: the modal stays open with the field's
    error, and no job is recorded."""
    slack = stack.slack
    customer, agent, channel = workspace(slack)
    ts = await slack.user_posts(customer, channel, "Late parcel")
    view = await open_form(slack, agent, channel, ts)
    answer = await slack.view_submission(agent, view["id"], values(subject, tags))
    assert 200 == answer.status
    assert "errors" == answer.json()["response_action"]
    assert [field] == list(answer.json()["errors"])
    assert view["id"] in slack.views.views
    assert 0 == sum((await stack.runtime.queue.stats())["by_state"].values())


async def test_external_user_gets_no_form(stack: Stack) -> None:
    """A Slack Connect user from another workspace is told why instead of getting the form."""
    slack = stack.slack
    customer, _, channel = workspace(slack)
    outsider = slack.state.add_user("guest", team_id="TOTHER")
    channel.members.append(outsider.id)
    ts = await slack.user_posts(customer, channel, "Help")
    view = await open_form(slack, outsider, channel, ts)
    assert view["submit"] is None
    assert blocks_status.refused()[0] in json.dumps(view["blocks"], ensure_ascii=False)
