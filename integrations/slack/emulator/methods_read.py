"""Read-only Web API methods of the emulator: auth, conversations, users, permalinks, reactions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from ticketbolt.integrations.slack.emulator.registry import ApiContext, ApiError, Params, api_method
from ticketbolt.integrations.slack.emulator.render import channel_json, message_json, user_json
from ticketbolt.integrations.slack.emulator.state import JSON, Channel, Message, ts_key

_CURSOR_PREFIX = "next_ts:"


def ensure_member(ctx: ApiContext, channel: Channel) -> None:
    """The bot reads only conversations it is in; private ones it is not in do not exist for it."""
    if ctx.ws.bot.id in channel.members:
        return
    raise ApiError("channel_not_found" if channel.is_private or channel.is_im else "not_in_channel")


def _bound(params: Params, name: str) -> tuple[int, int] | None:
    value = params.text(name)
    if value is None:
        return None
    try:
        return ts_key(value)
    except ValueError:
        raise ApiError(f"invalid_ts_{name}") from None


def _window(messages: Sequence[Message], params: Params) -> list[Message]:
    """Messages inside `oldest`..`latest`; the bounds themselves only with `inclusive`."""
    oldest, latest = _bound(params, "oldest"), _bound(params, "latest")
    inclusive = params.flag("inclusive")

    def inside(message: Message) -> bool:
        key = ts_key(message.ts)
        if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
            return False
        return not (latest is not None and (key > latest or (key == latest and not inclusive)))

    return [m for m in messages if inside(m)]


def paginate(
    items: Sequence[Message], params: Params, *, default_limit: int, max_limit: int
) -> tuple[list[Message], str]:
    """One page of `items` and the `next_cursor` for the rest ("" on the last page)."""
    limit = params.number("limit", default_limit)
    limit = default_limit if limit <= 0 else min(limit, max_limit)
    start = 0
    cursor = params.text("cursor")
    if cursor is not None:
        try:
            decoded = base64.b64decode(cursor.encode(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError("invalid_cursor") from None
        start = next(
            (i for i, m in enumerate(items) if _CURSOR_PREFIX + m.ts == decoded),
            -1,
        )
        if start < 0:
            raise ApiError("invalid_cursor")
    page = list(items[start : start + limit])
    rest = items[start + limit :]
    next_cursor = (
        base64.b64encode(f"{_CURSOR_PREFIX}{rest[0].ts}".encode()).decode() if rest else ""
    )
    return page, next_cursor


def _listing(
    ctx: ApiContext, channel: Channel, page: list[Message], next_cursor: str, params: Params
) -> JSON:
    meta = params.flag("include_all_metadata")
    out: JSON = {
        "messages": [message_json(ctx.ws, channel, m, with_metadata=meta) for m in page],
        "has_more": bool(next_cursor),
    }
    if next_cursor:
        out["response_metadata"] = {"next_cursor": next_cursor}
    return out


@api_method("auth.test")
def auth_test(ctx: ApiContext, params: Params) -> JSON:
    """Who the token belongs to: the app's bot user in this team."""
    ws = ctx.ws
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot.id,
        "bot_id": ws.bot.bot_id,
        "is_enterprise_install": False,
    }


@api_method("conversations.history", "{kind}:history")
def conversations_history(ctx: ApiContext, params: Params) -> JSON:
    """Top-level messages (and broadcast replies), newest first, windowed and paginated."""
    channel = ctx.channel(params)
    ensure_member(ctx, channel)
    top = [m for m in channel.messages.values() if not m.is_reply or m.reply_broadcast]
    window = list(reversed(_window(top, params)))
    page, next_cursor = paginate(window, params, default_limit=100, max_limit=999)
    return _listing(ctx, channel, page, next_cursor, params) | {
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }


@api_method("conversations.replies", "{kind}:history")
def conversations_replies(ctx: ApiContext, params: Params) -> JSON:
    """A thread: the parent then its replies, oldest first; a reply's ts gives only that reply."""
    ts = params.required("ts")
    channel = ctx.channel(params)
    ensure_member(ctx, channel)
    message = channel.messages.get(ts)
    if message is None:
        raise ApiError("thread_not_found")
    if message.is_reply:
        thread = [message]
    else:
        # The parent always leads the thread; the time window applies to the replies.
        replies = [channel.messages[reply_ts] for reply_ts in message.replies]
        thread = [message, *_window(replies, params)]
    page, next_cursor = paginate(thread, params, default_limit=1000, max_limit=1000)
    return _listing(ctx, channel, page, next_cursor, params)


