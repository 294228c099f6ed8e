"""users.*, scopes and views.* through the real slack_sdk client."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ticketbolt.integrations.slack.emulator import SlackEmulator

MODAL = {
    "type": "modal",
    "callback_id": "ticket_modal",
    "title": {"type": "plain_text", "text": "New ticket"},
    "blocks": [],
}


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call  # type: ignore[misc]
    return str(raised.value.response["error"])


async def test_users_info_shows_profile_and_email(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """With `users:read.email` (the default) the profile carries the e-mail."""
    bob = slack.add_user("bob", real_name="Bob Buyer", display_name="Bob", email="bob@shop.io")
    user = (await client.users_info(user=bob.id))["user"]
    assert ("Bob Buyer", "Bob", "bob@shop.io", "T0TICKET", False) == (
        user["real_name"],
        user["profile"]["display_name"],
        user["profile"]["email"],
        user["team_id"],
        user["is_bot"],
    )


async def test_users_info_hides_email_without_the_email_scope(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """Without `users:read.email` the profile has no e-mail and lookupByEmail is missing_scope."""
    bob = slack.add_user("bob", email="bob@shop.io")
    slack.scopes.discard("users:read.email")
    user = (await client.users_info(user=bob.id))["user"]
    with pytest.raises(SlackApiError) as raised:
        await client.users_lookupByEmail(email="bob@shop.io")
    assert "email" not in user["profile"]
    assert ("missing_scope", "users:read.email") == (
        raised.value.response["error"],
        raised.value.response["needed"],
    )


async def test_external_user_keeps_their_own_team(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """A Slack Connect user reports another team and is not found by e-mail lookup."""
    carol = slack.add_user("carol", email="carol@partner.io", team_id="T0PARTNER")
    user = (await client.users_info(user=carol.id))["user"]
    error = await _error(client.users_lookupByEmail(email="carol@partner.io"))
    assert ("T0PARTNER", "users_not_found") == (user["team_id"], error)


async def test_lookup_by_email_ignores_case(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """E-mail lookup finds the member whatever the case of the address."""
    bob = slack.add_user("bob", email="Bob@Shop.io")
    assert bob.id == (await client.users_lookupByEmail(email="bob@shop.IO"))["user"]["id"]


async def test_users_info_unknown_user(client: AsyncWebClient) -> None:
    """An unknown user id is `user_not_found`."""
    assert "user_not_found" == await _error(client.users_info(user="U404"))


async def test_bot_user_profile_names_the_app(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """The bot user is a bot, with its bot id and app id in the profile."""
    user = (await client.users_info(user=slack.bot_user.id))["user"]
    assert (True, slack.bot_user.bot_id, "A0TICKETBOLT") == (
        user["is_bot"],
        user["profile"]["bot_id"],
        user["profile"]["api_app_id"],
    )


async def test_views_open_needs_a_fresh_trigger(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """A trigger opens one modal; reusing it, an unknown one or an expired one fail."""
    bob = slack.add_user("bob")
    trigger = slack.triggers.issue(bob.id)
    opened = await client.views_open(trigger_id=trigger, view=MODAL)
    reused = await _error(client.views_open(trigger_id=trigger, view=MODAL))
    unknown = await _error(client.views_open(trigger_id="1.2.nope", view=MODAL))
    stale = slack.triggers.issue(bob.id)
    slack.triggers.expire_all()
    expired = await _error(client.views_open(trigger_id=stale, view=MODAL))
    assert ("ticket_modal", opened["view"]["id"]) == (
        opened["view"]["callback_id"],
        opened["view"]["root_view_id"],
    )
    assert ("exchanged_trigger_id", "invalid_trigger_id", "expired_trigger_id") == (
        reused,
        unknown,
        expired,
    )
    assert opened["view"] == slack.views.views[opened["view"]["id"]]


async def test_views_update_checks_the_hash_and_push_stacks(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """views.update replaces content (stale hash: `hash_conflict`); views.push stacks a view."""
    bob = slack.add_user("bob")
    opened = (await client.views_open(trigger_id=slack.triggers.issue(bob.id), view=MODAL))["view"]
    changed = MODAL | {"title": {"type": "plain_text", "text": "Edited"}}
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)
    conflict = await _error(client.views_update(view_id=opened["id"], hash="0.stale", view=MODAL))
    missing = await _error(client.views_update(view_id="V404", view=MODAL))
    pushed = await client.views_push(trigger_id=slack.triggers.issue(bob.id), view=MODAL)
    assert ("Edited", opened["id"]) == (
        updated["view"]["title"]["text"],
        updated["view"]["id"],
    )
    assert ("hash_conflict", "not_found") == (conflict, missing)
    assert (opened["id"], opened["id"]) == (
        pushed["view"]["previous_view_id"],
        pushed["view"]["root_view_id"],
    )
