"""JSON shapes of emulated Slack objects (messages, users, channels) and the UI snapshot."""

from __future__ import annotations

from typing import Any

from ticketbolt.integrations.slack.emulator.state import JSON, Channel, Message, User, Workspace


def bot_profile(ws: Workspace, user: User) -> JSON:
    """The `bot_profile` Slack attaches to messages posted by an app."""
    return {
        "id": user.bot_id,
        "app_id": user.app_id,
        "name": user.real_name,
        "icons": {},
        "deleted": False,
        "updated": 0,
        "team_id": user.team_id or ws.team_id,
    }


def _thread_fields(channel: Channel, message: Message) -> JSON:
    out: JSON = {}
    if message.thread_ts:
        out["thread_ts"] = message.thread_ts
    if message.is_reply:
        parent = channel.messages.get(message.thread_ts or "")
        if parent is not None and parent.user:
            out["parent_user_id"] = parent.user
    if message.replies:
        reply_users = list(dict.fromkeys(channel.messages[ts].user or "" for ts in message.replies))
        out |= {
            "reply_count": len(message.replies),
            "reply_users": reply_users,
            "reply_users_count": len(reply_users),
            "latest_reply": message.replies[-1],
            "is_locked": False,
            "subscribed": False,
        }
    return out


def message_json(
    ws: Workspace, channel: Channel, message: Message, *, with_metadata: bool = False
) -> JSON:
    """A message as `conversations.history` / `conversations.replies` return it; its app
    metadata only when asked for (`include_all_metadata`), as Slack does."""
    out: JSON = {"type": "message", "ts": message.ts, "text": message.text}
    optional = {
        "user": message.user,
        "team": message.team,
        "subtype": message.subtype,
        "client_msg_id": message.client_msg_id,
        "bot_id": message.bot_id,
    }
    out |= {key: value for key, value in optional.items() if value}
    if message.blocks is not None:
        out["blocks"] = message.blocks
    bot = ws.users.get(message.user or "")
    if message.bot_id and bot is not None and bot.is_bot:
        out |= {"app_id": message.app_id, "bot_profile": bot_profile(ws, bot)}
    if message.files:
        out |= {"files": message.files, "upload": False, "display_as_bot": False}
    out |= _thread_fields(channel, message)
    if message.reactions:
        out["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in message.reactions.items()
        ]
    if message.edited:
        out["edited"] = dict(message.edited)
    if with_metadata and message.metadata:
        out["metadata"] = dict(message.metadata)
    return out


def user_json(ws: Workspace, user: User, *, with_email: bool) -> JSON:
    """A user as `users.info` returns it; `profile.email` only with `users:read.email`."""
    profile: JSON = {
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.display_name,
        "display_name_normalized": user.display_name,
        "team": user.team_id,
    }
    if with_email and user.email and not user.is_bot:
        profile["email"] = user.email
    if user.is_bot:
        profile |= {"bot_id": user.bot_id, "api_app_id": user.app_id, "always_active": True}
    return {
        "id": user.id,
        "team_id": user.team_id,
        "name": user.name,
        "deleted": False,
        "real_name": user.real_name,
        "tz": "Europe/London",
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1700000000,
    }


def channel_json(ws: Workspace, channel: Channel) -> JSON:
    """A conversation as `conversations.info` returns it."""
    if channel.is_im:
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": ws.team_id,
            "user": channel.im_user,
            "is_user_deleted": False,
            "is_archived": False,
            "priority": 0,
        }
    empty_text: JSON = {"value": "", "creator": "", "last_set": 0}
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "created": channel.created,
        "creator": "",
        "is_channel": not channel.is_private,
        "is_group": channel.is_private,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "is_archived": False,
        "is_general": channel.name == "general",
        "is_shared": channel.is_ext_shared,
        "is_ext_shared": channel.is_ext_shared,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": ws.team_id,
        "is_member": ws.bot.id in channel.members,
        "unlinked": 0,
        "topic": dict(empty_text),
        "purpose": dict(empty_text),
    }


def snapshot(ws: Workspace, ephemerals: list[JSON], views: list[JSON]) -> JSON:
    """The workspace as plain JSON for the sandbox page: channels, threads, reactions, names."""
    names = {user.id: user.label for user in ws.users.values()}

    def render(channel: Channel, message: Message) -> dict[str, Any]:
        return message_json(ws, channel, message) | {
            "user_name": names.get(message.user or "", message.user or ""),
            "permalink": ws.permalink(channel.id, message),
            "replies": [render(channel, channel.messages[ts]) for ts in message.replies],
        }

    channels = []
    for channel in ws.channels.values():
        label = (
            f"@{names.get(channel.im_user or '', channel.name)}" if channel.is_im else channel.name
        )
        channels.append(
            {
                "id": channel.id,
                "name": label,
                "is_im": channel.is_im,
                "is_private": channel.is_private,
                "is_ext_shared": channel.is_ext_shared,
                "members": list(channel.members),
                "messages": [
                    render(channel, m)
                    for m in channel.messages.values()
                    if not m.is_reply or m.reply_broadcast
                ],
                "ephemeral": [e for e in ephemerals if e["channel"] == channel.id],
            }
        )
    return {
        "team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain},
        "bot": {"user_id": ws.bot.id, "bot_id": ws.bot.bot_id, "name": ws.bot.label},
        "users": [
            {
                "id": user.id,
                "name": user.name,
                "display_name": user.label,
                "is_bot": user.is_bot,
                "is_external": ws.is_external(user.id),
            }
            for user in ws.users.values()
        ],
        "channels": channels,
        "views": views,
    }
