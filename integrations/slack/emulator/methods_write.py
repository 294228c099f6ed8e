"""Web API methods of the emulator that change state: chat, reactions and views."""

from __future__ import annotations

from typing import Any

from ticketbolt.integrations.slack.emulator.events import (
    message_changed_event,
    message_deleted_event,
    message_event,
    reaction_event,
)
from ticketbolt.integrations.slack.emulator.registry import ApiContext, ApiError, Params, api_method
from ticketbolt.integrations.slack.emulator.render import message_json
from ticketbolt.integrations.slack.emulator.state import JSON, Channel

MAX_VIEW_STACK = 3


def _content(params: Params) -> tuple[str, list[Any] | None]:
    """Text and blocks of a message; Slack wants at least one of them (or attachments)."""
    text = params.text("text") or ""
    blocks = params.structured("blocks", "invalid_blocks_format")
    if blocks is not None and not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    if not text and not blocks and not params.text("attachments"):
        raise ApiError("no_text")
    return text, blocks


def _may_post(ctx: ApiContext, channel: Channel) -> None:
    if ctx.ws.bot.id in channel.members:
        return
    # `chat:write.public` lets a bot post in public channels it has not joined.
    if channel.is_private or channel.is_im or "chat:write.public" not in ctx.scopes:
        raise ApiError("channel_not_found" if channel.is_private else "not_in_channel")


@api_method("chat.postMessage", "chat:write")
def chat_post_message(ctx: ApiContext, params: Params) -> JSON:
    """Post as the bot (a user id as `channel` means the DM); the message joins the state."""
    channel = ctx.channel(params, user_means_dm=True)
    text, blocks = _content(params)
    metadata = params.structured("metadata", "invalid_metadata_format")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    _may_post(ctx, channel)
    message = ctx.ws.post(
        channel,
        ctx.ws.bot,
        text,
        blocks=blocks,
        thread_ts=params.text("thread_ts"),
        reply_broadcast=params.flag("reply_broadcast"),
        metadata=metadata,
    )
    ctx.emit(channel, message_event(ctx.ws, channel, message))
    return {
        "channel": channel.id,
        "ts": message.ts,
        "message": message_json(ctx.ws, channel, message),
    }


@api_method("chat.postEphemeral", "chat:write")
def chat_post_ephemeral(ctx: ApiContext, params: Params) -> JSON:
    """Show a message to one member of the channel; it is recorded, never stored in history."""
    channel = ctx.channel(params)
    user = params.required("user")
    text, blocks = _content(params)
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    message_ts = ctx.ws.clock.next()
    ctx.ephemerals.append(
        {
            "channel": channel.id,
            "user": user,
            "text": text,
            "blocks": blocks,
            "thread_ts": params.text("thread_ts"),
            "message_ts": message_ts,
            "source": "chat.postEphemeral",
        }
    )
    return {"message_ts": message_ts}


@api_method("chat.update", "chat:write")
def chat_update(ctx: ApiContext, params: Params) -> JSON:
    """Edit a message the bot posted; anyone else's is `cant_update_message`."""
    channel = ctx.channel(params)
    message = ctx.message(channel, params.text("ts"))
    if message.user != ctx.ws.bot.id:
        raise ApiError("cant_update_message")
    text, blocks = _content(params)
    previous = message_json(ctx.ws, channel, message)
    ctx.ws.edit(message, text, ctx.ws.bot.id, blocks)
    ctx.emit(channel, message_changed_event(ctx.ws, channel, message, previous))
    rendered = message_json(ctx.ws, channel, message)
    return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": rendered}


@api_method("chat.delete", "chat:write")
def chat_delete(ctx: ApiContext, params: Params) -> JSON:
    """Delete a message the bot posted; anyone else's is `cant_delete_message`."""
    channel = ctx.channel(params)
    message = ctx.message(channel, params.text("ts"))
    if message.user != ctx.ws.bot.id:
        raise ApiError("cant_delete_message")
    previous = message_json(ctx.ws, channel, message)
    ctx.ws.delete(channel, message)
    ctx.emit(channel, message_deleted_event(ctx.ws, channel, previous))
    return {"channel": channel.id, "ts": previous["ts"]}


def _reaction_target(ctx: ApiContext, params: Params) -> tuple[Channel, str, str]:
    if not params.text("channel") or not params.text("timestamp"):
        raise ApiError("no_item_specified")
    name = params.text("name")
    if not name:
        raise ApiError("invalid_name")
    channel = ctx.channel(params)
    return channel, params.text("timestamp") or "", name


@api_method("reactions.add", "reactions:write")
def reactions_add(ctx: ApiContext, params: Params) -> JSON:
    """The bot reacts to a message; a second identical reaction is `already_reacted`."""
    channel, ts, name = _reaction_target(ctx, params)
    message = ctx.message(channel, ts)
    if not ctx.ws.react(message, ctx.ws.bot.id, name):
        raise ApiError("already_reacted")
    event = reaction_event(
        ctx.ws, channel, message, kind="reaction_added", user=ctx.ws.bot.id, name=name
    )
    ctx.emit(channel, event)
    return {}


@api_method("reactions.remove", "reactions:write")
def reactions_remove(ctx: ApiContext, params: Params) -> JSON:
    """The bot removes its reaction; one it never added is `no_reaction`."""
    channel, ts, name = _reaction_target(ctx, params)
    message = ctx.message(channel, ts)
    if not ctx.ws.unreact(message, ctx.ws.bot.id, name):
        raise ApiError("no_reaction")
    event = reaction_event(
        ctx.ws, channel, message, kind="reaction_removed", user=ctx.ws.bot.id, name=name
    )
    ctx.emit(channel, event)
    return {}


def _view_argument(params: Params) -> JSON:
    view = params.structured("view", "invalid_arguments")
    if not isinstance(view, dict):
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: view"]},
        )
    return view


def _open_view(ctx: ApiContext, params: Params, *, push: bool) -> JSON:
    view = _view_argument(params)
    trigger_id = params.text("trigger_id") or params.text("interactivity_pointer") or ""
    trigger, error = ctx.triggers.exchange(trigger_id)
    if trigger is None:
        raise ApiError(error or "invalid_trigger_id")
    external_id = view.get("external_id")
    if external_id and ctx.views.find(None, external_id) is not None:
        raise ApiError("duplicate_external_id")
    if push and len(ctx.views.stacks.get(trigger.user, [])) >= MAX_VIEW_STACK:
        raise ApiError("push_limit_reached")
    return {"view": ctx.views.open(trigger.user, view, push=push)}


@api_method("views.open")
def views_open(ctx: ApiContext, params: Params) -> JSON:
    """Open a modal for the user behind a fresh, unused `trigger_id`."""
    return _open_view(ctx, params, push=False)


@api_method("views.push")
def views_push(ctx: ApiContext, params: Params) -> JSON:
    """Push a view on top of the user's open modal (at most three deep)."""
    return _open_view(ctx, params, push=True)


@api_method("views.update")
def views_update(ctx: ApiContext, params: Params) -> JSON:
    """Replace a view by `view_id` or `external_id`; a stale `hash` is `hash_conflict`."""
    view = _view_argument(params)
    current = ctx.views.find(params.text("view_id"), params.text("external_id"))
    if current is None:
        raise ApiError("not_found")
    expected = params.text("hash")
    if expected is not None and expected != current["hash"]:
        raise ApiError("hash_conflict")
    return {"view": ctx.views.replace(current, view)}
