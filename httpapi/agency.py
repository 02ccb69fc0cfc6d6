"""`/api/v1` agency routes (issue 13, docs/agency.md): applying for an agency, staff review (holding
`agencies.review`), the All Agencies list and the public view, the owner's edits, closing. Lists are
cursor pages (`?cursor=&limit=`, newest first)."""

from __future__ import annotations

from aiohttp import web

from engine.agency import actions, leaving, membership
from engine.agency.model import (
    AdminListQuery,
    CloseBody,
    CreateBody,
    InvitationsQuery,
    InviteBody,
    JoinRequestBody,
    LeaveBody,
    ListQuery,
    MembersQuery,
    RejectBody,
    RequestRejectBody,
    RequestsQuery,
    RoleBody,
    UpdateBody,
)
from engine.appkeys import AGENCIES
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import agency_id, client_of, path_id, read_body, read_query
from httpapi.contract import ApiRoutes, Id
from httpapi.responses import ok

routes = ApiRoutes()


def _ip(request: web.Request) -> str | None:
    return client_of(request).ip


@routes.api("POST", "/api/v1/agencies", summary="Apply for an agency (staff review it): only if you neither own "
            "nor belong to one, one pending application at a time (AGENCY_CREATE_RATE_LIMIT).", body=CreateBody,
            response=schemas.AgencyPrivate, status=201, errors=(403, 409, 429))  # fmt: skip
@login_required
async def create(request: web.Request) -> web.Response:
    body = await read_body(request, CreateBody)
    return ok(await actions.do_create(request.app[AGENCIES], caller_id(request), body, _ip(request)), status=201)


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
    return ok(await actions.get_agency(request.app[AGENCIES], caller_id(request), agency_id(request)))


@routes.api("PATCH", "/api/v1/agencies/{id}", summary="The owner edits the agency: logo, description, recruiting, "
            "member limit (up to AGENCY_MEMBER_LIMIT_MAX), rules; the name never changes (422).", body=UpdateBody,
            response=schemas.AgencyPrivate, errors=(403, 404, 409))  # fmt: skip
@login_required
async def update(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateBody)
    return ok(
        await actions.do_update(request.app[AGENCIES], caller_id(request), agency_id(request), body, _ip(request))
    )


@routes.api("POST", "/api/v1/agencies/{id}/close", summary="Close the agency (its owner, or staff): every member is "
            "released (history kept) and told with `agency.dissolved`; a pending application is withdrawn.",
            body=CloseBody, response=schemas.AgencyPrivate, errors=(403, 404, 409))  # fmt: skip
@login_required
async def close(request: web.Request) -> web.Response:
    body = await read_body(request, CloseBody)
    return ok(await actions.do_close(request.app[AGENCIES], caller_id(request), agency_id(request), body, _ip(request)))


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
    return ok(
        await actions.do_review(request.app[AGENCIES], caller_id(request), agency_id(request), None, _ip(request))
    )


@routes.api("POST", "/api/v1/admin/agencies/{id}/reject", summary="Reject a pending application with a reason "
            "(the applicant is notified; the name is free again).", body=RejectBody,
            response=schemas.AgencyPrivate, errors=(404, 409))  # fmt: skip
@permission_required("agencies.review")
async def reject(request: web.Request) -> web.Response:
    body = await read_body(request, RejectBody)
    return ok(await actions.do_review(request.app[AGENCIES], caller_id(request), agency_id(request), body.reason,
                                      _ip(request)))  # fmt: skip


# --- membership (§2) --------------------------------------------------------------------------------

_RID = {"rid": Id}
_IID = {"iid": Id}


@routes.api("POST", "/api/v1/agencies/{id}/join-requests", summary="Ask to join a recruiting agency (one pending "
            "request per agency; AGENCY_JOIN_REQUEST_RATE_LIMIT); its owner, admins and moderators are told.",
            body=JoinRequestBody, response=schemas.AgencyJoinRequest, status=201,
            errors=(404, 409, 429))  # fmt: skip
