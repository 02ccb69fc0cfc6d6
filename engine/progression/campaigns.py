"""Campaigns (issue 14 §5, docs/progression.md "Campaigns"): a staff-defined window, a rule, prizes
and a coin budget that can't be overspent.

- Progress is counted in PostgreSQL by the gift ledger's trigger (sql/0031), in the flusher's
  transaction: nothing on the socket path.
- The watcher (a Periodic on every process) pays new `gift_count` qualifiers, and closes campaigns
  `campaign_close_grace_seconds` past their end (paying a `top_senders` campaign's winners).
- A prize is paid in one transaction that holds the campaign's row: its coins are reserved with the
  conditional `UPDATE … WHERE spent_coins + n <= budget_coins` (campaigns_store.reserve_txn), the
  reward is recorded with `rewards.grant_reward_txn` (unique per user, source "campaign" and
  source_ref: once, whoever runs it), and the progress row gets its outcome. A refused reservation
  is `budget_exhausted`; a reward already recorded gives its reservation back (a savepoint) and is a
  `duplicate`. Coins are minted after the commit (`rewards.pay_pending`; the rewards sweep finishes
  what a crash leaves).
- The campaign's `event` badges (rule code = the campaign's code) go to every qualifier when decided
  and to every participant at the close (`badges.award_for_event`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import store as economy_store
from engine.economy.flusher import flush_all
from engine.errors import DomainError, not_found, validation_error
from engine.jobs import Periodic
from engine.progression import badges
from engine.progression import campaigns_store as store
from engine.progression.campaigns_model import (
    CampaignBody,
    CampaignPatch,
    GiftCount,
    Prize,
    TopSenders,
    admin_out,
    campaign_out,
    check_campaign,
    check_change,
    decode_prizes,
    decode_rule,
    encode_prizes,
    encode_rule,
    missing_refs,
    prize_coins,
    prize_for,
    progress_out,
    refs,
    reward_items,
    reward_ref,
    standing_out,
)
from engine.progression.rewards import RewardError, grant_reward_txn, pay_pending
from engine.realtime.server import RealtimeServer
from engine.services import Services
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.progression.campaigns")
WATCH_SECONDS = 2.0
PAY_BATCH = 50  # qualifiers per transaction: a flush adding to one of them waits at most this long
DEFAULT_GRACE_SECONDS = 120
Decision = tuple[int, str, int | None]  # (user_id, outcome, reward_id)


class _Undo(Exception):
    """Leave the prize's savepoint: nothing of it stays (the reservation is given back)."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome


# --- staff -------------------------------------------------------------------------------------


async def _check_refs(conn: Conn, prizes: list[Prize]) -> None:
    frames, badge_ids = refs(prizes, "frame"), refs(prizes, "badge")
    if frames or badge_ids:
        found = await store.existing(conn, frames, badge_ids)
        if errors := missing_refs(prizes, *found):
            raise validation_error(errors)


def _check_not_over(state: str, ends_at: dt.datetime) -> None:
    if state == "active" and ends_at <= dt.datetime.now(dt.UTC):
        raise validation_error({"ends_at": ["An active campaign must end in the future."]})


async def create_campaign(svc: Services, actor_id: int, body: CampaignBody, ip: str | None) -> dict[str, Any]:
    check_campaign(body.rule, body.prizes, body.starts_at, body.ends_at)
    _check_not_over(body.state, body.ends_at)
    values = {f: getattr(body, f) for f in body.__struct_fields__}
    values |= {"rule": encode_rule(body.rule), "prizes": encode_prizes(body.prizes), "created_by": actor_id}
    async with svc.pool.acquire() as conn, conn.transaction():
        await _check_refs(conn, body.prizes)
        row = await store.insert(conn, values)
        if row is None:
            raise DomainError("campaign_code_taken", f"A campaign with code {body.code} exists.", status=409)
        await audit_txn(conn, actor_id=actor_id, action="campaign.create", target_type="campaign",
                        target_id=row["id"], details={"after": admin_out(row)}, ip=ip)  # fmt: skip
    log.info("campaign created", extra={"actor_id": actor_id, "campaign_id": row["id"], "code": body.code})
    return admin_out(row)


