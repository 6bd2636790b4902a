"""Retention: the policy with a dry run, sweeps, legal hold, exports (art. 15, 20),
erasure and rectification requests (art. 16, 17), records of processing (art. 30)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from server.identity.model import Role
from server.policy.schema import ANONYMISABLE, CATEGORIES
from server.retention import export, plan, ropa
from server.retention import store as retention_store
from server.retention.registry import holders_of
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

ADMIN = frozenset({Role.ADMIN})
MANAGE_RETENTION = Permission("manage retention", roles=ADMIN)
HOLD = Permission("set or lift a legal hold", roles=frozenset({Role.ADMIN, Role.SENIOR_OFFICER}), case_scoped=True)
EXPORT = Permission("export a client's data", roles=ADMIN, case_scoped=True)
OWN_DATA = Permission("see the data held about them", roles=frozenset({Role.CLIENT}))
REQUEST_FOR = Permission("record a data request for a client", roles=ADMIN, case_scoped=True)
DOWNLOAD_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def report(r: plan.Report) -> s.RetentionReport:
    return s.RetentionReport(on=r.on, policy_version=r.policy_version, items=r.items, buckets=r.buckets,
                             cases=len(r.cases), total_items=r.total_items, total_buckets=r.total_buckets,
                             summary=r.sentence())


def rendered(data: dict[str, Any], fmt: str) -> web.Response:
    headers = {"Content-Disposition": f'attachment; filename="tandem-data-{data["case"]["id"]}.{fmt}"',
               "Cache-Control": "no-store"}
    if fmt == "html":
        return web.Response(text=export.render_html(data), content_type="text/html",
                            headers={**headers, "Content-Security-Policy": DOWNLOAD_CSP})
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json",
                        headers=headers)


def request_row(r: Any) -> s.DataRequest:
    return s.DataRequest(id=r.id, kind=r.kind, case_id=r.case_id, categories=list(r.categories), details=r.details,
                         status=r.status, created_at=r.created_at, decided_at=r.decided_at,
                         decision_reason=r.decision_reason)


def register(api: Registry) -> None:
    @api.route("GET", "/api/admin/retention", permission=MANAGE_RETENTION, summary="The retention policy",
               response=s.RetentionPolicy, tag="retention")
    async def policy(call: Call[None]) -> s.RetentionPolicy:
        service = call.request.app[SERVICES].policy
        config, meta = service.engine.policies.retention, service.meta
        return s.RetentionPolicy(version=meta.version, author=meta.author, reason=meta.reason,
                                 created_at=meta.created_at, categories=[
                                     s.RetentionCategory(category=c, period_days=config.categories.of(c).period_days,
                                                         action=config.categories.of(c).action,
                                                         anonymisable=c in ANONYMISABLE,
                                                         registered_tables=[str(h.table.name) for h in holders_of(c)])
                                     for c in CATEGORIES])

    @api.route("POST", "/api/admin/retention/preview", permission=MANAGE_RETENTION,
               summary="Dry run: what a change would remove on a date (nothing is changed)",
               body=s.RetentionPreview, response=s.RetentionReport, tag="retention",
               example={"categories": {"messages": {"period_days": 365}}})
    async def preview(call: Call[s.RetentionPreview]) -> s.RetentionReport:
        return report(await call.request.app[SERVICES].retention.preview(call.body.categories, call.body.on))

    @api.route("PUT", "/api/admin/retention", permission=MANAGE_RETENTION,
               summary="Change retention periods or actions (a new policy version)", body=s.RetentionChange,
               response=s.RetentionChanged, tag="retention", example={"categories": {}, "reason": "matrix test"})
    async def change(call: Call[s.RetentionChange]) -> s.RetentionChanged:
        done = await call.request.app[SERVICES].retention.change_policy(call.actor, call.body.categories,
                                                                        call.body.reason)
        m = done.meta
        return s.RetentionChanged(version=s.PolicyVersion(version=m.version, author=m.author, reason=m.reason,
                                                          created_at=m.created_at), report=report(done.report))

    @api.route("GET", "/api/admin/retention/runs", permission=MANAGE_RETENTION, summary="Recent sweeps",
               response=s.RetentionRuns, tag="retention")
    async def runs(call: Call[None]) -> s.RetentionRuns:
        async with call.request.app[SERVICES].store.read("retention.runs") as conn:
            rows = await retention_store.recent_runs(conn, limit=50)
        return s.RetentionRuns(runs=[s.RetentionRun(id=r.id, started_at=r.started_at, finished_at=r.finished_at,
                                                    policy_version=r.policy_version, counts=dict(r.counts),
                                                    buckets=r.buckets) for r in rows])

    @api.route("POST", "/api/cases/{case_id}/legal-hold", permission=HOLD,
               summary="Put a case under legal hold (suspends retention)", body=s.HoldReason, response=s.Created,
               status=201, tag="retention", example={"reason": "Appeal pending"})
    async def set_hold(call: Call[s.HoldReason]) -> s.Created:
        hold_id = await call.request.app[SERVICES].retention.set_hold(call.actor, call.param("case_id"),
                                                                      call.body.reason)
        return s.Created(id=hold_id)

    @api.route("DELETE", "/api/cases/{case_id}/legal-hold", permission=HOLD, summary="Lift a case's legal hold",
               body=s.HoldReason, tag="retention", example={"reason": "Appeal decided"})
    async def lift_hold(call: Call[s.HoldReason]) -> None:
        await call.request.app[SERVICES].retention.lift_hold(call.actor, call.param("case_id"), call.body.reason)

    @api.route("GET", "/api/cases/{case_id}/export", permission=EXPORT,
               summary="Everything held about the case's client (JSON or HTML; audited)", query=s.ExportQuery,
               raw_response=("application/json", "text/html"), tag="retention")
    async def export_case(call: Call[None]) -> web.Response:
        data = await call.request.app[SERVICES].retention.export(call.actor, call.param("case_id"))
        return rendered(data, call.query.format)

    @api.route("GET", "/api/my/data", permission=OWN_DATA,
               summary="Everything held about me, with when it expires (JSON or HTML; audited)",
               query=s.ExportQuery, raw_response=("application/json", "text/html"), tag="retention")
    async def my_data(call: Call[None]) -> web.Response:
        return rendered(await call.request.app[SERVICES].retention.export(call.actor), call.query.format)

    @api.route("POST", "/api/my/data-requests", permission=OWN_DATA,
               summary="Ask for erasure or rectification of my data", body=s.DataRequestBody, response=s.Created,
               status=201, tag="retention",
               example={"kind": "rectification", "details": "My address is wrong"})
    async def my_request(call: Call[s.DataRequestBody]) -> s.Created:
        b = call.body
        return s.Created(id=await call.request.app[SERVICES].retention.request(
            call.actor, b.kind, b.details, list(b.categories)))

    @api.route("POST", "/api/cases/{case_id}/data-requests", permission=REQUEST_FOR,
               summary="Record a client's erasure or rectification request", body=s.DataRequestBody,
               response=s.Created, status=201, tag="retention",
               example={"kind": "erasure", "categories": ["messages"], "details": "Asked by letter"})
    async def request_for(call: Call[s.DataRequestBody]) -> s.Created:
        b = call.body
        return s.Created(id=await call.request.app[SERVICES].retention.request(
            call.actor, b.kind, b.details, list(b.categories), call.param("case_id")))

    @api.route("GET", "/api/admin/data-requests", permission=MANAGE_RETENTION,
               summary="Erasure and rectification requests", response=s.DataRequests, tag="retention")
    async def requests(call: Call[None]) -> s.DataRequests:
        rows = await call.request.app[SERVICES].retention.requests(call.actor)
        return s.DataRequests(requests=[request_row(r) for r in rows])

    @api.route("POST", "/api/admin/data-requests/{request_id}/decision", permission=MANAGE_RETENTION,
               summary="Decide a request (a granted erasure shreds the named categories)",
               body=s.DataRequestDecision, response=s.Decided, tag="retention",
               example={"decision": "refuse", "reason": "Exempt under national law"})
    async def decide(call: Call[s.DataRequestDecision]) -> s.Decided:
        status = await call.request.app[SERVICES].retention.decide(call.actor, call.param("request_id"),
                                                                   call.body.decision, call.body.reason)
        return s.Decided(status=status)

    @api.route("GET", "/api/admin/records-of-processing", permission=MANAGE_RETENTION,
               summary="Records of processing (art. 30) from the live policies, as Markdown",
               raw_response=("text/markdown",), tag="retention")
    async def records(call: Call[None]) -> web.Response:
        services = call.request.app[SERVICES]
        text = ropa.document(services.policy.engine.policies.retention, version=services.policy.meta.version,
                             generated_at=services.clock.now())
        return web.Response(text=text, content_type="text/markdown", headers={
            "Content-Disposition": 'attachment; filename="records-of-processing.md"'})