@api_method("conversations.info", "{kind}:read")
def conversations_info(ctx: ApiContext, params: Params) -> JSON:
    """One conversation's metadata; private ones the bot is not in are `channel_not_found`."""
    channel = ctx.channel(params)
    if (channel.is_private or channel.is_im) and ctx.ws.bot.id not in channel.members:
        raise ApiError("channel_not_found")
    info = channel_json(ctx.ws, channel)
    if params.flag("include_num_members") and not channel.is_im:
        info["num_members"] = len(channel.members)
    return {"channel": info}


@api_method("conversations.members", "{kind}:read")
def conversations_members(ctx: ApiContext, params: Params) -> JSON:
    """Member user ids, paginated like Slack (always a `response_metadata.next_cursor`)."""
    channel = ctx.channel(params)
    if (channel.is_private or channel.is_im) and ctx.ws.bot.id not in channel.members:
        raise ApiError("channel_not_found")
    limit = params.number("limit", 100)
    limit = 100 if limit <= 0 else min(limit, 1000)
    start = 0
    if cursor := params.text("cursor"):
        try:
            start = int(
                base64.b64decode(cursor.encode(), validate=True).decode().removeprefix("user:")
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ApiError("invalid_cursor") from None
    members = channel.members[start : start + limit]
    more = start + limit < len(channel.members)
    next_cursor = base64.b64encode(f"user:{start + limit}".encode()).decode() if more else ""
    return {"members": members, "response_metadata": {"next_cursor": next_cursor}}


@api_method("conversations.open", "im:write")
def conversations_open(ctx: ApiContext, params: Params) -> JSON:
    """Open (or find) the DM with one user; group DMs are not emulated."""
    channel_id = params.text("channel")
    users = [u for u in (params.text("users") or "").split(",") if u.strip()]
    if channel_id:
        channel = ctx.channel(params)
    elif not users:
        raise ApiError("users_list_not_supplied")
    elif len(users) > 1:
        raise ApiError("not_supported", detail="group DMs are not emulated")
    elif users[0].strip() not in ctx.ws.users:
        raise ApiError("user_not_found")
    else:
        existing = any(c.is_im and c.im_user == users[0].strip() for c in ctx.ws.channels.values())
        channel = ctx.ws.open_dm(users[0].strip())
        if existing:
            full = params.flag("return_im")
            shown = channel_json(ctx.ws, channel) if full else {"id": channel.id}
            return {"no_op": True, "already_open": True, "channel": shown}
    shown = channel_json(ctx.ws, channel) if params.flag("return_im") else {"id": channel.id}
    return {"channel": shown}


@api_method("users.info", "users:read")
def users_info(ctx: ApiContext, params: Params) -> JSON:
    """A user's profile; the e-mail only when the token has `users:read.email`."""
    user = ctx.ws.users.get(params.text("user") or "")
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user_json(ctx.ws, user, with_email="users:read.email" in ctx.scopes)}


@api_method("team.info", "team:read")
def team_info(ctx: ApiContext, params: Params) -> JSON:
    """This workspace, or (`team`) an organisation it shares a Slack Connect channel with."""
    ws = ctx.ws
    team_id = params.text("team") or ws.team_id
    if team_id == ws.team_id:
        name, domain = ws.team_name, ws.team_domain
    elif team_id in ws.teams:
        name = ws.teams[team_id]
        domain = "".join(c for c in name.lower() if c.isalnum()) or team_id.lower()
    else:
        raise ApiError("team_not_found")
    return {"team": {"id": team_id, "name": name, "domain": domain, "email_domain": "",
                     "icon": {"image_default": True}}}  # fmt: skip


@api_method("users.lookupByEmail", "users:read.email")
def users_lookup_by_email(ctx: ApiContext, params: Params) -> JSON:
    """A member of this workspace by profile e-mail (external users are not found)."""
    email = params.required("email").lower()
    for user in ctx.ws.users.values():
        if user.email and user.email.lower() == email and not ctx.ws.is_external(user.id):
            return {"user": user_json(ctx.ws, user, with_email=True)}
    raise ApiError("users_not_found")


@api_method("chat.getPermalink")
def chat_get_permalink(ctx: ApiContext, params: Params) -> JSON:
    """The message's web link; replies link into their thread (`thread_ts`, `cid`)."""
    channel = ctx.channel(params)
    message = ctx.message(channel, params.text("message_ts"))
    return {"channel": channel.id, "permalink": ctx.ws.permalink(channel.id, message)}


@api_method("reactions.get", "reactions:read")
def reactions_get(ctx: ApiContext, params: Params) -> JSON:
    """A message with its reactions (name, users, count)."""
    if not params.text("channel") or not params.text("timestamp"):
        raise ApiError("no_item_specified")
    channel = ctx.channel(params)
    message = ctx.message(channel, params.text("timestamp"))
    rendered = message_json(ctx.ws, channel, message)
    rendered["permalink"] = ctx.ws.permalink(channel.id, message)
    return {"type": "message", "channel": channel.id, "message": rendered}