async def update_campaign(svc: Services, actor_id: int, campaign_id: int, body: CampaignPatch,
                          sent: set[str], ip: str | None) -> dict[str, Any]:  # fmt: skip
    changes = {f: getattr(body, f) for f in body.__struct_fields__ if f in sent}
    if any(v is None for v in changes.values()):
        raise validation_error({f: ["May not be null."] for f, v in changes.items() if v is None})
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.lock_txn(conn, campaign_id)
        if before is None:
            raise not_found("Campaign")
        check_change(before, set(changes), changes.get("state"))
        rule = changes.get("rule") or decode_rule(before["rule"])
        prizes = changes.get("prizes") or decode_prizes(before["prizes"])
        ends_at = changes.get("ends_at", before["ends_at"])
        check_campaign(rule, prizes, changes.get("starts_at", before["starts_at"]), ends_at)
        _check_not_over(changes.get("state", before["state"]), ends_at)
        if changes.get("budget_coins", before["budget_coins"]) < before["spent_coins"]:
            raise validation_error({"budget_coins": [f"{before['spent_coins']} coins are spent already."]})
        if "prizes" in changes:
            await _check_refs(conn, prizes)
            changes["prizes"] = encode_prizes(prizes)
        if "rule" in changes:
            changes["rule"] = encode_rule(rule)
        row = await store.update_txn(conn, campaign_id, changes) if changes else before
        if row["budget_coins"] > before["budget_coins"]:  # more budget: the refused qualifiers queue again
            await store.requeue_exhausted_txn(conn, campaign_id)
        await audit_txn(conn, actor_id=actor_id, action="campaign.update", target_type="campaign",
                        target_id=campaign_id, details={"before": admin_out(before), "after": admin_out(row)},
                        ip=ip)  # fmt: skip
    log.info("campaign updated", extra={"actor_id": actor_id, "campaign_id": campaign_id, "fields": sorted(changes)})
    return admin_out(row)


async def admin_list(svc: Services, state: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.admin_page(conn, state, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [admin_out(r) for r in items], "next_cursor": next_cursor}


# --- public reads ------------------------------------------------------------------------------


async def list_campaigns(svc: Services, cursor: str | None, limit: int) -> dict[str, Any]:
    """Running and upcoming campaigns, soonest start first."""
    after = decode_cursor(cursor, str, int)
    try:
        position = (dt.datetime.fromisoformat(after[0]).astimezone(dt.UTC), after[1]) if after else None
    except ValueError:
        raise validation_error({"cursor": ["The cursor field is not a cursor this list gave out."]}) from None
    async with svc.pool.acquire() as conn:
        rows = await store.public_page(conn, dt.datetime.now(dt.UTC), position, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["starts_at"].isoformat(), r["id"]))
    return {"items": [campaign_out(r) for r in items], "next_cursor": next_cursor}


async def _public(conn: Conn, campaign_id: int) -> dict[str, Any]:
    row = await store.get(conn, campaign_id)
    if row is None or row["state"] == "draft":  # a draft is not announced yet: as if it did not exist
        raise not_found("Campaign")
    return row


async def campaign(svc: Services, campaign_id: int, viewer: int | None) -> dict[str, Any]:
    """A campaign, with the viewer's own progress (`me`) when signed in."""
    async with svc.pool.acquire() as conn:
        row = await _public(conn, campaign_id)
        mine = await store.progress_of(conn, campaign_id, viewer) if viewer is not None else None
    return {**campaign_out(row), "me": progress_out(mine)}


async def results(svc: Services, campaign_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    """The standings (live while it runs, final once closed), with outcomes and the rewards paid."""
    (after,) = decode_cursor(cursor, int) or (0,)
    async with svc.pool.acquire() as conn:
        row = await _public(conn, campaign_id)
        rows = await store.standings(conn, campaign_id, row["rule"]["kind"], after, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["pos"],))
    return {"campaign": campaign_out(row), "items": [standing_out(r) for r in items], "next_cursor": next_cursor}


# --- paying --------------------------------------------------------------------------------------


async def _grant_txn(conn: Conn, camp: dict[str, Any], user_id: int, live: bool, prize: Prize,
                     rank: int | None) -> Decision:  # fmt: skip
    """Reserve the prize's coins and record its reward, or neither; the outcome is stored."""
    ref, reward_id, outcome = reward_ref(camp["id"], rank), None, "paid"
    try:
        async with conn.transaction():  # a savepoint
            if not live:
                raise _Undo("failed")  # the account is gone: the budget is kept for the others
            if await store.reserve_txn(conn, camp["id"], prize_coins(prize)) is None:
                raise _Undo("budget_exhausted")
            note = camp["title"] if rank is None else f"#{rank} {camp['title']}"
            granted = await grant_reward_txn(conn, user_id=user_id, source="campaign", source_ref=ref,
                                             items=reward_items(prize), note=note)  # fmt: skip
            if granted is None:
                raise _Undo("duplicate")
            reward_id = int(granted["id"])
    except _Undo as undo:
        outcome = undo.outcome
        if outcome == "duplicate":
            reward_id = await store.reward_id_of(conn, user_id, ref)
    except RewardError as exc:  # a prize item gone since the campaign was made (e.g. a mall item)
        log.warning("campaign prize refused", extra={"campaign_id": camp["id"], "user_id": user_id, "error": str(exc)})
        outcome = "failed"
    await store.decide_txn(conn, camp["id"], user_id, outcome, reward_id, rank)
    return user_id, outcome, reward_id


async def _pay_qualifiers_txn(conn: Conn, camp: dict[str, Any], limit: int) -> list[Decision]:
    """Undecided gift_count qualifiers of the locked campaign, in qualification order."""
    prize = decode_prizes(camp["prizes"])[0]
    return [await _grant_txn(conn, camp, row["user_id"], row["live"], prize, None)
            for row in await store.claim_qualifiers_txn(conn, camp["id"], limit)]  # fmt: skip


