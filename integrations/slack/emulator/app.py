"""A faithful in-process emulator of the Slack Web API and of Slack's side of the Events API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import aiohttp
from aiohttp import web

from ticketbolt.integrations.loopback import LoopbackServer
from ticketbolt.integrations.slack.emulator.api import Call, WebApi
from ticketbolt.integrations.slack.emulator.events import Deliverer, Delivery
from ticketbolt.integrations.slack.emulator.faults import Faults
from ticketbolt.integrations.slack.emulator.interactions import Hook, HookPost, Interactions
from ticketbolt.integrations.slack.emulator.limits import LimitsOption, RateLimits, limits_table
from ticketbolt.integrations.slack.emulator.registry import DEFAULT_SCOPES, ApiContext
from ticketbolt.integrations.slack.emulator.render import snapshot
from ticketbolt.integrations.slack.emulator.socket import SocketModeHub
from ticketbolt.integrations.slack.emulator.state import JSON, Channel, User, Workspace
from ticketbolt.integrations.slack.emulator.views import TriggerStore, ViewStore


class SlackEmulator(Interactions, LoopbackServer):
    """Emulated Slack workspace, Web API (`/api/*`) and `response_url` receiver (`/hooks/*`).

    `async with SlackEmulator(secret) as slack:` serves it on 127.0.0.1 with an ephemeral port;
    point the bot's `SLACK_API_URL` at `slack.api_url` and set `slack.events_url` to the bot's
    `/slack/events`. To serve it inside another aiohttp app, add `slack.routes()` there, set
    `slack.base_url` to that app's URL, and `await slack.aclose()` on shutdown.
    `slack_limits="real"` (or a `SlackLimits` table) enforces Slack's rate limits with 429 and
    `Retry-After`; `rate_limited()` counts the 429s served. By default nothing is limited.
    """

    def __init__(
        self,
        signing_secret: str,
        bot_token: str = "xoxb-ticketbolt-emulator",  # noqa: S107  # a fake the emulator accepts
        team_id: str = "T0TICKET",
        *,
        team_name: str = "Ticketbolt Sandbox",
        team_domain: str = "ticketbolt-sandbox",
        api_app_id: str = "A0TICKETBOLT",
        bot_name: str = "ticketbolt",
        events_url: str | None = None,
        app_token: str | None = None,
        scopes: Sequence[str] | None = None,
        deliver_bot_events: bool = True,
        delivery_timeout: float = 10.0,
        trigger_ttl: float = 3.0,
        clock_start: float | None = None,
        slack_limits: LimitsOption = None,
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.events_url = events_url
        self.deliver_bot_events = deliver_bot_events
        self.base_url: str | None = None
        self.state = Workspace(
            team_id=team_id,
            team_name=team_name,
            team_domain=team_domain,
            api_app_id=api_app_id,
            bot_name=bot_name,
            clock_start=clock_start,
        )
        self.scopes: set[str] = set(DEFAULT_SCOPES if scopes is None else scopes)
        self.faults = Faults()
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.hook_posts: list[HookPost] = []
        self.hooks: dict[str, Hook] = {}
        self.triggers = TriggerStore(trigger_ttl)
        self.views = ViewStore(team_id, api_app_id, self.state.bot.bot_id or "")
        # Ephemeral messages shown to single users (`chat.postEphemeral`, `response_url`).
        self.ephemerals: list[JSON] = []
        self._ctx = ApiContext(
            self.state, self.views, self.triggers, self.scopes, self._bot_event, self.ephemerals
        )
        # Slack's rate limits: off unless asked for ("real", or a `SlackLimits` table).
        self.limits = RateLimits(limits_table(slack_limits))
        self._api = WebApi(self._ctx, bot_token, self.faults, self._record, self.limits)
        self._deliverer = Deliverer(signing_secret, delivery_timeout)
        self.socket = SocketModeHub(app_token, api_app_id, ack_timeout=delivery_timeout)
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Delivery | None]] = set()
        self._runner: web.AppRunner | None = None

    # -- serving ---------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The Web API base URL for `AsyncWebClient(base_url=…)` / `SLACK_API_URL`."""
        return f"{self._base()}api/"

    @property
    def bot_user(self) -> User:
        """The app's bot user (what `auth.test` answers)."""
        return self.state.bot

    def _base(self) -> str:
        if self.base_url is None:
            raise RuntimeError("not serving: use `async with`, start(), or set base_url")
        return self.base_url if self.base_url.endswith("/") else f"{self.base_url}/"

    def _hook_url(self, hook_id: str) -> str:
        return f"{self._base()}hooks/{hook_id}"

    def routes(self) -> list[web.RouteDef]:
        """The emulator's routes, to serve standalone or inside another aiohttp application."""
        return [
            *self.socket.routes(),  # before /api/{method}: it authenticates with the app token
            web.route("*", "/api/{method}", self._api.handle),
            web.post("/hooks/{hook_id}", self._hook),
            web.get("/emulator/snapshot", self._snapshot),
        ]

    @property
    def app(self) -> web.Application:
        """A fresh aiohttp application serving `routes()`."""
        application = web.Application()
        application.add_routes(self.routes())
        return application

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on `host:port` (0: an ephemeral port) and set `base_url` accordingly."""
        self.base_url = f"http://{host}:{await self.serve(self.app, host, port)}/"

    async def aclose(self) -> None:
        """Finish background deliveries, close the delivery session and stop serving."""
        await self.drain()
        for task in set(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._deliverer.aclose()
        await self.socket.aclose()
        await LoopbackServer.stop(self)

    async def stop(self) -> None:
        await self.aclose()

    # -- seeding ---------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        team_id: str | None = None,
        is_bot: bool = False,
        user_id: str | None = None,
    ) -> User:
        """Create a user; a `team_id` other than the workspace's makes a Slack Connect user."""
        return self.state.add_user(
            name,
            real_name=real_name,
            display_name=display_name,
            email=email,
            team_id=team_id,
            is_bot=is_bot,
            user_id=user_id,
        )

    def add_channel(
        self,
        name: str,
        *,
        members: Sequence[User | str] = (),
        is_private: bool = False,
        is_ext_shared: bool = False,
        bot_member: bool = True,
        channel_id: str | None = None,
    ) -> Channel:
        """Create a channel of `members` (users or ids); the bot joins unless `bot_member=False`."""
        return self.state.add_channel(
            name,
            members=[m.id if isinstance(m, User) else m for m in members],
            is_private=is_private,
            is_ext_shared=is_ext_shared,
            bot_member=bot_member,
            channel_id=channel_id,
        )

    def open_dm(self, user: User | str) -> Channel:
        """The DM between the bot and `user`."""
        return self.state.open_dm(self._user(user).id)

    def snapshot(self) -> JSON:
        """The workspace as JSON for a browser UI: channels, messages, threads, reactions, names."""
        return snapshot(self.state, self.ephemerals, list(self.views.views.values()))

    # -- recording and waiting -------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify()

    def rate_limited(self, method: str | None = None) -> int:
        """How many 429s the rate limits served, for `method` or in all (injected faults aside)."""
        served = self.limits.served
        return served[method] if method else sum(served.values())

    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call of one Web API method, in order."""
        return [call for call in self.calls if call.method == method]

    # `timeout` parameters below are the test-facing contract: a bound on waiting for the bot.
    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Return once `condition()` holds, re-checking on every call, delivery or hook post."""
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if condition():
                    return
                await self._changed.wait()

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until `method` was called at least `count` times; those calls."""
        await self.wait_until(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait for background deliveries (events about the bot's own actions) to finish."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                # A delivery can make the app act again, which schedules further deliveries.
                while self._tasks:
                    await asyncio.wait(set(self._tasks))

    # -- the bot's own actions, heard back as events ---------------------------------------

    def _bot_event(self, channel: Channel, event: JSON) -> None:
        if not self.deliver_bot_events or not self.events_url:
            return
        # Slack delivers these asynchronously; the API call must not wait for the app's answer.
        task = asyncio.create_task(self._deliver_quietly(channel, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_quietly(self, channel: Channel, event: JSON) -> Delivery | None:
        try:
            return await self._deliver_event(channel, event)
        except (aiohttp.ClientError, TimeoutError) as error:
            # The app is gone or slow; record it as Slack would count a failed delivery.
            failed = Delivery("event", self.events_url or "", "", {}, 0, repr(error))
            self.deliveries.append(failed)
            self._notify()
            return failed

    async def _snapshot(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())
