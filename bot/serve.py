"""Running the service: HTTP server or Socket Mode, the in-process worker, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from sqlalchemy.exc import SQLAlchemyError

from ticketbolt.bot.container import Runtime, open_runtime
from ticketbolt.bot.db.migrate import upgrade
from ticketbolt.bot.logs import redact_text
from ticketbolt.bot.settings import Settings, StartupError
from ticketbolt.bot.supervisor import WorkerProcess, follow_parent

log = logging.getLogger("ticketbolt")


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def migrate(runtime: Runtime) -> None:
    """Bring the schema up to date; an unreachable database is a `StartupError` naming
    DATABASE_URL (its password masked), not a traceback."""
    try:
        await upgrade(runtime.engine)
    except (OSError, SQLAlchemyError) as exc:
        url = redact_text(runtime.settings.database_url)
        reason = redact_text(str(getattr(exc, "orig", None) or exc).splitlines()[0])[:200]
        raise StartupError(
            f"DATABASE_URL: cannot reach the database at {url}: {type(exc).__name__}: {reason}"
        ) from None


async def start_ops(runtime: Runtime) -> web.AppRunner | None:
    """/metrics and detailed /readyz on TICKETBOLT_METRICS_HOST:TICKETBOLT_METRICS_PORT."""
    port = runtime.settings.metrics_port
    if port is None or runtime.ops_app is None:
        return None
    runner = web.AppRunner(runtime.ops_app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, runtime.settings.metrics_host, port).start()
    log.info("operations port open", extra={"host": runtime.settings.metrics_host, "port": port})
    return runner


async def start_http(runtime: Runtime, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(runtime.web_app, access_log=None, shutdown_timeout=10)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def start_work(
    runtime: Runtime, stop: asyncio.Event, enabled: bool, *, inline: bool = False
) -> tuple[asyncio.Task[None] | None, asyncio.Task[None] | None]:
    """The job worker and the SLA watchdog: in a supervised child process (they run together
    there, see bot/supervisor.py) or in this process's loop."""
    settings = runtime.settings
    if not enabled or (settings.worker_process == "off" and not inline):
        return None, None
    if settings.worker_in_child and not inline:
        child = WorkerProcess(
            runtime.queue.wakeup,
            grace_seconds=settings.shutdown_grace,
            metrics_port=settings.worker_metrics_port,
        )
        return asyncio.create_task(child.run(stop)), None
    worker_task = asyncio.create_task(runtime.worker().run(stop))
    watchdog = runtime.sla_watchdog
    return worker_task, asyncio.create_task(watchdog.run(stop)) if watchdog is not None else None


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Runtime, web.AppRunner], Awaitable[None]] | None = None,
    with_worker: bool = True,
    extra_routes: Sequence[web.RouteDef] = (),
    search_path: str | None = None,
    sandbox: bool = False,
) -> None:
    """Serve until SIGTERM/SIGINT (or `stop`): stop accepting, finish in-flight, close clients.

    `sandbox`: the emulated workspace, where advice about a real one would only confuse."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    async with open_runtime(settings, search_path=search_path) as runtime:
        # Added before the runner freezes the application (the sandbox serves its page here).
        runtime.web_app.add_routes(extra_routes)
        await migrate(runtime)
        runner = await start_http(runtime, settings.host, settings.port)
        ops = await start_ops(runtime)
        socket_handler, socket_watch = None, None
        if settings.socket_mode and settings.slack_app_token and runtime.bolt is not None:
            # Created here, not earlier: its client needs the running loop.
            socket_handler = AsyncSocketModeHandler(
                runtime.bolt,
                settings.slack_app_token.get_secret_value(),
                web_client=runtime.slack,
                ping_interval=settings.socket_ping_seconds,
            )
            if runtime.socket_watch is not None:
                runtime.socket_watch.attach(socket_handler.client)  # before the first hello
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
            if runtime.socket_watch is not None:
                socket_watch = asyncio.create_task(runtime.socket_watch.run())
        # The sandbox's emulated workspace and in-process cache live in this process.
        worker_task, sla_task = start_work(runtime, stop, with_worker, inline=sandbox)
        if not settings.agents and not sandbox:
            log.warning(
                "TICKETBOLT_AGENTS is not set: anyone in the workspace can resolve and reopen "
                "tickets; set it to the Slack user or user-group ids of your agents"
            )
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
            if socket_watch is not None:
                socket_watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await socket_watch
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]  # as above
            await runner.cleanup()
            if ops is not None:
                await ops.cleanup()
            if worker_task is not None:
                await worker_task
            if sla_task is not None:
                await sla_task


async def work(
    settings: Settings, *, stop: asyncio.Event | None = None, supervised: bool = False
) -> None:
    """Only the job worker and the SLA watchdog (one at a time across processes), for scaling
    workers apart from web replicas, or as `ticketbolt run`'s supervised child."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    if supervised and settings.worker_nice:
        os.nice(settings.worker_nice)  # acknowledgements in the parent come first
    async with open_runtime(settings) as runtime:
        await migrate(runtime)
        ops = await start_ops(runtime)
        following = (
            asyncio.create_task(follow_parent(runtime.queue.wakeup, stop)) if supervised else None
        )
        worker_task, sla_task = start_work(runtime, stop, True, inline=True)
        try:
            await stop.wait()
        finally:
            for task in (worker_task, sla_task):
                if task is not None:
                    await task
            if following is not None:
                following.cancel()
            if ops is not None:
                await ops.cleanup()
