"""The month-end settlement and the leaver's final settlement (issue 13 §3, engine/agency/settlement.py):
each member paid once whatever is re-run or killed, the setting of cumulative targets, IECP diamonds in
the live wallet, the owner's share less advances, a leaver paid the month so far and the month end the
rest, the CLI, the job's grace, and the routes' permission matrix."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from engine.agency.settlement import settle_due, settle_leaver, settle_month
from engine.appkeys import AGENCIES, CONFIG, SERVICES
from engine.cli import main as cli_main
from engine.economy import store as economy_store
from engine.economy.model import Leg, make_txn
from engine.economy.reconcile import reconcile
from tests.agency_setup import agency_share_probe, cast, new_agency
from tests.helpers import TEST_SECRET, User, bearer, db, drain_ledger, new_user

ROOT = Path(__file__).resolve().parent.parent
JUNE = dt.date(2025, 6, 1)  # a past business month (BUSINESS_TIMEZONE is UTC in these tests)


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 6, day, hour, tzinfo=dt.UTC)


async def earn(conn: asyncpg.Connection, agency_id: int, user_id: int, coins: int, when: dt.datetime,
               mic_ms: int = 0) -> None:  # fmt: skip
    """Income at a precise instant of a past month. These rows are exactly what sql/0020's triggers
    write from a gift's ledger transaction (kind 'gift') or a room visit (kind 'mic'); writing them
    directly is the one way to place income in a month that is over."""
    await conn.execute(
        """INSERT INTO agency_income_events (agency_id, user_id, kind, coins, mic_ms, source, happened_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        agency_id, user_id, "gift" if coins else "mic", coins, mic_ms, uuid.uuid4().hex, when,
    )  # fmt: skip


async def usd(conn: asyncpg.Connection, account_type: str, account_id: int) -> int:
    return await economy_store.held_balance(conn, account_type, account_id, "usd_cents")


async def kinds_for(conn: asyncpg.Connection, user_id: int) -> list[tuple[str, int]]:
    """The settlement transactions a member has a leg in: (kind, amount), oldest first."""
    rows = await conn.fetch(
        """SELECT t.kind, e.amount FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
           WHERE e.account_type = 'user' AND e.account_id = $1 AND t.kind IN ('agency_settlement', 'agency_iecp')
           ORDER BY t.recorded_at, t.kind""",
        user_id,
    )  # fmt: skip
    return [(r["kind"], int(r["amount"])) for r in rows]


async def diamonds(client: Any, user: User) -> int:
    resp = await client.get("/api/v1/wallet", headers=bearer(user.token))
    assert resp.status == 200
    return int((await resp.json())["data"]["diamonds"])


async def advance(conn: asyncpg.Connection, agency_id: int, cents: int, month: str = "2025-06") -> None:
    """An owner's salary advance as the "owner" part records it (contracts: agency_salary_advance)."""
    legs = [Leg("mint", 0, "usd_cents", -cents), Leg("agency", agency_id, "usd_cents", cents)]
    txn = make_txn("agency_salary_advance", legs, ref_type="agency_month", ref_id=month,
                   metadata={"agency_id": agency_id})  # fmt: skip
    async with conn.transaction():
        assert await economy_store.apply_held_txn(conn, txn) == "ok"


async def june_earnings(client: Any) -> tuple[Any, Any]:
    """The cast's agency with June income: the member 25,000 coins (targets 10k and 20k reached,
    5,000 excess), the admin 5,000 (none reached: all excess), the moderator only mic time."""
    c = await cast(client)
    async with db(client.app[CONFIG].database_url) as conn:
        await earn(conn, c.agency_id, c.member.id, 15_000, at(3))
        await earn(conn, c.agency_id, c.member.id, 10_000, at(30, 23))
        await earn(conn, c.agency_id, c.admin.id, 5_000, at(10))
        await earn(conn, c.agency_id, c.moderator.id, 0, at(11), mic_ms=3_600_000)
        # Outside June: the last instant of May and the first of July count in neither month's June.
        await earn(conn, c.agency_id, c.member.id, 99_000, dt.datetime(2025, 5, 31, 23, 59, 59, tzinfo=dt.UTC))
        await earn(conn, c.agency_id, c.member.id, 99_000, dt.datetime(2025, 7, 1, tzinfo=dt.UTC))
    return c, client.app[SERVICES]