async def _pay_winners_txn(conn: Conn, camp: dict[str, Any], rule: TopSenders) -> list[Decision]:
    """A top_senders campaign's winners, best first, each the prize of their rank."""
    prizes, decided = decode_prizes(camp["prizes"]), []
    for rank, row in enumerate(await store.winners_txn(conn, camp["id"], rule.top, rule.min_coins), start=1):
        if (prize := prize_for(prizes, rank)) is not None:
            decided.append(await _grant_txn(conn, camp, row["user_id"], row["live"], prize, rank))
    return decided


async def _after_commit(svc: Services, camp: dict[str, Any], decided: list[Decision]) -> None:
    """Count the outcomes, mint the paid rewards' coins and give qualifiers the campaign's badges."""
    for _user, outcome, _reward in decided:
        svc.metrics.campaign_rewards.labels(camp["rule"]["kind"], outcome).inc()
    paid = [reward for _user, outcome, reward in decided if outcome == "paid" and reward is not None]
    if paid:
        await pay_pending(svc, paid)
    if decided and camp["rule"]["kind"] == "gift_count":
        await badges.award_for_event(svc, camp["code"], [user for user, outcome, _ in decided if outcome != "failed"])


async def pay_qualifiers(svc: Services, campaign_id: int | None = None) -> int:
    """Decide every waiting gift_count qualifier (of one campaign, or all); how many. Payers of a
    campaign take turns on its row lock, so qualifiers are served in the order they qualified."""
    if campaign_id is None:
        async with svc.pool.acquire() as conn:
            ids = await store.campaigns_to_pay(conn)
    else:
        ids = [campaign_id]
    total = 0
    for cid in ids:
        while True:
            async with svc.pool.acquire() as conn, conn.transaction():
                camp = await store.lock_txn(conn, cid, ("active", "closed"))
                if camp is None or camp["rule"]["kind"] != "gift_count":
                    break
                decided = await _pay_qualifiers_txn(conn, camp, PAY_BATCH)
            await _after_commit(svc, camp, decided)
            total += len(decided)
            if len(decided) < PAY_BATCH:
                break
    return total


# --- closing -------------------------------------------------------------------------------------


async def close(svc: Services, campaign_id: int) -> bool:
    """Close an active campaign once (a second call, here or elsewhere, finds it closed): its last
    qualifiers or its winners paid, then `closed`; every participant gets its event badges."""
    await pay_qualifiers(svc, campaign_id)  # most of a gift_count campaign's, outside the close
    async with svc.pool.acquire() as conn, conn.transaction():
        camp = await store.lock_txn(conn, campaign_id, ("active",))
        if camp is None:
            return False
        rule = decode_rule(camp["rule"])
        if isinstance(rule, GiftCount):
            decided = await _pay_qualifiers_txn(conn, camp, 10**6)  # any that qualified since
        else:
            decided = await _pay_winners_txn(conn, camp, rule)
        spent = await store.close_txn(conn, campaign_id)
        participants = await store.participant_ids(conn, campaign_id)
    await _after_commit(svc, camp, decided)
    await badges.award_for_event(svc, camp["code"], participants)
    outcomes = [outcome for _user, outcome, _reward in decided]
    log.info("campaign closed", extra={"campaign_id": campaign_id, "code": camp["code"], "kind": camp["rule"]["kind"],
                                       "participants": len(participants), "paid": outcomes.count("paid"),
                                       "budget_exhausted": outcomes.count("budget_exhausted"),
                                       "spent_coins": spent, "budget_coins": camp["budget_coins"]})  # fmt: skip
    return True


async def close_due(svc: Services, now: dt.datetime | None = None, consumer: str = "campaigns") -> list[int]:
    """Close every active campaign that ended `campaign_close_grace_seconds` ago; the ids closed now."""
    now = now or dt.datetime.now(dt.UTC)
    async with svc.pool.acquire() as conn:
        grace = (await economy_store.settings(conn)).get("campaign_close_grace_seconds", DEFAULT_GRACE_SECONDS)
        due = await store.due_to_close(conn, now, dt.timedelta(seconds=grace))
    if not due:
        return []
    await flush_all(svc, svc.wallets, consumer)  # the window's last gifts into the ledger (and progress)
    return [cid for cid in due if await close(svc, cid)]


async def watch(svc: Services, consumer: str = "campaigns") -> int:
    """One pass of the watcher: pay new qualifiers, close what is due."""
    return await pay_qualifiers(svc) + len(await close_due(svc, consumer=consumer))


def register_campaign_jobs(rt: RealtimeServer) -> None:
    """Every process watches (the campaign row lock and the reward ledger keep each prize once)."""
    rt.background.append(Periodic("campaigns", lambda: watch(rt.services, rt.instance_id), WATCH_SECONDS))
