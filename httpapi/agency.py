"""`/api/v1` agency routes (issue 13, docs/agency.md): applying for an agency, staff review (holding
`agencies.review`), the All Agencies list and the public view, the owner's edits, closing. Lists are
cursor pages (`?cursor=&limit=`, newest first)."""

from __future__ import annotations

from aiohttp import web

from engine.agency import actions
from engine.agency.model import AdminListQuery, CloseBody, CreateBody, ListQuery, RejectBody, UpdateBody
from engine.appkeys import AGENCIES
from httpapi import schemas
from httpapi.auth import current_user, login_required, permission_required
from httpapi.common import client_of, path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


def _me(request: web.Request) -> int:
    return current_user(request).user_id


def _agency_id(request: web.Request) -> int:
    return path_id(request, what="Agency")


def _ip(request: web.Request) -> str | None:
    return client_of(request).ip


@routes.api("POST", "/api/v1/agencies", summary="Apply for an agency (staff review it): only if you neither own "
            "nor belong to one, one pending application at a time (AGENCY_CREATE_RATE_LIMIT).", body=CreateBody,
            response=schemas.AgencyPrivate, status=201, errors=(403, 409, 429))  # fmt: skip
@login_required
async def create(request: web.Request) -> web.Response:
    body = await read_body(request, CreateBody)
    return ok(await actions.do_create(request.app[AGENCIES], _me(request), body, _ip(request)), status=201)


@routes.api("GET", "/api/v1/agencies", summary="All Agencies: approved, open agencies, newest first (`search`: "
            "part of the name, at least 3 characters).", query=ListQuery, response=schemas.AgencyPage)  # fmt: skip
@login_required
async def agencies(request: web.Request) -> web.Response:
    return ok(await actions.list_public(request.app[AGENCIES], read_query(request, ListQuery)))


@routes.api(
    "GET",
    "/api/v1/agencies/{id}",
    summary="An agency's public view (its owner and staff also see the "
    "application; a pending, rejected or closed agency is 404 to others).",
    response=schemas.Agency,
)
@login_required
async def agency(request: web.Request) -> web.Response:
    return ok(await actions.get_agency(request.app[AGENCIES], _me(request), _agency_id(request)))


@routes.api("PATCH", "/api/v1/agencies/{id}", summary="The owner edits the agency: logo, description, recruiting, "
            "member limit (up to AGENCY_MEMBER_LIMIT_MAX), rules; the name never changes (422).", body=UpdateBody,
            response=schemas.AgencyPrivate, errors=(403, 404, 409))  # fmt: skip
@login_required
async def update(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateBody)
    return ok(await actions.do_update(request.app[AGENCIES], _me(request), _agency_id(request), body, _ip(request)))


@routes.api("POST", "/api/v1/agencies/{id}/close", summary="Close the agency (its owner, or staff): every member is "
            "released (history kept) and told with `agency.dissolved`; a pending application is withdrawn.",
            body=CloseBody, response=schemas.AgencyPrivate, errors=(403, 404, 409))  # fmt: skip
@login_required
async def close(request: web.Request) -> web.Response:
    body = await read_body(request, CloseBody)
    return ok(await actions.do_close(request.app[AGENCIES], _me(request), _agency_id(request), body, _ip(request)))


@routes.api("GET", "/api/v1/admin/agencies", summary="Agency applications and agencies, newest first, with their "
            "ID documents (`review_status` filters).", query=AdminListQuery,
            response=schemas.AgencyPrivatePage)  # fmt: skip
@permission_required("agencies.review")
async def admin_agencies(request: web.Request) -> web.Response:
    return ok(await actions.list_admin(request.app[AGENCIES], read_query(request, AdminListQuery)))


@routes.api("POST", "/api/v1/admin/agencies/{id}/approve", summary="Approve a pending application: the applicant "
            "is notified and becomes the agency's first member (role owner).", response=schemas.AgencyPrivate,
            errors=(404, 409))  # fmt: skip
@permission_required("agencies.review")
async def approve(request: web.Request) -> web.Response:
    return ok(await actions.do_review(request.app[AGENCIES], _me(request), _agency_id(request), None, _ip(request)))


@routes.api("POST", "/api/v1/admin/agencies/{id}/reject", summary="Reject a pending application with a reason "
            "(the applicant is notified; the name is free again).", body=RejectBody,
            response=schemas.AgencyPrivate, errors=(404, 409))  # fmt: skip
@permission_required("agencies.review")
async def reject(request: web.Request) -> web.Response:
    body = await read_body(request, RejectBody)
    return ok(await actions.do_review(request.app[AGENCIES], _me(request), _agency_id(request), body.reason,
                                      _ip(request)))  # fmt: skip
