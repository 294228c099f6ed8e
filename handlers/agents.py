"""Who is an agent: `TICKETBOLT_AGENTS` (users and user groups), else any workspace member.

External (Slack Connect) users and bots are never agents.
"""

from __future__ import annotations

import time
from typing import Any

from ticketbolt.handlers.deps import Deps
from ticketbolt.handlers.slack_directory import Person

# User groups change rarely; a minute's staleness spares a Slack call per message in `auto`.
GROUP_TTL = 60.0


class Agents:
    def __init__(self, deps: Deps):
        self._deps = deps
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    @property
    def named(self) -> bool:
        """True when `TICKETBOLT_AGENTS` lists who the agents are."""
        return bool(self._deps.config.agents)

    async def is_agent(self, person: Person, team_id: str) -> bool:
        """A member of the workspace named by `TICKETBOLT_AGENTS` (any member when unset)."""
        if not person.member_of(team_id):
            return False
        return not self.named or await self.listed(person.id)

    async def listed(self, user_id: str) -> bool:
        """`user_id` is in `TICKETBOLT_AGENTS`, directly or through one of its user groups."""
        agents = self._deps.config.agents
        if user_id in agents:
            return True
        for group in sorted(a for a in agents if a.startswith("S")):
            if user_id in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_TTL:
            return cached[1]
        answer: Any = await self._deps.slack.usergroups_users_list(usergroup=group)
        members = frozenset(answer.get("users") or [])
        self._groups[group] = (time.monotonic(), members)
        return members
