"""Running the service: HTTP server or Socket Mode, the in-process worker, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from ticketbolt.bot.container import Runtime, open_runtime
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.settings import Settings

log = logging.getLogger("ticketbolt")


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def start_http(runtime: Runtime, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(runtime.web_app, access_log=None, shutdown_timeout=10)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Runtime, web.AppRunner], Awaitable[None]] | None = None,
    with_worker: bool = True,
    extra_routes: Sequence[web.RouteDef] = (),
    search_path: str | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or `stop`): stop accepting, finish in-flight, close clients."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    async with open_runtime(settings, search_path=search_path) as runtime:
        # Added before the runner freezes the application (the sandbox serves its page here).
        runtime.web_app.add_routes(extra_routes)
        await upgrade(runtime.engine)
        runner = await start_http(runtime, settings.host, settings.port)
        socket_handler = None
        if settings.socket_mode and settings.slack_app_token and runtime.bolt is not None:
            # Created here, not earlier: its client needs the running loop.
            socket_handler = AsyncSocketModeHandler(
                runtime.bolt, settings.slack_app_token.get_secret_value(), web_client=runtime.slack
            )
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
        worker_task = asyncio.create_task(runtime.worker().run(stop)) if with_worker else None
        log.info(
            "ticketbolt serving",
            extra={
                "host": settings.host,
                "port": settings.port,
                "socket_mode": settings.socket_mode,
            },
        )
        if on_ready is not None:
            await on_ready(runtime, runner)
        try:
            await stop.wait()
        finally:
            log.info("shutting down")
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]  # as above
            await runner.cleanup()
            if worker_task is not None:
                await worker_task


async def work(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Only the job worker, for scaling workers apart from web replicas."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    async with open_runtime(settings) as runtime:
        await upgrade(runtime.engine)
        await runtime.worker().run(stop)
