"""`/api/v1` GDPR routes (issue 12 §8): consents, the data export (a job, then a signed download
link), and deleting one's account (with a grace period a login cancels)."""

from __future__ import annotations

from aiohttp import web

from engine.appkeys import GDPR, SERVICES
from engine.gdpr import actions
from engine.gdpr.model import ConsentBody, DeleteMeBody, DownloadQuery
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import client_of, path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/me/consents", summary="The policy versions you accepted, and those due.",
            response=schemas.Consents)  # fmt: skip
@login_required
async def consents(request: web.Request) -> web.Response:
    return ok(await actions.list_consents(request.app[SERVICES], caller_id(request)))


@routes.api("POST", "/api/v1/me/consents", summary="Accept a policy's current version ({policy, version}).",
            body=ConsentBody, response=schemas.Consents)  # fmt: skip
@login_required
async def accept(request: web.Request) -> web.Response:
    body = await read_body(request, ConsentBody)
    return ok(await actions.do_accept(request.app[SERVICES], caller_id(request), body))


@routes.api("POST", "/api/v1/me/export", summary="Ask for an export of all your data: a job (202); follow it "
            "with GET /api/v1/me/export/{id}.", response=schemas.ExportJob, status=202, errors=(409, 429))  # fmt: skip
@login_required
async def request_export(request: web.Request) -> web.Response:
    return ok(await request.app[GDPR].request_export(caller_id(request)), 202)


@routes.api("GET", "/api/v1/me/export/{id}", summary="An export job: state, progress and, once done, the "
            "download link.", response=schemas.ExportJob, errors=(404,))  # fmt: skip
@login_required
async def export_job(request: web.Request) -> web.Response:
    job = await actions.get_export(request.app[SERVICES], caller_id(request), path_id(request, what="Export"))
    return ok(job)


@routes.api("GET", "/api/v1/me/export/{id}/download", summary="Download an export's archive (gzip JSON) "
            "through its signed link.", query=DownloadQuery, response=bytes, content_type="application/gzip",
            enveloped=False, errors=(403, 404, 410),
            description="The link is the credential (no token): signed for one export of one user, "
                        "until `expires`.")  # fmt: skip
async def download(request: web.Request) -> web.Response:
    export_id = path_id(request, what="Export")
    q = read_query(request, DownloadQuery)
    svc = request.app[SERVICES]
    archive = await actions.download(svc, export_id, q.user, q.expires, q.signature)
    headers = {"Content-Disposition": f'attachment; filename="flylive-export-{export_id}.json.gz"',
               "Cache-Control": "no-store"}  # fmt: skip
    return web.Response(body=archive, content_type="application/gzip", headers=headers)


@routes.api("DELETE", "/api/v1/me", summary="Delete your account (password to confirm): signed out everywhere "
            "now, purged after the grace period unless you log in before.", body=DeleteMeBody,
            response=schemas.DeletionScheduled)  # fmt: skip
@login_required
async def delete_me(request: web.Request) -> web.Response:
    body = await read_body(request, DeleteMeBody)
    return ok(await actions.do_request_deletion(request.app[SERVICES], caller_id(request), body.password,
                                                client_of(request)))  # fmt: skip
