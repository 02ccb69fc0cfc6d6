"""Data export (issue 12 §8): a job (202), its progress, the signed download link (expiry and
tampering refused), the archive holding the user's rows of every covered table, one export per user
at a time, the rate limit, and two processes never running one job both."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from typing import Any

import msgspec

from engine.appkeys import GDPR, SERVICES
from engine.config import Rate
from engine.economy.flusher import flush_all
from engine.gdpr import actions, store
from engine.gdpr.model import download_path
from engine.gdpr.registry import TABLES
from tests.helpers import TEST_SECRET, bearer, new_user
from tests.sockets import Peer
from tests.test_gifts_basic import gift_room

Client = Any


async def wait_done(client: Client, token: str, export_id: int) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            resp = await client.get(f"/api/v1/me/export/{export_id}", headers=bearer(token))
            assert resp.status == 200, await resp.text()
            job: dict[str, Any] = (await resp.json())["data"]
            if job["state"] in ("done", "failed"):
                return job
            await asyncio.sleep(0.05)


async def test_export_end_to_end(client: Client, config: Any) -> None:
    async with gift_room(client, config, coins=50, key="gdpr-grant") as r:
        payload = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "quantity": 2,
                   "idempotencyKey": "gdpr-send-0001"}  # fmt: skip
        assert (await r.a.call("gift:send", payload))["success"] is True
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    me, host = r.sender["token"], r.host["token"]
    other = await new_user(client, "Blocked One")
    assert (await client.post(f"/api/v1/users/{r.host_id}/follow", headers=bearer(me))).status == 200
    assert (await client.post(f"/api/v1/users/{r.sender_id}/follow", headers=bearer(host))).status == 200  # notifies me
    assert (await client.post(f"/api/v1/users/{other.id}/block", headers=bearer(me))).status == 200

    resp = await client.post("/api/v1/me/export", headers=bearer(me))
    assert resp.status == 202, await resp.text()
    queued = (await resp.json())["data"]
    assert queued["state"] == "queued" and queued["download_url"] is None
    assert queued["progress"] == {"tables_done": 0, "tables_total": len(TABLES), "percent": 0}
    job = await wait_done(client, me, queued["id"])
    assert job["state"] == "done" and job["progress"]["percent"] == 100
    assert job["progress"]["tables_done"] == len(TABLES) and job["rows_exported"] > 10
    assert svc.metrics.registry.get_sample_value("flylive_gdpr_jobs_total", {"job": "export", "outcome": "done"}) == 1
    # Someone else's export is not found, as one that does not exist.
    assert (await client.get(f"/api/v1/me/export/{queued['id']}", headers=bearer(host))).status == 404
    assert (await client.get("/api/v1/me/export/999999", headers=bearer(me))).status == 404
    assert (await client.get("/api/v1/me/export/abc", headers=bearer(me))).status == 404

    link = job["download_url"]
    got = await client.get(link)  # the link is the credential: no token
    assert got.status == 200, await got.text()
    assert got.headers["Content-Type"] == "application/gzip" and "attachment" in got.headers["Content-Disposition"]
    archive = json.loads(gzip.decompress(await got.read()))
    assert archive["format"] == "flylive-export/1" and archive["user_id"] == r.sender_id
    tables = archive["tables"]
    assert set(tables) == {t.name for t in TABLES}
    assert [u["id"] for u in tables["users"]] == [r.sender_id] and "password_hash" not in tables["users"][0]
    assert {(f["follower_id"], f["following_id"]) for f in tables["user_followers"]} == {
        (r.sender_id, r.host_id), (r.host_id, r.sender_id)}  # fmt: skip
    assert [(b["blocker_id"], b["blocked_id"]) for b in tables["user_blocks"]] == [(r.sender_id, other.id)]
    assert any(n["kind"] == "follow" and n["actor_id"] == r.host_id for n in tables["notifications"])
    assert {t["kind"] for t in tables["ledger_transactions"]} >= {"admin_grant", "gift"}
    assert {e["account_id"] for e in tables["ledger_entries"]} == {r.sender_id}
    assert any(b["currency"] == "coins" and b["balance"] == 36 for b in tables["account_balances"])
    assert tables["auth_sessions"] and tables["user_consents"] and tables["rooms"] and tables["user_roles"]
    assert all("archive" not in e for e in tables["gdpr_exports"])
    # The host's gift received shows in the host's export, not the sender's rows only.
    host_job = (await (await client.post("/api/v1/me/export", headers=bearer(host))).json())["data"]
    host_link = (await wait_done(client, host, host_job["id"]))["download_url"]
    host_archive = json.loads(gzip.decompress(await (await client.get(host_link)).read()))
    assert "gift" in {t["kind"] for t in host_archive["tables"]["ledger_transactions"]}


async def test_signed_link_refuses_tampering_and_expiry(client: Client, make_client: Any) -> None:
    user, other = await new_user(client), await new_user(client)
    job = (await (await client.post("/api/v1/me/export", headers=bearer(user.token))).json())["data"]
    link = (await wait_done(client, user.token, job["id"]))["download_url"]
    assert (await client.get(link)).status == 200
    elsewhere = await make_client()  # any engine process serves the archive (it is in PostgreSQL)
    served = await elsewhere.get(link)
    assert served.status == 200 and json.loads(gzip.decompress(await served.read()))["user_id"] == user.id
    flipped = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert (await client.get(flipped)).status == 403
    assert (await client.get(link.replace(f"user={user.id}", f"user={other.id}"))).status == 403
    assert (await client.get(link.replace(f"/export/{job['id']}/", f"/export/{job['id'] + 1}/"))).status == 403
    later = link.replace("expires=", "expires=9")  # a longer validity, not signed
    assert (await client.get(later)).status == 403
    assert (await client.get(link.split("&signature")[0])).status == 422
    expired = download_path(TEST_SECRET, job["id"], user.id, int(time.time()) - 1)  # well signed, past its time
    resp = await client.get(expired)
    assert resp.status == 410 and (await resp.json())["error"]["code"] == "link_expired"
    wrong_key = download_path("another-secret-" + "y" * 40, job["id"], user.id, int(time.time()) + 600)
    assert (await client.get(wrong_key)).status == 403


async def test_one_export_at_a_time_then_the_rate_limit(make_client: Any) -> None:
    client = await make_client(export_rate_limit=Rate(2, 3600))
    await client.app[GDPR].worker.stop()  # run the job by hand, to see it queued and in progress
    user = await new_user(client)
    first = await client.post("/api/v1/me/export", headers=bearer(user.token))
    assert first.status == 202
    busy = await client.post("/api/v1/me/export", headers=bearer(user.token))
    assert busy.status == 409 and (await busy.json())["error"]["code"] == "export_in_progress"
    svc = client.app[SERVICES]
    assert await actions.run_one_export(svc) is True
    assert await actions.run_one_export(svc) is False  # nothing left
    job_id = (await first.json())["data"]["id"]
    assert (await (await client.get(f"/api/v1/me/export/{job_id}", headers=bearer(user.token))).json())["data"][
        "state"] == "done"  # fmt: skip
    second = await client.post("/api/v1/me/export", headers=bearer(user.token))
    assert second.status == 202
    assert await actions.run_one_export(svc) is True
    third = await client.post("/api/v1/me/export", headers=bearer(user.token))
    assert third.status == 429 and int(third.headers["Retry-After"]) > 0
    assert (await third.json())["error"]["code"] == "rate_limited"


async def test_two_processes_never_run_one_export(make_client: Any) -> None:
    a, b = await make_client(), await make_client()
    for app_client in (a, b):
        await app_client.app[GDPR].worker.stop()
    users = [await new_user(a) for _ in range(3)]
    for user in users:
        assert (await a.post("/api/v1/me/export", headers=bearer(user.token))).status == 202
    svc_a, svc_b = a.app[SERVICES], b.app[SERVICES]
    ran = await asyncio.gather(*(actions.run_one_export(s) for s in (svc_a, svc_b, svc_a, svc_b, svc_a, svc_b)))
    assert sorted(ran) == [False, False, False, True, True, True]
    async with svc_a.pool.acquire() as conn:
        rows = await conn.fetch("SELECT state, attempts FROM gdpr_exports ORDER BY id")
    assert [(r["state"], r["attempts"]) for r in rows] == [("done", 1)] * 3


async def test_live_sockets_are_not_needed_for_export(client: Client, connect: Any) -> None:
    """The export runs off the request: the answer comes before the archive, and the socket of the
    user stays open (an export is not a revocation)."""
    user = await new_user(client)
    peer: Peer = await connect(client, user)
    resp = await client.post("/api/v1/me/export", headers=bearer(user.token))
    assert resp.status == 202
    job = await wait_done(client, user.token, (await resp.json())["data"]["id"])
    assert job["state"] == "done" and peer.sio.connected
    assert (
        msgspec.json.decode(gzip.decompress(await (await client.get(job["download_url"])).read()))["user_id"] == user.id
    )


async def test_a_lost_lease_is_taken_over_and_the_old_holder_fenced_off(client: Client) -> None:
    await client.app[GDPR].worker.stop()
    user = await new_user(client)
    assert (await client.post("/api/v1/me/export", headers=bearer(user.token))).status == 202
    svc = client.app[SERVICES]
    async with svc.pool.acquire() as a, svc.pool.acquire() as b:
        claimed = await store.claim_export(a, 60)
        assert claimed is not None
        job, first = claimed
        assert await store.claim_export(b, 60) is None  # held, lease running
        assert await store.progress(a, job["id"], first, 1, 1, 60)
        await a.execute("UPDATE gdpr_exports SET lease_until = now() - interval '1 second'")  # its holder died
        taken = await store.claim_export(b, 60)
        assert taken is not None and taken[0]["id"] == job["id"] and taken[1] != first
        assert not await store.progress(a, job["id"], first, 2, 2, 60)  # the old holder may not write
        assert not await store.finish(a, job["id"], first, b"stale", 60)
        assert await store.finish(b, job["id"], taken[1], gzip.compress(b"{}"), 60)
        row = await a.fetchrow("SELECT state, attempts, archive FROM gdpr_exports WHERE id = $1", job["id"])
    assert (row["state"], row["attempts"], gzip.decompress(row["archive"])) == ("done", 2, b"{}")
