"""This process's part in the operations views: it publishes its figures (sockets, pool) to Redis
every few seconds with a TTL, so the capacity view lists each live process and a dead one drops out
by itself; and it keeps its recent ERROR lines (engine/ops/errorlog.py) while the app runs."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import AsyncIterator

from aiohttp import web

from engine.jobs import Periodic
from engine.metrics import Metrics
from engine.ops import model, store
from engine.ops.errorlog import ErrorLog
from engine.realtime.server import RealtimeServer

log = logging.getLogger("flylive.ops")


class Ops:
    def __init__(self, rt: RealtimeServer, metrics: Metrics) -> None:
        self.rt = rt
        self.metrics = metrics
        self.errors = ErrorLog(on_error=lambda name: metrics.error_log_lines.labels(name).inc())
        self.started_ms = int(time.time() * 1000)
        self.host = socket.gethostname()
        self.memo = model.OverviewMemo()  # the overview's settled hours and last result, per app

    @property
    def instance_id(self) -> str:
        return self.rt.instance_id

    def report(self) -> model.ProcessReport:
        svc = self.rt.services
        # The same figure /metrics exposes (flylive_socket_connections), read from this app's registry.
        sockets = self.metrics.registry.get_sample_value("flylive_socket_connections") or 0
        size, idle = store.pool_figures(svc.pool)
        return model.ProcessReport(
            instance=self.instance_id, host=self.host, pid=os.getpid(), sockets=int(sockets),
            pg_pool_size=size, pg_pool_idle=idle,
            started_ms=self.started_ms, seen_ms=int(time.time() * 1000),
        )  # fmt: skip

    async def publish(self) -> None:
        svc = self.rt.services
        await store.publish_process(svc.redis, svc.keys, self.report(), model.PROCESS_TTL_SECONDS)

    async def forget(self) -> None:
        svc = self.rt.services
        await store.forget_process(svc.redis, svc.keys, self.instance_id)

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """A cleanup_ctx: the error log listens from before the services start until after they stop."""
        self.errors.install()
        yield
        self.errors.uninstall()


def register_ops(rt: RealtimeServer, metrics: Metrics) -> Ops:
    ops = Ops(rt, metrics)
    rt.background.append(Periodic("ops-report", ops.publish, model.PROCESS_REPORT_SECONDS))
    rt.stop_hooks.append(ops.forget)  # gone from the capacity view at once on a clean stop
    return ops
