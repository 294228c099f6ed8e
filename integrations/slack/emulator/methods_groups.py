"""User-group Web API methods of the emulator (`usergroups.users.list`)."""

from __future__ import annotations

from ticketbolt.integrations.slack.emulator.registry import ApiContext, ApiError, Params, api_method
from ticketbolt.integrations.slack.emulator.state import JSON


@api_method("usergroups.users.list", "usergroups:read")
def usergroups_users_list(ctx: ApiContext, params: Params) -> JSON:
    """The member ids of a user group; `no_such_subteam` for an unknown group."""
    group = params.text("usergroup")
    if not group:
        raise ApiError("invalid_arguments")
    if group not in ctx.ws.usergroups:
        raise ApiError("no_such_subteam")
    return {"users": list(ctx.ws.usergroups[group])}
