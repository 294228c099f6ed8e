"""The bot's identity in its workspace (`auth.test`), asked once per process.

Bolt's single-workspace authorisation remembers `auth.test` only after its first call has
returned: every request that reaches a fresh process before then makes a call of its own, so a
burst of events after a deploy costs dozens of calls of a Tier 4 method (about 100 a minute per
workspace) and can be answered 429. Here concurrent first askers wait for one call, its answer
serves Bolt and the permalinks alike, and a failed call is not remembered (the next request asks
again).
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_sdk.web.async_client import AsyncWebClient


class BotIdentity:
    """`auth.test`'s answer for this process's bot token, fetched at most once at a time."""

    def __init__(self, client: AsyncWebClient | Any):
        self._client = client
        self._answer: Any = None
        self._lock = asyncio.Lock()

    async def answer(self) -> Any:
        """The answer (an `AsyncSlackResponse`); raises what the client raises on failure."""
        if self._answer is None:
            async with self._lock:
                if self._answer is None:
                    self._answer = await self._client.auth_test()
        return self._answer

    async def workspace_url(self) -> str:
        return str((await self.answer())["url"])


class SharedAuthorize(AsyncAuthorize):
    """Bolt's `authorize` for one workspace and one bot token, from the shared `BotIdentity`.

    The result is what Bolt's own single-workspace authorisation builds from `auth.test`."""

    def __init__(self, identity: BotIdentity, bot_token: str):
        self._identity = identity
        self._token = bot_token

    async def __call__(
        self,
        *,
        context: Any,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_actor: Any,
    ) -> AuthorizeResult:
        answer = await self._identity.answer()
        return AuthorizeResult(
            enterprise_id=answer.get("enterprise_id"),
            team_id=answer.get("team_id"),
            bot_id=answer.get("bot_id"),
            bot_user_id=answer.get("user_id"),
            bot_token=self._token,
            bot_scopes=answer.headers.get("x-oauth-scopes"),
            user_id=user_id,
        )