async def test_settling_twice_pays_once(client: Any) -> None:
    c, svc = await june_earnings(client)
    other_owner = await new_user(client, "Other owner")
    other = await new_agency(client, other_owner, c.staff)
    host = await new_user(client, "Host")
    async with db(client.app[CONFIG].database_url) as conn:
        await earn(conn, other, host.id, 1_000, at(5))
        await advance(conn, c.agency_id, 25)
        await advance(conn, other, 500)  # more than the month's share: nothing is clawed back
        await advance(conn, c.agency_id, 999, month="2025-05")  # another month's advance: not this one's

    outcome, run = await settle_month(svc, JUNE)
    assert outcome == "closed" and run is not None
    assert (run["state"], run["members"], run["usd_cents"], run["diamonds"], run["agencies"]) == (
        "closed", 4, 2000, 2500 + 2500 + 500, 2)  # fmt: skip
    # ASP: 2 % of 30,000 coins = 600 coins = 60 cents at 1,000 coins per dollar, less the 25 drawn.
    assert run["agency_usd_cents"] == 35
    await drain_ledger(svc)  # the diamond credits' ledger entries
    async with db(client.app[CONFIG].database_url) as conn:
        assert sorted(await kinds_for(conn, c.member.id)) == [("agency_iecp", 2500), ("agency_settlement", 2000)]
        assert await usd(conn, "user", c.member.id) == 2000  # highest target only (the default setting)
        assert await kinds_for(conn, c.admin.id) == [("agency_iecp", 2500)]
        assert await kinds_for(conn, c.moderator.id) == []
        assert await usd(conn, "agency", c.agency_id) == 35 + 25 + 999
        assert await usd(conn, "agency", other) == 500  # the advance only; share 2 cents - 500 → 0
        share = await conn.fetchrow("SELECT * FROM agency_share_settlements WHERE agency_id = $1", other)
        assert (share["share_usd_cents"], share["advances_usd_cents"], share["paid_usd_cents"], share["txn_id"]) == (
            2, 500, 0, None)  # fmt: skip
        moderator = await conn.fetchrow("SELECT * FROM agency_settlements WHERE user_id = $1", c.moderator.id)
        assert (moderator["coins"], moderator["valid_seconds"], moderator["iecp_state"]) == (0, 3600, "none")
        txns = await conn.fetchval("SELECT count(*) FROM ledger_transactions")
    # The IECP diamonds are in the live wallet.
    assert await diamonds(client, c.member) == 2500 and await diamonds(client, c.admin) == 2500

    again, run2 = await settle_month(svc, JUNE)
    assert again == "already" and run2 is not None and run2["usd_cents"] == 2000
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM ledger_transactions") == txns
        assert await usd(conn, "user", c.member.id) == 2000
    assert await diamonds(client, c.member) == 2500
    assert (await reconcile(svc)).ok
    async with db(client.app[CONFIG].database_url) as conn:
        audited = await conn.fetch("SELECT target_id, details FROM audit_log WHERE action = 'agency.settlement_close' "
                                   "AND target_id = '2025-06'")  # fmt: skip
    assert [(r["target_id"], json.loads(r["details"])["usd_cents"]) for r in audited] == [("2025-06", 2000)]


