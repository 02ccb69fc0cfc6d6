"""Background jobs that run a step periodically and stop on request.

Stopping sets an event the loop checks between steps rather than relying on task cancellation
alone: a client library that swallows a CancelledError mid-call would otherwise keep the loop
(and the process's shutdown) going forever. Cancellation remains the fallback after a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("flylive.jobs")


class Periodic:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._stop = asyncio.Event()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job step failed; retrying", extra={"job": self.name})
            await self._pause()

    async def _pause(self) -> None:
        """Wait for the interval, a stop, or a `wake`, whichever comes first."""
        stop = asyncio.ensure_future(self._stop.wait())
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait((stop, woken), timeout=self._interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            woken.cancel()
        self._woken.clear()

    def wake(self) -> None:
        """Run the next step now rather than after the interval (new work was queued)."""
        self._woken.set()

    async def stop(self, grace: float = 5.0) -> None:
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
