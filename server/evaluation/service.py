"""Evaluation action functions: the figures for an evaluator or a senior officer, and the one
optional question after a check-in ("How did this go?").

Who sees what (issue 16, DESIGN rule 5 "Scope"): an evaluator every office's figures and
never any case data (every case route refuses them: they have no relation to any case); a
senior officer their own office's figures only, whatever office the query names. Figures
are aggregates with small cells suppressed (``model``); reading them is audited all the same,
with the filters, as a record of who looked at what.

Figures are computed once per (office, filters) and kept ``cache_s`` seconds (30 by default),
and a reload that arrives while the same figures are being computed waits for them instead of
computing them again: ten evaluators reloading the page cost one set of queries, so messaging
on the same node is not slowed (bench/evaluation.py). Monthly figures up to half a minute old
are fine for evaluation. Reads are audited once per person and figures while those figures are
cached: a reload of the same page adds no new fact to "who looked at what", and each audit row
is a write on the audit chain's head that every audited action queues behind.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.checkins.lifecycle import CheckinState
from server.checkins.service import CheckinService
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.errors import Conflict, Forbidden, NotFound, PolicyRefused
from server.evaluation import model
from server.evaluation import store as q
from server.identity.model import Actor, Role
from server.ids import new_id
from server.store.tx import Store

CATEGORY = "feedback_comments"
MAX_COMMENT = 500
#: A check-in is over enough to ask about once the client was let in, or it ended.
ASKABLE = frozenset({CheckinState.IN_CALL, CheckinState.ENDED, CheckinState.CLOSED})


@dataclass(frozen=True)
class Dashboard:
    filters: model.Filters
    offices: list[tuple[str, str]]  # the offices the reader may choose from
    languages: list[str]
    figures: list[model.Figure]


Computed = tuple[list[model.Figure], list[tuple[str, str]], list[str]]


class EvaluationService:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, checkins: CheckinService, *,
                 cache_s: float = 30.0, cache_entries: int = 256) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.checkins = checkins
        self.cache_s = cache_s
        self.cache_entries = cache_entries
        self._cache: OrderedDict[tuple[object, ...], tuple[float, Computed]] = OrderedDict()
        self._inflight: dict[tuple[object, ...], asyncio.Future[Computed]] = {}
        self._audited: OrderedDict[tuple[object, ...], float] = OrderedDict()  # (user, figures) -> until

    def _audited_lately(self, key: tuple[object, ...]) -> bool:
        """Whether this person's read of these figures was audited within ``cache_s``; if not,
        it is taken as audited from now (the caller writes the row)."""
        now = self.clock.monotonic()
        until = self._audited.get(key)
        if until is not None and until > now:
            return True
        self._audited[key] = now + self.cache_s
        self._audited.move_to_end(key)
        while len(self._audited) > self.cache_entries * 4:
            self._audited.popitem(last=False)
        return False

    async def _once(self, key: tuple[object, ...], compute: Callable[[], Awaitable[Computed]]) -> Computed:
        """``compute()``'s value, from the cache while fresh; concurrent callers share one computation."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self.clock.monotonic():
            return hit[1]
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(compute())
            self._inflight[key] = running
            running.add_done_callback(lambda _done: self._inflight.pop(key, None))
        value = await asyncio.shield(running)
        self._cache[key] = (self.clock.monotonic() + self.cache_s, value)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)
        return value

    # -- who reads ---------------------------------------------------------------------

    def office_for(self, actor: Actor, office_id: str | None) -> str | None:
        """The office the actor's figures are about: None is every office (an evaluator's choice)."""
        if actor.role is Role.EVALUATOR:
            return office_id
        if actor.role is Role.SENIOR_OFFICER and actor.office_id is not None:
            if office_id not in (None, actor.office_id):
                raise PolicyRefused("A senior officer sees their own office's figures (rule scope)",
                                    rule_id="scope", reason="scope.own_office_figures")
            return actor.office_id
        raise Forbidden("Only evaluators and senior officers read the evaluation figures")

    async def dashboard(self, actor: Actor, *, first: str | None = None, last: str | None = None,
                        office_id: str | None = None, channel: str | None = None, language: str | None = None,
                        digital: str | None = None, only: str | None = None) -> Dashboard:
        now = self.clock.now()
        office = self.office_for(actor, office_id)
        f = model.filters(today=now.date(), first=first, last=last, office_id=office, channel=channel,
                          language=language, digital=digital)
        if only is not None and only not in model.BY_ID:
            raise NotFound(f"No figure {only[:40]!r}")
        every = actor.role is Role.EVALUATOR  # chooses among all offices

        async def compute() -> Computed:
            async with self.store.read("evaluation.figures") as conn:
                if office is not None and not await q.office_exists(conn, office):
                    raise NotFound("No such office")
                return (await self._figures(conn, f, now, only),
                        await q.office_names(conn, None if every else office),
                        await q.languages(conn, None if every else office))

        figures, offices, languages = await self._once((every, f, only), compute)
        if self._audited_lately((actor.user_id, every, f, only)):
            return Dashboard(filters=f, offices=offices, languages=languages, figures=figures)
        async with self.store.write("evaluation.read") as conn:
            await audit.append(conn, at=now, actor_id=actor.user_id, action="evaluation.read",
                               target_type="office" if office else "service", target_id=office,
                               details={"months": [f.months[0], f.months[-1]], "channel": channel,
                                        "language": language, "digital": digital, "figure": only})
        return Dashboard(filters=f, offices=offices, languages=languages, figures=figures)

    async def _figures(self, conn: AsyncConnection, f: model.Filters, now: datetime,
                       only: str | None) -> list[model.Figure]:
        """Every figure (or ``only`` one), in ``model.SPECS`` order."""
        raws: dict[str, tuple[list[model.Raw], dict[str, str] | None]] = {}
        want = {s.id for s in model.SPECS if only in (None, s.id)}
        simple = {"appointments": q.appointment_outcomes, "admission_wait": q.admission_wait,
                  "safe_space_not_passed": q.safe_space_not_passed, "cant_talk": q.cant_talk,
                  "mentoring_outcomes": q.mentoring_periods}
        for name, query in simple.items():
            if name in want:
                raws[name] = (await query(conn, f), None)
        if "group_attendance" in want:
            rates, names = await q.group_attendance_rate(conn, f)
            raws["group_attendance"] = (rates, names)
        if want & {"network_stages", "network_days"}:
            stages, timed = await q.network_stages(conn, f, now)
            raws["network_stages"], raws["network_days"] = (stages, None), (timed, None)
        if "network_overdue" in want:
            raws["network_overdue"] = ([await q.network_overdue(conn, f, now.date())], None)
        for side in ("client", "staff"):
            if f"feedback_{side}" in want:
                raws[f"feedback_{side}"] = (await q.feedback_faces(conn, f, side), None)
        return [model.figure(s, f.months, *raws[s.id]) for s in model.SPECS if s.id in want]

    # -- "How did this go?" --------------------------------------------------------------

    async def give_feedback(self, actor: Actor, checkin_id: str, *, face: int, comment: str = "",
                            limited_to: str | None = None) -> str:
        """The client's or the staff member's one answer after a check-in; the comment is sealed
        under the case's ``feedback_comments`` key, which retention shreds after 30 days."""
        comment = model.checked_answer(face, comment, MAX_COMMENT)
        now = self.clock.now()
        async with self.store.write("evaluation.feedback") as conn:
            acc = await self.checkins.access(conn, actor, checkin_id, limited_to)
            if acc.part not in ("client", "host"):
                raise PolicyRefused("Feedback is for the client and the officer of the check-in (rule scope)",
                                    rule_id="scope", reason="scope.feedback")
            if CheckinState(acc.row.state) not in ASKABLE and acc.row.admitted_at is None:
                raise Conflict("Feedback is asked for once the check-in has taken place",
                               reason="evaluation.not_yet")
            if await q.feedback_of(conn, checkin_id, actor.user_id) is not None:
                raise Conflict("You have already answered for this check-in", reason="evaluation.answered")
            row_id = new_id()
            key_id, blob = None, None
            if comment:
                key_id, blob = await self.keyring.encrypt(conn, case_id=acc.row.case_id, category=CATEGORY, at=now,
                                                          plaintext=comment.encode(), aad=model.comment_aad(row_id))
            await q.insert_feedback(conn, id=row_id, checkin_id=checkin_id, case_id=acc.row.case_id,
                                    office_id=acc.view.row.office_id, user_id=actor.user_id,
                                    side="client" if acc.part == "client" else "staff", face=face, given_at=now,
                                    key_id=key_id, comment=blob)
            await audit.append(conn, at=now, actor_id=actor.user_id, action="checkin.feedback", target_type="checkin",
                               target_id=checkin_id, case_id=acc.row.case_id,
                               details={"face": face, "comment": bool(comment)})
        return row_id