@login_required
async def request_join(request: web.Request) -> web.Response:
    body = await read_body(request, JoinRequestBody)
    return ok(await membership.do_request_join(request.app[AGENCIES], caller_id(request), agency_id(request), body),
              status=201)  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/join-requests", summary="The agency's join requests in one state "
            "(default pending), newest first: for its owner, admins and moderators.", query=RequestsQuery,
            response=schemas.AgencyJoinRequestPage, errors=(403, 404))  # fmt: skip
@login_required
async def join_requests(request: web.Request) -> web.Response:
    q = read_query(request, RequestsQuery)
    return ok(await membership.join_requests(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("POST", "/api/v1/agencies/{id}/join-requests/{rid}/approve", summary="Approve a join request: the "
            "user joins (refused when the agency is full: the member limit holds under racing approvals).",
            params=_RID, response=schemas.AgencyJoinRequest, errors=(403, 404, 409))  # fmt: skip
@login_required
async def approve_join(request: web.Request) -> web.Response:
    return ok(await membership.do_answer_request(request.app[AGENCIES], caller_id(request), agency_id(request),
                                                 _request_id(request), None))  # fmt: skip


@routes.api("POST", "/api/v1/agencies/{id}/join-requests/{rid}/reject", summary="Reject a join request (a reason "
            "is optional); the user is told.", params=_RID, body=RequestRejectBody,
            response=schemas.AgencyJoinRequest, errors=(403, 404, 409))  # fmt: skip
@login_required
async def reject_join(request: web.Request) -> web.Response:
    body = await read_body(request, RequestRejectBody)
    return ok(await membership.do_answer_request(request.app[AGENCIES], caller_id(request), agency_id(request),
                                                 _request_id(request), body))  # fmt: skip


@routes.api("POST", "/api/v1/agencies/{id}/invitations", summary="Invite a user who is in no agency (owner, "
            "admins, moderators); they are told with `agency.invitation`.", body=InviteBody,
            response=schemas.AgencyInvitation, status=201, errors=(403, 404, 409, 429))  # fmt: skip
@login_required
async def invite(request: web.Request) -> web.Response:
    body = await read_body(request, InviteBody)
    return ok(await membership.do_invite(request.app[AGENCIES], caller_id(request), agency_id(request), body),
              status=201)  # fmt: skip


@routes.api("GET", "/api/v1/me/agency-invitations", summary="Your agency invitations in one state (default "
            "pending), newest first.", query=InvitationsQuery, response=schemas.AgencyInvitationPage)  # fmt: skip
@login_required
async def my_invitations(request: web.Request) -> web.Response:
    q = read_query(request, InvitationsQuery)
    return ok(await membership.my_invitations(request.app[AGENCIES], caller_id(request), q.status, q.cursor, q.limit))


@routes.api("POST", "/api/v1/me/agency-invitations/{iid}/accept", summary="Accept an invitation: you join the "
            "agency (refused when full or when you are in an agency).", params=_IID,
            response=schemas.AgencyInvitation, errors=(404, 409))  # fmt: skip
@login_required
async def accept_invitation(request: web.Request) -> web.Response:
    return ok(await membership.do_answer_invitation(request.app[AGENCIES], caller_id(request), _invitation_id(request),
                                                    True))  # fmt: skip


@routes.api("POST", "/api/v1/me/agency-invitations/{iid}/decline", summary="Decline an invitation.", params=_IID,
            response=schemas.AgencyInvitation, errors=(404, 409))  # fmt: skip
@login_required
async def decline_invitation(request: web.Request) -> web.Response:
    return ok(await membership.do_answer_invitation(request.app[AGENCIES], caller_id(request), _invitation_id(request),
                                                    False))  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/members", summary="The agency's members, newest first (`search`: a name "
            "prefix or an exact user id): for its members and staff. `monthly_income`: the member's coins in "
            "the current business month (BUSINESS_TIMEZONE).", query=MembersQuery, response=schemas.AgencyMemberPage,
            errors=(403, 404))  # fmt: skip
@login_required
async def members(request: web.Request) -> web.Response:
    q = read_query(request, MembersQuery)
    return ok(await membership.members(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("PATCH", "/api/v1/agencies/{id}/members/{user_id}", summary="Change a member's role: the owner sets "
            "member, moderator or admin; an admin sets member or moderator on those below admins.", body=RoleBody,
            response=schemas.AgencyMember, errors=(403, 404))  # fmt: skip
@login_required
async def set_role(request: web.Request) -> web.Response:
    body = await read_body(request, RoleBody)
    target = path_id(request, "user_id", what="Member")
    return ok(await membership.do_set_role(request.app[AGENCIES], caller_id(request), agency_id(request), target,
                                           body.role))  # fmt: skip


@routes.api("DELETE", "/api/v1/agencies/{id}/members/{user_id}", summary="Remove a member ranked below you (they "
            "are told with `agency.member_kicked`); leaving yourself is a leave request (403 here).",
            response=schemas.AgencyMemberRemoved, errors=(403, 404))  # fmt: skip
@login_required
async def remove_member(request: web.Request) -> web.Response:
    target = path_id(request, "user_id", what="Member")
    return ok(await membership.do_remove(request.app[AGENCIES], caller_id(request), agency_id(request), target))


@routes.api("POST", "/api/v1/agencies/{id}/leave-requests", summary="Ask to leave the agency, with a reason: the "
            "owner decides (staff, for the owner's own request, whose approval closes the agency). After leaving, "
            "joining another agency waits AGENCY_REJOIN_COOLDOWN_HOURS.", body=LeaveBody,
            response=schemas.AgencyLeaveRequest, status=201, errors=(403, 404, 409))  # fmt: skip
@login_required
async def request_leave(request: web.Request) -> web.Response:
    body = await read_body(request, LeaveBody)
    return ok(await leaving.do_request_leave(request.app[AGENCIES], caller_id(request), agency_id(request), body),
              status=201)  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/leave-requests", summary="The agency's leave requests in one state "
            "(default pending), newest first: for its owner and staff.", query=RequestsQuery,
            response=schemas.AgencyLeaveRequestPage, errors=(403, 404))  # fmt: skip
@login_required
async def leave_requests(request: web.Request) -> web.Response:
    q = read_query(request, RequestsQuery)
    return ok(await leaving.leave_requests(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("POST", "/api/v1/agencies/{id}/leave-requests/{rid}/approve", summary="Approve a leave request: the "
            "member leaves (`agency.member_left`); the owner's own (staff only) closes the agency.", params=_RID,
            response=schemas.AgencyLeaveRequest, errors=(403, 404, 409))  # fmt: skip
@login_required
async def approve_leave(request: web.Request) -> web.Response:
    return ok(await leaving.do_answer_leave(request.app[AGENCIES], caller_id(request), agency_id(request),
                                            _request_id(request), None))  # fmt: skip


@routes.api("POST", "/api/v1/agencies/{id}/leave-requests/{rid}/reject", summary="Reject a leave request (a "
            "reason is optional); the member is told.", params=_RID, body=RequestRejectBody,
            response=schemas.AgencyLeaveRequest, errors=(403, 404, 409))  # fmt: skip
@login_required
async def reject_leave(request: web.Request) -> web.Response:
    body = await read_body(request, RequestRejectBody)
    return ok(await leaving.do_answer_leave(request.app[AGENCIES], caller_id(request), agency_id(request),
                                            _request_id(request), body))  # fmt: skip


def _request_id(request: web.Request) -> int:
    return path_id(request, "rid", what="Join request")


def _invitation_id(request: web.Request) -> int:
    return path_id(request, "iid", what="Invitation")
