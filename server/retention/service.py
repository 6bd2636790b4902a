"""Retention action functions: policy changes with a dry run, legal hold, the data
export, erasure and rectification requests, and the records of processing.

Each write checks scope, runs one named transaction with its audit row inside and
publishes after commit; each read of a client's data is audited (GDPR art. 30).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.backup.service import shortest_period
from server.cases import store as case_store
from server.cases.service import CaseService, CaseView
from server.clock import Clock
from server.errors import BadRequest, Conflict, NotFound, OutOfScope, PolicyRefused
from server.identity.model import Actor, Role
from server.ids import new_id
from server.policy.loader import PolicyError, replace_rule
from server.policy.schema import CATEGORIES, RetentionConfig
from server.policy.service import PolicyMeta, PolicyService
from server.retention import export, plan, store
from server.retention.erasure import RequestKind, RequestState, next_state
from server.retention.registry import holders_of
from server.retention.runner import Sweeper
from server.store.tx import Store

RULE_ID = "retention"


@dataclass(frozen=True)
class PolicyChange:
    meta: PolicyMeta
    report: plan.Report


class RetentionService:
    def __init__(self, store_: Store, clock: Clock, policy: PolicyService, cases: CaseService,
                 sweeper: Sweeper, *, backup_key_lifetime_days: int = 0) -> None:
        self.store = store_
        #: Backup window keys live this long (issue 15); no period may be shorter.
        self.backup_key_lifetime_days = backup_key_lifetime_days
        self.clock = clock
        self.policy = policy
        self.cases = cases
        self.sweeper = sweeper

    # -- scope -------------------------------------------------------------------------

    def _admin_scope(self, by: Actor, view: CaseView, missing: str = "No such case") -> None:
        """Admins act on the cases of their own office (every office: a cross-office administrator).
        Another office's case is outside their scope: answered as if absent (``missing``)."""
        if by.role is Role.ADMIN and not self.policy.in_office(by, view.row.office_id).allowed:
            raise OutOfScope(missing)

    def _hold_scope(self, by: Actor, view: CaseView) -> None:
        if by.role is Role.ADMIN:
            self._admin_scope(by, view)
        elif by.role is Role.SENIOR_OFFICER:
            self.cases.require(by, "write_case", view)
        else:
            raise PolicyRefused("Only a senior officer or an administrator sets a legal hold (rule scope)",
                                rule_id="scope", reason="scope.senior_or_admin")

    async def _subject_case(self, conn: AsyncConnection, by: Actor, case_id: str | None) -> CaseView:
        """The case a data subject's right is exercised on: the client's own (``case_id`` None, or
        their own id), or, for an admin, a case of the admin's office."""
        if case_id is None:
            row = await case_store.case_by_client(conn, by.user_id)
            if row is None:
                raise NotFound("You have no case on record")
            case_id = str(row.id)
        view = await self.cases.view(conn, case_id)
        if by.role is Role.ADMIN:
            self._admin_scope(by, view)
        else:
            self.cases.require(by, "read_case", view)
            if by.role is not Role.CLIENT:
                raise PolicyRefused("Data-subject rights are exercised by the client or an administrator "
                                    "(rule scope)", rule_id="scope", reason="scope.client_or_admin")
        return view

    # -- policy ------------------------------------------------------------------------

    def proposed(self, changes: Mapping[str, Mapping[str, object]]) -> RetentionConfig:
        """The retention config after ``changes``, fully validated; BadRequest names the key."""
        current = self.policy.engine.policies
        try:
            categories = plan.merged_categories(current.retention, changes)
            config = msgspec.to_builtins(current.retention)
            config["categories"] = categories
            updated = replace_rule(current, RULE_ID, config, version=current.version + 1)
        except (plan.CategoryError, PolicyError) as err:
            raise BadRequest(f"retention.toml: {err}" if isinstance(err, plan.CategoryError) else str(err)) from err
        category, days = shortest_period(updated.retention)
        if days < self.backup_key_lifetime_days:
            # A shred reaches a backup only when its window key is destroyed: a period shorter than
            # the window keys' lifetime would keep expired data readable in backups for longer than
            # the data itself was kept.
            raise BadRequest(f"categories.{category}.period_days: {days} days is shorter than the backup key "
                             f"lifetime ({self.backup_key_lifetime_days} days, TANDEM_BACKUP_KEY_LIFETIME_DAYS)",
                             reason="retention.shorter_than_backup_keys",
                             params={"category": category, "days": self.backup_key_lifetime_days})
        return updated.retention

    async def preview(self, changes: Mapping[str, Mapping[str, object]], on: datetime | None = None) -> plan.Report:
        if on is not None and abs(on - self.clock.now()) > timedelta(days=plan.MAX_DAYS):
            raise BadRequest("on: must be within a hundred years of today", reason="retention.date_range")
        config = self.proposed(changes)
        return await self.sweeper.dry_run(config, on=on, version=self.policy.meta.version + 1)

    async def change_policy(self, by: Actor, changes: Mapping[str, Mapping[str, object]], reason: str) -> PolicyChange:
        config = self.proposed(changes)
        report = await self.sweeper.dry_run(config, version=self.policy.meta.version + 1)
        raw = msgspec.to_builtins(config)
        await self.policy.change_rule(by, RULE_ID, raw, reason)
        return PolicyChange(self.policy.meta, report)

    # -- legal hold --------------------------------------------------------------------

    async def set_hold(self, by: Actor, case_id: str, reason: str) -> str:
        if not reason.strip():
            raise BadRequest("A legal hold needs a reason", reason="retention.hold_reason")
        hold_id = new_id()
        now = self.clock.now()
        async with self.store.write("retention.hold.set") as conn:
            view = await self.cases.view(conn, case_id)
            self._hold_scope(by, view)
            if await store.active_hold(conn, case_id) is not None:
                raise Conflict("This case is already under legal hold", reason="retention.already_held")
            await store.insert_hold(conn, id=hold_id, case_id=case_id, reason=reason, set_by=by.user_id, set_at=now,
                                    lifted_by=None, lifted_at=None, lift_reason=None)
            await store.set_case_hold(conn, case_id, True)
            await audit.append(conn, at=now, actor_id=by.user_id, action="retention.hold.set", target_type="case",
                               target_id=case_id, case_id=case_id, details={"hold_id": hold_id, "reason": reason})
        return hold_id

    async def lift_hold(self, by: Actor, case_id: str, reason: str) -> None:
        if not reason.strip():
            raise BadRequest("Lifting a legal hold needs a reason", reason="retention.lift_reason")
        now = self.clock.now()
        async with self.store.write("retention.hold.lift") as conn:
            view = await self.cases.view(conn, case_id)
            self._hold_scope(by, view)
            hold = await store.active_hold(conn, case_id)
            if hold is None:
                raise Conflict("This case is not under legal hold", reason="retention.not_held")
            await store.lift_hold(conn, hold.id, lifted_by=by.user_id, lifted_at=now, lift_reason=reason)
            await store.set_case_hold(conn, case_id, False)
            await audit.append(conn, at=now, actor_id=by.user_id, action="retention.hold.lift", target_type="case",
                               target_id=case_id, case_id=case_id, details={"hold_id": hold.id, "reason": reason})

    # -- access and portability (art. 15, 20) --------------------------------------------

    async def export(self, by: Actor, case_id: str | None = None) -> dict[str, Any]:
        """Everything held about a client: by an admin of the case's office, or the client themself
        (``case_id`` None: the client's own case). The export is an audited read."""
        now = self.clock.now()
        async with self.store.write("retention.export") as conn:
            view = await self._subject_case(conn, by, case_id)
            case_id = str(view.row.id)
            data = await export.collect(conn, self.sweeper.keyring, self.policy.engine.policies.retention,
                                        self.policy.meta.version, view.row, now)
            await audit.append(conn, at=now, actor_id=by.user_id, action="data.export", target_type="case",
                               target_id=case_id, case_id=case_id,
                               details={"categories": {c: v["count"] for c, v in data["categories"].items()}})
        return data

    # -- erasure and rectification (art. 16, 17) -----------------------------------------

    async def request(self, by: Actor, kind: str, details: str, categories: list[str],
                      case_id: str | None = None) -> str:
        """Record a request: the client for their own case, or an admin on a client's behalf."""
        kind_ = RequestKind(kind)
        unknown = [c for c in categories if c not in CATEGORIES or c == "audit_log"]
        if unknown:
            raise BadRequest(f"categories: unknown or not erasable: {', '.join(unknown)}",
                             reason="retention.unknown_categories", params={"categories": ", ".join(unknown)})
        if kind_ is RequestKind.ERASURE and not categories:
            raise BadRequest("categories: an erasure request names at least one category",
                             reason="retention.no_categories")
        request_id = new_id()
        now = self.clock.now()
        async with self.store.write("retention.request") as conn:
            case_id = str((await self._subject_case(conn, by, case_id)).row.id)
            await store.insert_request(conn, id=request_id, kind=kind_.value, case_id=case_id, requested_by=by.user_id,
                                       categories=categories, details=details, status=RequestState.OPEN.value,
                                       created_at=now, decided_by=None, decided_at=None, decision_reason=None)
            await audit.append(conn, at=now, actor_id=by.user_id, action=f"request.{kind_.value}",
                               target_type="request", target_id=request_id, case_id=case_id,
                               details={"categories": categories})
        return request_id

    async def decide(self, by: Actor, request_id: str, decision: str, reason: str) -> str:
        """An admin's decision. A granted erasure shreds the named categories of the case now."""
        if not reason.strip():
            raise BadRequest("A decision needs a reason", reason="retention.decision_reason")
        if decision not in ("grant", "refuse"):
            raise BadRequest("decision is grant or refuse")
        now = self.clock.now()
        shredded: list[str] = []
        erased = 0
        async with self.store.write("retention.request.decide") as conn:
            row = await store.request_row(conn, request_id, lock=True)
            if row is None:
                raise NotFound("No such request")
            view = await self.cases.view(conn, row.case_id)
            self._admin_scope(by, view, "No such request")
            state = next_state(RequestState(row.status), decision)
            if state is RequestState.GRANTED and row.kind == RequestKind.ERASURE.value:
                if view.row.legal_hold:
                    raise PolicyRefused("The case is under legal hold; nothing of it may be erased (rule retention)",
                                        rule_id=RULE_ID, reason="retention.legal_hold")
                shredded = [str(k.id) for k in await store.live_keys_of_case(conn, row.case_id, list(row.categories))]
                await store.destroy_keys(conn, shredded, now)
                # A case's records whose sealed value is only part of them (an answer's face with its
                # comment) go whole: what the sweep keeps as a count, an erasure does not keep.
                for holder in (h for c in row.categories for h in holders_of(c) if h.case_record):
                    erased += await store.erase_case_records(conn, holder, row.case_id)
            await store.decide_request(conn, request_id, status=state.value, decided_by=by.user_id, decided_at=now,
                                       decision_reason=reason)
            await audit.append(conn, at=now, actor_id=by.user_id, action=f"request.{state.value}",
                               target_type="request", target_id=request_id, case_id=row.case_id,
                               details={"reason": reason, "keys_shredded": len(shredded),
                                        "records_erased": erased})
        if shredded:
            # Unreadable from the commit on; the rows and key rows go now, so the client's next
            # message of this month takes a new key (a crash here is finished by the next sweep).
            await self.sweeper.forget(shredded)
            await self.sweeper.purge_keys(shredded)
        return state.value

    async def requests(self, by: Actor) -> list[Any]:
        self.policy.require_office(by, by.office_id)
        async with self.store.read("retention.requests") as conn:
            rows = await store.requests(conn)
        if by.cross_office:
            return rows
        async with self.store.read("retention.requests.scope") as conn:
            return [r for r in rows if (await case_store.case_by_id(conn, r.case_id)).office_id == by.office_id]