async def test_cumulative_targets_pay_every_target_reached(client: Any) -> None:
    c, svc = await june_earnings(client)
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE economy_settings SET value = 1 WHERE key = 'agency_targets_cumulative'")
        await conn.execute("UPDATE agency_income_targets SET valid_hours = 1 WHERE coins = 20000")
        await earn(conn, c.agency_id, c.member.id, 0, at(4), mic_ms=2 * 3_600_000)  # a day's 2 h: the 1 h needed
    assert (await settle_month(svc, JUNE))[0] == "closed"
    async with db(client.app[CONFIG].database_url) as conn:
        assert await usd(conn, "user", c.member.id) == 1000 + 2000  # 10,000 and 20,000 reached
        row = await conn.fetchrow("SELECT * FROM agency_settlements WHERE user_id = $1", c.member.id)
    assert (row["reached_coins"], row["excess_coins"], row["iecp_diamonds"]) == (20_000, 5_000, 2_500)


async def assert_paid_once(client: Any, c: Any) -> None:
    """After any number of runs, killed or not: the June figures, each paid exactly once."""
    svc = client.app[SERVICES]
    await drain_ledger(svc)
    async with db(client.app[CONFIG].database_url) as conn:
        assert sorted(await kinds_for(conn, c.member.id)) == [("agency_iecp", 2500), ("agency_settlement", 2000)]
        assert await kinds_for(conn, c.admin.id) == [("agency_iecp", 2500)]
        rows = await conn.fetch("SELECT user_id, iecp_state FROM agency_settlements WHERE month = $1", JUNE)
        assert len(rows) == 3 and all(r["iecp_state"] in ("done", "none") for r in rows)
        assert await conn.fetchval("SELECT count(*) FROM ledger_transactions WHERE kind = 'agency_share'") == 1
        assert await conn.fetchval("SELECT state FROM agency_settlement_runs WHERE month = $1", JUNE) == "closed"
    assert await diamonds(client, c.member) == 2500 and await diamonds(client, c.admin) == 2500
    report = await reconcile(svc)
    assert report.ok, report.render()


class Stop(Exception):
    pass


async def test_a_run_killed_half_way_then_run_again_pays_each_member_once(client: Any) -> None:
    """Three interruptions, each at a different point of a member's payment: after the row and its
    USD committed (diamonds not credited), after the diamonds were credited (the row still says
    pending), and after a member was done."""
    c, svc = await june_earnings(client)
    for stage, nth in (("committed", 1), ("credited", 1), ("done", 2)):
        seen: list[int] = []

        async def interrupt(at_stage: str, row: dict[str, Any], stage: str = stage, nth: int = nth,
                            seen: list[int] = seen) -> None:  # fmt: skip
            if at_stage == stage:
                seen.append(row["user_id"])
                if len(seen) == nth:
                    raise Stop(stage)

        try:
            await settle_month(svc, JUNE, hook=interrupt)
        except Stop:
            pass
        else:
            raise AssertionError(f"the run was not interrupted at {stage}")
        async with db(client.app[CONFIG].database_url) as conn:
            assert await conn.fetchval("SELECT state FROM agency_settlement_runs WHERE month = $1", JUNE) == "running"
    async with db(client.app[CONFIG].database_url) as conn:
        attempts = await conn.fetchval("SELECT attempts FROM agency_settlement_runs WHERE month = $1", JUNE)
    assert attempts == 3
    # Staff see the unfinished run and what it paid so far (every member; not the agency's share yet).
    resp = await client.get("/api/v1/admin/agency-settlements?month=2025-06", headers=bearer(c.staff.token))
    (running,) = (await resp.json())["data"]["items"]
    assert (running["state"], running["members"], running["usd_cents"], running["diamonds"], running["agencies"]) == (
        "running", 3, 2000, 5000, 0)  # fmt: skip
    outcome, run = await settle_month(svc, JUNE)
    assert outcome == "closed" and run is not None and run["attempts"] == 4
    await assert_paid_once(client, c)


async def test_a_cancelled_run_resumes(client: Any) -> None:
    """A real interruption: the run's task cancelled as soon as its first member row is in."""
    c, svc = await june_earnings(client)
    task = asyncio.create_task(settle_month(svc, JUNE))
    async with db(client.app[CONFIG].database_url) as conn:
        while not await conn.fetchval("SELECT count(*) FROM agency_settlements"):
            assert not task.done()
            await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT state FROM agency_settlement_runs WHERE month = $1", JUNE) == "running"
    assert (await settle_month(svc, JUNE))[0] == "closed"
    await assert_paid_once(client, c)


