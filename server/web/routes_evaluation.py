"""Evaluation over HTTP (issue 16, section 3): the figures as JSON, one figure as CSV, and the
one optional question after a check-in. Cells drawn from fewer than 5 people are the string
"fewer than 5" in both forms (server/evaluation/model.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from msgspec import Meta, Struct

from server.evaluation import model
from server.evaluation.service import MAX_COMMENT, Dashboard
from server.identity.model import Role
from server.web import schemas as s
from server.web.routes_checkins import TAKE_PART, limited
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

READ = Permission("read the evaluation figures", roles=frozenset({Role.EVALUATOR, Role.SENIOR_OFFICER}))
FEEDBACK = Permission("answer \"How did this go?\" after a check-in", roles=TAKE_PART.roles, case_scoped=True,
                      checkin_session=True)
CSV = ("text/csv",)
Month = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}$")]
FigureId = Literal["appointments", "admission_wait", "safe_space_not_passed", "cant_talk", "group_attendance",
                   "network_stages", "network_days", "network_overdue", "mentoring_outcomes", "feedback_client",
                   "feedback_staff"]


class FiguresQuery(s.Strict, kw_only=True):
    first: Month | None = None  # the first month, YYYY-MM (default: five months before the last)
    last: Month | None = None  # the last month (default: this month)
    office: s.Id | None = None
    channel: Literal["video", "phone", "in_person"] | None = None
    language: Annotated[str, Meta(pattern=r"^[a-z]{2,3}$")] | None = None
    digital: Literal["low", "standard"] | None = None


class SeriesOut(Struct, kw_only=True, omit_defaults=True):
    key: str
    #: Per month: a number, "fewer than 5" (drawn from 1 to 4 people), or null (nothing to average).
    cells: list[int | float | str | None]
    label: str | None = None


class FigureOut(Struct, kw_only=True):
    id: str
    unit: str
    months: list[str]
    series: list[SeriesOut]
    by_channel: bool
    snapshot: bool


class OfficeOut(Struct, kw_only=True):
    id: str
    name: str


class Figures(Struct, kw_only=True):
    first: str
    last: str
    office: str | None
    offices: list[OfficeOut]
    languages: list[str]
    threshold: int
    figures: list[FigureOut]


class FeedbackIn(s.Strict, kw_only=True):
    face: Literal[1, 2, 3]
    comment: Annotated[str, Meta(max_length=MAX_COMMENT)] = ""


class FeedbackOut(Struct, kw_only=True):
    id: str


def _out(d: Dashboard) -> Figures:
    months = d.filters.months
    return Figures(first=months[0], last=months[-1], office=d.filters.office_id,
                   offices=[OfficeOut(id=i, name=n) for i, n in d.offices], languages=d.languages,
                   threshold=model.THRESHOLD, figures=[FigureOut(
                       id=f.id, unit=f.unit, months=f.months, by_channel=f.by_channel, snapshot=f.snapshot,
                       series=[SeriesOut(key=x.key, cells=x.cells, label=x.label) for x in f.series])
                       for f in d.figures])


async def _dashboard(call: Call[None], only: str | None = None) -> Dashboard:
    q: FiguresQuery = call.query
    return await call.request.app[SERVICES].evaluation.dashboard(
        call.actor, first=q.first, last=q.last, office_id=q.office, channel=q.channel, language=q.language,
        digital=q.digital, only=only)


def register(api: Registry) -> None:
    @api.route("GET", "/api/evaluation", permission=READ, query=FiguresQuery, response=Figures, tag="evaluation",
               summary="Evaluation figures per month (an evaluator: any office; a senior: their own); audited")
    async def figures(call: Call[None]) -> Figures:
        return _out(await _dashboard(call))

    @api.route("GET", "/api/evaluation/{figure}.csv", permission=READ, query=FiguresQuery, raw_response=CSV,
               tag="evaluation", summary="One evaluation figure as CSV, with the same filters and suppression")
    async def figure_csv(call: Call[None]) -> web.Response:
        name = call.param("figure")
        dashboard = await _dashboard(call, only=name)
        [fig] = dashboard.figures
        return web.Response(body=model.to_csv(fig).encode(), content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="{fig.id}-{fig.months[0]}.csv"', "Cache-Control": "no-store"})

    @api.route("POST", "/api/checkins/{checkin_id}/feedback", permission=FEEDBACK, body=FeedbackIn,
               response=FeedbackOut, status=201, tag="evaluation", example={"face": 3, "comment": ""},
               summary="Answer \"How did this go?\" once after a check-in (a face, an optional comment kept 30 days)")
    async def give_feedback(call: Call[FeedbackIn]) -> FeedbackOut:
        feedback_id = await call.request.app[SERVICES].evaluation.give_feedback(
            call.actor, call.param("checkin_id"), face=call.body.face, comment=call.body.comment,
            limited_to=limited(call))
        return FeedbackOut(id=feedback_id)
