"""Agencies (issue 15 §8, `agencies.review`): the application queue (approve, or reject with a
reason), and each agency's page with its members, this month's income and its members' settlements.
Every read and decision is the agency domain's own (the same as `/api/v1/admin/agencies…`)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from admin_ui.finance import iso, money
from admin_ui.web import AdminRoutes, client_of, form, path_id, redirect, render
from engine.agency import actions, membership, owner_income, settlement
from engine.agency.model import AdminListQuery, MembersQuery, RejectBody
from engine.agency.owner_model import IncomeQuery
from engine.agency.settlement_model import SettlementsQuery
from engine.appkeys import AGENCIES
from engine.errors import DomainError, validation_error
from engine.staff.model import StaffSession

routes = AdminRoutes()
REVIEW_STATES = ("pending", "approved", "rejected", "all")


@routes.page("GET", "/admin/agencies", permission="agencies.review")
async def queue(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    state = request.query.get("review_status", "pending")
    state = state if state in REVIEW_STATES else "pending"
    try:
        q = msgspec.convert({"review_status": None if state == "all" else state,
                             "cursor": request.query.get("cursor") or None, "limit": 50}, AdminListQuery)  # fmt: skip
    except msgspec.ValidationError as exc:
        raise validation_error({"cursor": [str(exc)]}) from exc
    listing = await actions.list_admin(request.app[AGENCIES], q)
    return render(request, "agencies/list.html", staff, items=listing["items"], next_cursor=listing["next_cursor"],
                  state=state, states=REVIEW_STATES, iso=iso)  # fmt: skip


async def _optional(read: Any) -> Any:
    """A part of the page the agency's state may not have (no income before approval): None then."""
    try:
        return await read
    except DomainError:
        return None


@routes.page("GET", "/admin/agencies/{id}", permission="agencies.review")
async def detail(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    ag, agency_id = request.app[AGENCIES], path_id(request, what="Agency")
    agency = await actions.get_agency(ag, staff.user_id, agency_id)
    members = await _optional(membership.members(ag, staff.user_id, agency_id, MembersQuery(limit=100)))
    income = await _optional(owner_income.income_page(ag, staff.user_id, agency_id, IncomeQuery(limit=20)))
    settled = await _optional(settlement.agency_settlements(ag, staff.user_id, agency_id, SettlementsQuery(limit=20)))
    return render(request, "agencies/detail.html", staff, agency=agency, money=money, iso=iso,
                  members=members["items"] if members else [], income=income,
                  settlements=settled["items"] if settled else [])  # fmt: skip


@routes.page("POST", "/admin/agencies/{id}/approve", permission="agencies.review")
async def approve(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    agency_id = path_id(request, what="Agency")
    row = await actions.do_review(request.app[AGENCIES], staff.user_id, agency_id, None, client_of(request).ip)
    raise redirect(f"/admin/agencies/{agency_id}", f"“{row['name']}” approved; its owner was told.")


@routes.page("POST", "/admin/agencies/{id}/reject", permission="agencies.review")
async def reject(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    agency_id = path_id(request, what="Agency")
    reason = (await form(request)).get("reason", "").strip()
    if not reason:
        raise validation_error({"reason": ["Say why the application is rejected (the applicant is told)."]})
    try:
        body = msgspec.convert({"reason": reason}, RejectBody)
    except msgspec.ValidationError as exc:
        raise validation_error({"reason": [str(exc)]}) from exc
    row = await actions.do_review(request.app[AGENCIES], staff.user_id, agency_id, body.reason,
                                  client_of(request).ip)  # fmt: skip
    raise redirect(f"/admin/agencies/{agency_id}", f"“{row['name']}” rejected; its applicant was told.")