async def test_two_runs_of_one_month_at_once_one_waits(client: Any) -> None:
    c, svc = await june_earnings(client)
    first, second = await asyncio.gather(settle_month(svc, JUNE), settle_month(svc, JUNE))
    assert sorted([first[0], second[0]]) in (["busy", "closed"], ["already", "closed"])
    await assert_paid_once(client, c)


def cli_env(client: Any) -> dict[str, str]:
    config = client.app[CONFIG]
    return {**os.environ, "DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url,
            "REDIS_PREFIX": config.redis_prefix, "JWT_SECRET": TEST_SECRET, "FLYLIVE_ENV": "development",
            "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}  # fmt: skip


async def cli(client: Any, *args: str) -> tuple[int, str, str]:
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "engine.cli", *args, env=cli_env(client),
                                                stdout=pipe, stderr=pipe)  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_settles_a_past_month_once(client: Any, monkeypatch: Any, capsys: Any) -> None:
    c, _svc = await june_earnings(client)
    code, out, err = await cli(client, "agency", "settle", "--month", "2025-06")
    assert code == 0, err
    assert out.strip() == ("settled 2025-06: 3 members paid $20.00 in target rewards and 5,000 diamonds; "
                           "1 agencies paid $0.60 of agency share")  # fmt: skip
    code, out, _ = await cli(client, "agency", "settle", "--month", "2025-06")
    assert code == 0 and out.startswith("2025-06 is already settled (closed ")
    await assert_paid_once(client, c)
    # The refusals, in this process (engine.cli.main reads the same environment).
    for name, value in cli_env(client).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    current = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    assert await asyncio.to_thread(cli_main, ["agency", "settle", "--month", current]) == 2
    out, err = capsys.readouterr()
    assert f"{current} has not ended yet in UTC" in err and out == ""
    assert await asyncio.to_thread(cli_main, ["agency", "settle", "--month", "2025-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    async with db(client.app[CONFIG].database_url) as conn:
        this_month = dt.date.fromisoformat(current + "-01")
        assert await conn.fetchval("SELECT count(*) FROM agency_settlement_runs WHERE month = $1", this_month) == 0


async def test_the_cli_killed_mid_way_then_run_again(client: Any) -> None:
    """The settlement process killed (SIGKILL) while it pays 150 members, then run again."""
    c = await cast(client)
    async with db(client.app[CONFIG].database_url) as conn:
        ids = [r["id"] for r in await conn.fetch(
            """INSERT INTO users (name, phone, signature, password_hash, country, gender, dob)
               SELECT 'Host ' || g, '+1999' || lpad(g::text, 7, '0'), 'settle_host_' || g, '', 'us', 3, '1990-01-01'
               FROM generate_series(1, 150) g RETURNING id""")]  # fmt: skip
        for n, user_id in enumerate(ids):
            await earn(conn, c.agency_id, user_id, 1_000 + n, at(1 + n % 28))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "engine.cli", "agency", "settle", "--month",
                                                "2025-06", env=cli_env(client), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
    async with db(client.app[CONFIG].database_url) as conn:
        while await conn.fetchval("SELECT count(*) FROM agency_settlements") < 10:
            assert proc.returncode is None, "the run ended before it could be killed"
            await asyncio.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        done = await conn.fetchval("SELECT count(*) FROM agency_settlements")
        assert 10 <= done < 150
        assert await conn.fetchval("SELECT state FROM agency_settlement_runs WHERE month = $1", JUNE) == "running"
    code, out, err = await cli(client, "agency", "settle", "--month", "2025-06")
    assert code == 0, err
    assert out.startswith("settled 2025-06: 150 members")
    svc = client.app[SERVICES]
    await drain_ledger(svc)
    async with db(client.app[CONFIG].database_url) as conn:
        credits = await conn.fetch(
            """SELECT e.account_id, count(*) AS n, sum(e.amount) AS total FROM ledger_entries e
               JOIN ledger_transactions t USING (txn_id)
               WHERE t.kind = 'agency_iecp' AND e.account_type = 'user' GROUP BY 1""")  # fmt: skip
    assert len(credits) == 150
    assert all(r["n"] == 1 and r["total"] == (1_000 + ids.index(r["account_id"])) // 2 for r in credits)
    report = await reconcile(svc)
    assert report.ok, report.render()


async def test_the_job_settles_the_previous_month_after_the_grace(client: Any) -> None:
    c, svc = await june_earnings(client)
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("DELETE FROM agency_income_events WHERE happened_at < $1", at(1, 0))  # May: nothing
        # The app's own job settled the real previous month (empty) at its start; this test plays
        # the clock in 2025, so it forgets that run once it closed.
        for _ in range(500):
            if await conn.fetchval("SELECT count(*) FROM agency_settlement_runs WHERE state = 'closed'"):
                break
            await asyncio.sleep(0.01)
        await conn.execute("DELETE FROM agency_settlement_runs")
    assert svc.config.agency_settlement_grace_minutes == 10
    assert await settle_due(svc, now=dt.datetime(2025, 7, 1, 0, 5, tzinfo=dt.UTC)) == ["2025-05"]  # June: in grace
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM agency_settlements") == 0
    assert await settle_due(svc, now=dt.datetime(2025, 7, 1, 0, 11, tzinfo=dt.UTC)) == ["2025-06"]
    assert await settle_due(svc, now=dt.datetime(2025, 7, 2, tzinfo=dt.UTC)) == []  # closed: not again
    await assert_paid_once(client, c)
    # The job was not running at the ends of July and August: September 3rd settles both.
    assert await settle_due(svc, now=dt.datetime(2025, 9, 3, tzinfo=dt.UTC)) == ["2025-07", "2025-08"]


async def test_a_leaver_then_the_month_end_pay_only_what_is_due(client: Any) -> None:
    """A member who left in June (final settlement), rejoined later in June and earned more: the month
    end pays only what the whole month owes beyond the final settlement, and claws nothing back."""
    c = await cast(client)
    ag, svc = client.app[AGENCIES], client.app[SERVICES]
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE agency_members SET joined_at = $2 WHERE user_id = $1", c.member.id, at(1))
        await earn(conn, c.agency_id, c.member.id, 8_000, at(2))
        first = await conn.fetchval("UPDATE agency_members SET left_at = $2, left_reason = 'left' WHERE user_id = $1 "
                                    "RETURNING id", c.member.id, at(10))  # fmt: skip
    await settle_leaver(ag, c.agency_id, c.member.id, first)
    await settle_leaver(ag, c.agency_id, c.member.id, first)  # twice: one row, one payment
    await drain_ledger(svc)
    async with db(client.app[CONFIG].database_url) as conn:
        assert await kinds_for(conn, c.member.id) == [("agency_iecp", 4000)]  # no target: all 8,000 excess
        await conn.execute("INSERT INTO agency_members (agency_id, user_id, joined_at) VALUES ($1, $2, $3)",
                           c.agency_id, c.member.id, at(20))  # fmt: skip
        await earn(conn, c.agency_id, c.member.id, 4_000, at(21))
    assert (await settle_month(svc, JUNE))[0] == "closed"
    await drain_ledger(svc)
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT kind, coins, reward_usd_cents, iecp_diamonds, iecp_total_diamonds FROM "
                                "agency_settlements WHERE user_id = $1 ORDER BY id", c.member.id)  # fmt: skip
        # 12,000 coins: the 10,000 target pays $10; its 2,000 excess is worth 1,000 diamonds, less
        # than the 4,000 the final settlement paid: nothing more, nothing taken back.
        assert [tuple(r) for r in rows] == [("leaver", 8000, 0, 4000, 4000), ("month_end", 12000, 1000, 0, 1000)]
        assert await usd(conn, "user", c.member.id) == 1000
    assert await diamonds(client, c.member) == 4000
    assert (await reconcile(svc)).ok


async def test_a_host_leaving_mid_month_is_paid_for_the_time_before(client: Any, connect: Any) -> None:
    """End to end: gifts to a member, their leave approved (the final settlement pays the month so
    far), a later gift earns the agency nothing and is not in the settlement."""
    c, svc = await cast(client), client.app[SERVICES]
    sender = await new_user(client, "Sender", role="admin")
    gift = await agency_share_probe(client, client, connect, sender, c.member, "settle-leaver")

    async def gifts_to_member() -> list[tuple[int, int]]:
        """Each gift to the member so far: (its agency legs, its income rows), once in the ledger."""
        await drain_ledger(svc)
        async with db(client.app[CONFIG].database_url) as conn:
            rows = await conn.fetch(
                """SELECT (SELECT count(*) FROM ledger_entries a WHERE a.txn_id = t.txn_id
                           AND a.account_type = 'agency') AS agency_legs,
                          (SELECT count(*) FROM agency_income_events i
                           WHERE i.source = t.txn_id::text || ':' || $1::bigint) AS income_rows
                   FROM ledger_transactions t
                   WHERE t.kind = 'gift' AND t.metadata -> 'recipients' @> to_jsonb($1::bigint)
                   ORDER BY t.created_at""",
                c.member.id,
            )  # fmt: skip
        return [(r["agency_legs"], r["income_rows"]) for r in rows]

    await gift()
    await gift()  # 2 × 10 coins, in the agency
    assert await gifts_to_member() == [(1, 1), (1, 1)]
    rid = (await (await client.post(f"/api/v1/agencies/{c.agency_id}/leave-requests", json={"reason": "Bye."},
                                    headers=bearer(c.member.token))).json())["data"]["id"]  # fmt: skip
    before = await diamonds(client, c.member)
    resp = await client.post(f"/api/v1/agencies/{c.agency_id}/leave-requests/{rid}/approve",
                             headers=bearer(c.owner.token))  # fmt: skip
    assert resp.status == 200
    assert await diamonds(client, c.member) == before + 10  # the final settlement: 20 excess coins × 50 %
    await gift()  # after leaving: no agency share, no income row
    assert await gifts_to_member() == [(1, 1), (1, 1), (0, 0)]
    async with db(client.app[CONFIG].database_url) as conn:
        income = await conn.fetchval("SELECT sum(coins) FROM agency_income_events WHERE user_id = $1", c.member.id)
        row = await conn.fetchrow("SELECT * FROM agency_settlements WHERE user_id = $1", c.member.id)
        membership = await conn.fetchval("SELECT id FROM agency_members WHERE user_id = $1", c.member.id)
    assert income == 20
    assert (row["kind"], row["membership_id"], row["coins"], row["iecp_diamonds"], row["iecp_state"]) == (
        "leaver", membership, 20, 10, "done")  # fmt: skip
    report = await reconcile(svc)
    assert report.ok, report.render()


async def test_removed_and_dissolved_members_get_their_final_settlement(client: Any) -> None:
    c = await cast(client)
    now = dt.datetime.now(dt.UTC)
    async with db(client.app[CONFIG].database_url) as conn:
        for user in (c.member, c.admin, c.moderator):
            await earn(conn, c.agency_id, user.id, 2_000, now - dt.timedelta(seconds=1))
    resp = await client.delete(f"/api/v1/agencies/{c.agency_id}/members/{c.member.id}", headers=bearer(c.owner.token))
    assert resp.status == 200
    resp = await client.post(f"/api/v1/agencies/{c.agency_id}/close", json={"reason": "Done."},
                             headers=bearer(c.owner.token))  # fmt: skip
    assert resp.status == 200
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT user_id, kind, iecp_diamonds FROM agency_settlements ORDER BY id")
    assert [(r["user_id"], r["kind"], r["iecp_diamonds"]) for r in rows][:1] == [(c.member.id, "leaver", 1000)]
    assert {r["user_id"] for r in rows} == {c.member.id, c.admin.id, c.moderator.id}
    assert all(r["kind"] == "leaver" for r in rows)


async def test_the_settlement_routes_permission_matrix(client: Any) -> None:
    c, svc = await june_earnings(client)
    await settle_month(svc, JUNE)
    admin_url, agency_url = "/api/v1/admin/agency-settlements", f"/api/v1/agencies/{c.agency_id}/settlements"
    for name, user in c.everyone().items():
        resp = await client.get(f"{admin_url}?month=2025-06", headers=bearer(user.token))
        assert resp.status == (200 if name == "staff" else 403), name
        resp = await client.get(f"{agency_url}?month=2025-06", headers=bearer(user.token))
        assert resp.status == (200 if name in ("owner", "admin", "staff") else 403), name
    runs = (await (await client.get(f"{admin_url}?month=2025-06", headers=bearer(c.staff.token))).json())["data"]
    assert [(r["month"], r["state"], r["members"], r["usd_cents"]) for r in runs["items"]] == [
        ("2025-06", "closed", 3, 2000)]  # fmt: skip
    page = await (await client.get(f"{agency_url}?month=2025-06&limit=2", headers=bearer(c.owner.token))).json()
    items = page["data"]["items"]
    assert len(items) == 2 and page["data"]["next_cursor"]
    rest = (await (await client.get(f"{agency_url}?month=2025-06&limit=2&cursor={page['data']['next_cursor']}",
                                    headers=bearer(c.owner.token))).json())["data"]  # fmt: skip
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    by_user = {i["user"]["id"]: i for i in items + rest["items"]}
    assert by_user[c.member.id]["reward_usd_cents"] == 2000 and by_user[c.member.id]["kind"] == "month_end"
    empty = (await (await client.get(f"{agency_url}?month=2025-05", headers=bearer(c.owner.token))).json())["data"]
    assert empty["items"] == []
    assert (await client.get(f"{agency_url}?month=2025-6", headers=bearer(c.owner.token))).status == 422
    assert (await client.get(f"{admin_url}?month=june", headers=bearer(c.staff.token))).status == 422
    assert (await client.get(f"{agency_url}?cursor=xx", headers=bearer(c.owner.token))).status == 422
    assert (await client.get("/api/v1/agencies/999999/settlements", headers=bearer(c.owner.token))).status == 404
    assert (await client.get(admin_url)).status == 401


async def test_the_month_is_the_business_time_zones(make_client: Any) -> None:
    """BUSINESS_TIMEZONE=Asia/Dubai (UTC+4): June runs from May 31 20:00 to June 30 20:00 UTC."""
    client = await make_client(business_timezone="Asia/Dubai")
    c = await cast(client)
    async with db(client.app[CONFIG].database_url) as conn:
        await earn(conn, c.agency_id, c.member.id, 4_000, dt.datetime(2025, 5, 31, 21, tzinfo=dt.UTC))  # June 1st
        await earn(conn, c.agency_id, c.member.id, 8_000, dt.datetime(2025, 6, 30, 19, tzinfo=dt.UTC))  # June 30th
        await earn(conn, c.agency_id, c.member.id, 50_000, dt.datetime(2025, 6, 30, 21, tzinfo=dt.UTC))  # July 1st
        await earn(conn, c.agency_id, c.admin.id, 50_000, dt.datetime(2025, 5, 31, 19, tzinfo=dt.UTC))  # May 31st
    assert (await settle_month(client.app[SERVICES], JUNE))[0] == "closed"
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT user_id, coins, reward_usd_cents FROM agency_settlements")
    assert [(r["user_id"], r["coins"], r["reward_usd_cents"]) for r in rows] == [(c.member.id, 12_000, 1000)]
