"""Agency income rows (sql/0020): a gift to an agency member writes one row per member, in the
flusher's transaction, whose commission is the agency's ledger leg; a gift to anyone else writes
none; a room visit with mic time is credited to the agency the user was in when it ended."""

from __future__ import annotations

from typing import Any

from engine.agency import income_store
from engine.appkeys import CONFIG
from tests.agency_setup import agency_share_probe, cast
from tests.helpers import db, new_user


async def test_gift_and_mic_rows_follow_the_ledger(client: Any, connect: Any) -> None:
    c = await cast(client)
    sender = await new_user(client, "Sender", role="admin")
    outsider_gift = await agency_share_probe(client, client, connect, sender, c.outsider, "income-rows-1")
    assert await outsider_gift() == []
    member_gift = await agency_share_probe(client, client, connect, sender, c.member, "income-rows-2")
    assert await member_gift() == [c.agency_id]
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT user_id, kind, coins, commission, diamonds FROM agency_income_events "
                                "WHERE agency_id = $1", c.agency_id)  # fmt: skip
        legs = await conn.fetch(
            """SELECT e.account_type, e.currency, e.amount FROM ledger_entries e JOIN ledger_transactions t
               USING (txn_id) WHERE t.kind = 'gift' AND t.metadata ? 'agency_income'
               AND (e.account_type = 'agency' OR (e.account_id = $1 AND e.currency = 'diamonds'))""",
            c.member.id,
        )  # fmt: skip
        assert [(r["user_id"], r["kind"], r["coins"]) for r in rows] == [(c.member.id, "gift", 10)]
        assert rows[0]["commission"] == sum(r["amount"] for r in legs if r["account_type"] == "agency") > 0
        assert rows[0]["diamonds"] == sum(r["amount"] for r in legs if r["currency"] == "diamonds") > 0
        assert await income_store.commission_drift(conn) == []

        # Mic time: credited to the agency the user was in when the visit ended, once per visit.
        for user_id, source in ((c.member.id, "visit-a"), (c.member.id, "visit-a"), (c.outsider.id, "visit-b")):
            await conn.execute(
                """INSERT INTO user_activity (user_id, kind, room_id, duration_ms, mic_ms, source, happened_at)
                   VALUES ($1, 'room_visit', 1, 7200000, 3600000, $2, now()) ON CONFLICT DO NOTHING""",
                user_id, source,
            )  # fmt: skip
        mic = await conn.fetch("SELECT user_id, mic_ms FROM agency_income_events WHERE kind = 'mic' "
                               "AND agency_id = $1", c.agency_id)  # fmt: skip
        assert [(r["user_id"], r["mic_ms"]) for r in mic] == [(c.member.id, 3600000)]
