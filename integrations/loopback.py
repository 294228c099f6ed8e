"""Serving an emulator's aiohttp application on loopback, for tests, benchmarks and the sandbox."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Base of the emulators: `async with emulator:` serves it, leaving it stops it.

    Subclasses implement `start()` (usually `await self.serve(app, host, port)`) and may extend
    `stop()` with their own clean-up before calling `super().stop()`.
    """

    _runner: web.AppRunner | None = None

    async def serve(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve `app` on `host:port` (0 asks the OS for a free port) and return the port."""
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
