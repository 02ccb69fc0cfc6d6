"""GDPR at run time: the worker every engine process runs (exports, purges, expired archives) and
the nudge that starts a just-queued export at once on the process that queued it. Other processes
find it at their next sweep; FOR UPDATE SKIP LOCKED and the claim keep one export to one process."""

from __future__ import annotations

from engine.gdpr import actions
from engine.jobs import Periodic
from engine.realtime.server import RealtimeServer
from engine.services import Services


class Gdpr:
    """Built once per app (engine/app.py, `app[GDPR]`)."""

    def __init__(self, rt: RealtimeServer) -> None:
        self.rt = rt
        self.worker = Periodic("gdpr-worker", lambda: actions.sweep(self.svc), rt.config.gdpr_sweep_seconds)
        rt.background.append(self.worker)

    @property
    def svc(self) -> Services:
        return self.rt.services

    async def request_export(self, user_id: int) -> dict[str, object]:
        job = await actions.do_request_export(self.svc, user_id)
        self.worker.wake()
        return job
