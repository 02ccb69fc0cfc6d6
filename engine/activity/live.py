"""The activity log's background jobs, in every serving process: the worker that drains the activity
streams into PostgreSQL (the consumer group shares the work), and the hourly retention sweep."""

from __future__ import annotations

from engine.activity import actions, worker
from engine.jobs import Periodic
from engine.realtime.server import RealtimeServer

RETENTION_SWEEP_SECONDS = 3600.0


def register_activity_jobs(rt: RealtimeServer) -> None:
    interval = rt.config.activity_flush_interval_seconds
    rt.background.append(Periodic("activity-worker", lambda: worker.drain_all(rt.services, rt.instance_id), interval))
    rt.background.append(
        Periodic("activity-retention", lambda: actions.purge_old(rt.services), RETENTION_SWEEP_SECONDS)
    )

    async def final_drain() -> None:
        # After the sockets' leaves ran (stop hooks follow them): their visits are committed now
        # rather than at the next start. Should it fail, the entries wait in the stream.
        await worker.drain_all(rt.services, rt.instance_id)

    rt.stop_hooks.append(final_drain)
