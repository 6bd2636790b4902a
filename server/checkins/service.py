"""Check-in action functions: schedule, link codes, interpreters, safe-space check, joining,
evidence and the outcome.

Every write is one action: its policy check, one named transaction with its audit row
inside, bus notifications after commit. Reads of a check-in's evidence are client data
and audited (GDPR art. 30). Who has a part in a check-in: the case's staff in scope
(hosts), the client of the case, and interpreters invited to that check-in; anyone
else is told the check-in does not exist, so ids cannot be probed.

The face-to-face gate for a client joining is the decision for the case's supervising
officer: the rule is about the supervision relationship (CEP 2024 §4.5, §5), and the
``scope`` rule gives ``start_video`` to staff only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.alerts.model import AlertKind, Resolution
from server.alerts.service import AlertService
from server.audit import store as audit
from server.bus.base import Bus
from server.cases.service import CaseService, CaseView, refuse
from server.checkins import evidence, store
from server.checkins.lifecycle import JOINABLE, TRANSITIONS, CheckinEvent, CheckinState, IllegalCheckinStep, step
from server.checkins.outcomes import Outcome
from server.checkins.safe_space import Result, Side, Verdict, evaluate, questions, side_of
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.errors import (
    BadRequest,
    IllegalTransition,
    NotFound,
    OutOfScope,
    OutsideWindow,
    PolicyRefused,
    Unauthenticated,
    Unavailable,
)
from server.identity import store as identity_store
from server.identity.model import Actor, Role
from server.identity.scope import relation
from server.identity.service import IdentityService, LoginResult
from server.ids import new_id, new_token, token_digest
from server.policy.facts import START_VIDEO, ActorFacts, PolicyRequest
from server.policy.schema import Question, SafeSpaceConfig, ScopeConfig
from server.policy.service import PolicyService
from server.signalling.protocol import CheckinAlert, IceServer
from server.signalling.turn import TurnConfig, ice_servers
from server.store.tx import Store

log = logging.getLogger(__name__)
MAX_LENGTH = timedelta(hours=4)
MAX_AHEAD = timedelta(days=400)


@dataclass(frozen=True)
class Access:
    row: Any
    view: CaseView
    part: str  # host | client | interpreter


@dataclass(frozen=True)
class Scheduled:
    row: Any
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class JoinGrant:
    checkin_id: str
    case_id: str
    officer_id: str
    host: bool
    ice_servers: tuple[IceServer, ...]
    relay: bool
    closes_at: datetime


def _alternatives(obligations: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(o.split(":", 1)[1] for o in obligations if o.startswith("offer_alternative:"))


def _field(appointment: Any, name: str) -> Any:
    if isinstance(appointment, Mapping):
        return appointment.get(name)
    return getattr(appointment, name, None)


class CheckinService:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, cases: CaseService, policy: PolicyService,
                 identity: IdentityService, bus: Bus, turn: TurnConfig, alerts: AlertService | None = None) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.cases = cases
        self.policy = policy
        self.identity = identity
        self.bus = bus
        self.turn = turn
        self.alerts = alerts  # stored alerts for the officer (issue 13); None: live frames only
        # Run after a person ended their attempt as unsafe (REST), with (checkin_id, user_id): the
        # signalling layer takes them out of the room.
        self.unsafe_hooks: list[Callable[[str, str], Awaitable[None]]] = []
        # Run after the case's staff failed their own safe-space check, with (checkin_id, user_id):
        # the signalling layer tells the client in the waiting room that the officer cannot talk now.
        self.staff_unsafe_hooks: list[Callable[[str, str], Awaitable[None]]] = []
        # Awaited inside the outcome's transaction for a check-in of an appointment, with
        # (conn, actor, appointment_id, outcome, note): scheduling records it on the appointment.
        self.outcome_hooks: list[Callable[[AsyncConnection, Actor, str, Outcome, str | None], Awaitable[object]]] = []

    @property
    def safe_space(self) -> SafeSpaceConfig:
        config = self.policy.engine.policies.config("safe_space")
        assert isinstance(config, SafeSpaceConfig)
        return config

    # -- access -----------------------------------------------------------------------

    async def access(self, conn: AsyncConnection, actor: Actor, checkin_id: str,
                     limited_to: str | None = None) -> Access:
        row = await store.checkin(conn, checkin_id)
        if row is None or (limited_to is not None and limited_to != checkin_id):
            raise NotFound("No such check-in")
        view = await self.cases.view(conn, row.case_id)
        rel = relation(actor, view.ref)
        if rel in ("supervising_officer", "office_senior"):
            refuse(self.cases.decide(actor, "read_case", view))
            return Access(row, view, "host")
        if rel == "client_self":
            return Access(row, view, "client")
        if actor.role is Role.INTERPRETER and await store.is_interpreter(conn, checkin_id, actor.user_id):
            return Access(row, view, "interpreter")
        raise OutOfScope("No such check-in")

    async def _host(self, conn: AsyncConnection, actor: Actor, checkin_id: str) -> Access:
        acc = await self.access(conn, actor, checkin_id)
        if acc.part != "host":
            raise PolicyRefused("Only the case's officer or a senior officer of the office may do this (rule scope)",
                                rule_id="scope", reason="scope.officers_only")
        return acc

    def _video_decision(self, actor: Actor, view: CaseView, part: str) -> tuple[str, ...]:
        """Refuses by face_to_face_first (and scope); returns the alternatives to offer."""
        if part == "interpreter":
            return ()
        if part == "client":  # the supervising relationship decides, as for the officer
            officer = ActorFacts(user_id=view.row.officer_id, role="officer", office_id=view.row.office_id)
            decision = self.policy.evaluate(PolicyRequest(action=START_VIDEO, actor=officer, now=self.clock.now(),
                                                          case=view.facts, relation="supervising_officer"))
        else:
            decision = self.cases.decide(actor, START_VIDEO, view)
        refuse(decision)
        return _alternatives(decision.obligations)

    async def _audit(self, conn: AsyncConnection, actor_id: str | None, action: str, checkin: Any,
                     details: dict[str, object] | None = None) -> None:
        await audit.append(conn, at=self.clock.now(), actor_id=actor_id, action=action, target_type="checkin",
                           target_id=checkin.id, case_id=checkin.case_id, details=details)

    # -- scheduling --------------------------------------------------------------------

    async def open_for_appointment(self, conn: AsyncConnection, actor: Actor, appointment: Any,
                                   opens_at: datetime, closes_at: datetime) -> Scheduled:
        """Create the check-in of a video appointment inside the caller's transaction.

        ``appointment`` is the appointment's row or a mapping with ``id`` and ``case_id``."""
        case_id = _field(appointment, "case_id")
        if not isinstance(case_id, str):
            raise BadRequest("The appointment names no case", reason="checkin.no_case")
        return await self._insert(conn, actor, case_id, _field(appointment, "id"), opens_at, closes_at)

    async def cancel_for_appointment(self, conn: AsyncConnection, actor: Actor, appointment_id: str) -> list[str]:
        """Cancel the scheduled check-ins of a cancelled appointment, inside the caller's transaction.
        A check-in somebody already reached (waiting, in a call, ended) is left for its outcome."""
        cancelled: list[str] = []
        for row in await store.checkins_of_appointment(conn, appointment_id):
            await self._host(conn, actor, row.id)
            if await store.set_state(conn, row.id, CheckinState.SCHEDULED.value,
                                     step(CheckinState.SCHEDULED, CheckinEvent.CANCEL).value, self.clock.now()):
                await self._audit(conn, actor.user_id, "checkin.cancel", row, {"appointment_id": appointment_id})
                cancelled.append(row.id)
        return cancelled

    async def on_video_scheduled(self, conn: AsyncConnection, *, actor: Actor, appointment: Any,
                                 opens_at: datetime, closes_at: datetime) -> None:
        """Scheduling's hook: a video appointment was created, its check-in opens with it."""
        await self.open_for_appointment(conn, actor, appointment, opens_at, closes_at)

    async def on_video_changed(self, conn: AsyncConnection, *, actor: Actor, appointment: Any,
                               opens_at: datetime, closes_at: datetime) -> None:
        """Scheduling's hook: a video appointment moved, was cancelled or stopped being video.
        Its check-ins not yet reached follow it (a moved window, or cancelled); one somebody
        already reached is left for its outcome."""
        if _field(appointment, "status") != "scheduled" or _field(appointment, "kind") != "video":
            await self.cancel_for_appointment(conn, actor, _field(appointment, "id"))
            return
        now = self.clock.now()
        for row in await store.checkins_of_appointment(conn, _field(appointment, "id")):
            if row.state != CheckinState.SCHEDULED.value:
                continue
            await store.update_checkin(conn, row.id, opens_at=opens_at, closes_at=closes_at, updated_at=now)
            await self._audit(conn, actor.user_id, "checkin.move", row,
                              {"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat()})

    async def schedule_checkin(self, actor: Actor, case_id: str, starts_at: datetime, ends_at: datetime) -> Scheduled:
        async with self.store.write("checkin.schedule") as conn:
            return await self._insert(conn, actor, case_id, None, starts_at, ends_at)

    async def _insert(self, conn: AsyncConnection, actor: Actor, case_id: str, appointment_id: str | None,
                      opens_at: datetime, closes_at: datetime) -> Scheduled:
        now = self.clock.now()
        if closes_at <= opens_at or closes_at - opens_at > MAX_LENGTH:
            raise BadRequest(f"A check-in window ends after it starts and lasts at most {MAX_LENGTH.seconds // 3600} h",
                             reason="checkin.window_length", params={"hours": MAX_LENGTH.seconds // 3600})
        if closes_at <= now or opens_at > now + MAX_AHEAD:
            raise BadRequest("A check-in window must end in the future and start within 400 days",
                             reason="checkin.window_range")
        view = await self.cases.view(conn, case_id)
        alternatives = self._video_decision(actor, view, "host")
        checkin_id = new_id()
        await store.insert_checkin(conn, id=checkin_id, case_id=case_id, appointment_id=appointment_id,
                                   opens_at=opens_at, closes_at=closes_at, state=CheckinState.SCHEDULED.value,
                                   created_by=actor.user_id, created_at=now, updated_at=now)
        row = await store.checkin(conn, checkin_id)
        await self._audit(conn, actor.user_id, "checkin.schedule", row,
                          {"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat(),
                           "appointment_id": appointment_id})
        return Scheduled(row, alternatives)

    # -- reading -----------------------------------------------------------------------

    async def get(self, actor: Actor, checkin_id: str, limited_to: str | None = None
                  ) -> tuple[Access, Any, evidence.Summary | None, tuple[str, ...]]:
        """The check-in, who meets whom and when (``store.meeting``: what the waiting room and the
        call show everyone in it), and for its staff the evidence and the alternatives."""
        async with self.store.write("checkin.read") as conn:
            acc = await self.access(conn, actor, checkin_id, limited_to)
            meeting = await store.meeting(conn, checkin_id)
            if acc.part != "host":
                return acc, meeting, None, ()
            summary = await evidence.summarise_checkin(self.keyring, conn, acc.row)
            decision = self.cases.decide(actor, START_VIDEO, acc.view)
            await self._audit(conn, actor.user_id, "checkin.read", acc.row)
        return acc, meeting, summary, _alternatives(decision.obligations)

    async def list_for(self, actor: Actor, start: datetime | None, end: datetime | None, limit: int) -> list[Any]:
        scope: dict[str, str | None] = {"officer_id": None, "office_id": None, "client_id": None,
                                        "interpreter_id": None}
        if actor.role is Role.OFFICER:
            scope["officer_id"] = actor.user_id
        elif actor.role is Role.SENIOR_OFFICER:
            scope["office_id"] = actor.office_id
            config = self.policy.engine.policies.config("scope")
            if isinstance(config, ScopeConfig) and config.senior_officer_scope == "caseload":
                scope = scope | {"office_id": None, "officer_id": actor.user_id}
        elif actor.role is Role.CLIENT:
            scope["client_id"] = actor.user_id
        elif actor.role is Role.INTERPRETER:
            scope["interpreter_id"] = actor.user_id
        async with self.store.write("checkin.list") as conn:
            rows = await store.checkins_in_scope(conn, start=start, end=end, limit=limit, **scope)
            if rows:
                await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action="checkin.list",
                                   target_type="checkin", target_id=None, details={"count": len(rows)})
        return rows

    # -- links, codes and interpreters ------------------------------------------------

    async def issue_link(self, actor: Actor, checkin_id: str) -> tuple[str, datetime]:
        code = new_token(24)
        async with self.store.write("checkin.link") as conn:
            acc = await self._host(conn, actor, checkin_id)
            if CheckinState(acc.row.state) not in JOINABLE:
                raise IllegalTransition("This check-in can no longer be joined", reason="checkin.closed")
            await store.insert_code(conn, code_hash=token_digest(code), checkin_id=checkin_id,
                                    user_id=acc.view.row.client_id, created_by=actor.user_id,
                                    created_at=self.clock.now(), expires_at=acc.row.closes_at)
            await self._audit(conn, actor.user_id, "checkin.link", acc.row)
        return code, acc.row.closes_at

    async def code_session(self, checkin_id: str, code: str, *, kind: str, address: str) -> LoginResult:
        # Throttled like a login, before the write a wrong code costs: per (check-in, address) and
        # per address. Not per check-in as a whole, or strangers could keep its client out.
        key = f"checkin:{checkin_id}"
        self.identity.throttle(key, address, account_wide=False)
        now = self.clock.now()
        try:
            async with self.store.write("checkin.code_session") as conn:
                used = await store.use_code(conn, checkin_id, token_digest(code), now)
                user = await identity_store.user_by_id(conn, used.user_id) if used is not None else None
                row = await store.checkin(conn, checkin_id)
                if used is None or user is None or user.disabled or row is None:
                    raise Unauthenticated("This link's code is not valid: it was used, has expired or is wrong",
                                          reason="checkin.bad_code")
                actor = identity_store.actor_from_row(user)
                result = await self.identity.insert_checkin_session(conn, actor, checkin_id=checkin_id, kind=kind,
                                                                    expires_at=row.closes_at, address=address)
                await self._audit(conn, actor.user_id, "checkin.code_used", row)
        except Unauthenticated:
            self.identity.limiter.failed(key, address, self.clock.monotonic(), account_wide=False)
            raise
        self.identity.limiter.succeeded(key, address)
        return result

    async def invite_interpreter(self, actor: Actor, checkin_id: str, user_id: str) -> None:
        async with self.store.write("checkin.invite") as conn:
            acc = await self._host(conn, actor, checkin_id)
            user = await identity_store.user_by_id(conn, user_id)
            if user is None or user.role != Role.INTERPRETER.value:
                raise BadRequest("Only interpreter accounts are invited to a check-in",
                                 reason="checkin.not_interpreter")
            if not await store.is_interpreter(conn, checkin_id, user_id):
                await store.invite_interpreter(conn, checkin_id=checkin_id, user_id=user_id,
                                               invited_by=actor.user_id, invited_at=self.clock.now())
            await self._audit(conn, actor.user_id, "checkin.invite", acc.row, {"user_id": user_id})

    # -- the safe-space check ------------------------------------------------------------

    async def safe_space_questions(self, actor: Actor, checkin_id: str, limited_to: str | None = None
                                   ) -> tuple[Side, tuple[Question, ...], bool]:
        async with self.store.read("checkin.safe_space.questions") as conn:
            acc = await self.access(conn, actor, checkin_id, limited_to)
            side = side_of(actor.role.value)
            passed = await store.passed_safe_space(conn, checkin_id, actor.user_id)
        return side, questions(self.safe_space, acc.view.facts, side), passed

    async def answer_safe_space(self, actor: Actor, checkin_id: str, answers: Mapping[str, bool], *,
                                cant_talk: bool = False, limited_to: str | None = None) -> Result:
        now = self.clock.now()
        async with self.store.write("checkin.safe_space") as conn:
            acc = await self.access(conn, actor, checkin_id, limited_to)
            if CheckinState(acc.row.state) not in JOINABLE:
                raise IllegalCheckinStep(CheckinState(acc.row.state), CheckinEvent.CANT_TALK)
            side = side_of(actor.role.value)
            result = evaluate(questions(self.safe_space, acc.view.facts, side), answers, cant_talk=cant_talk)
            row_id = new_id()
            key_id, blob = await evidence.seal(
                self.keyring, conn, case_id=acc.row.case_id, category=evidence.ANSWERS, at=now,
                table="safe_space_answers", row_id=row_id, checkin_id=checkin_id,
                body={"answers": dict(answers), "verdict": result.verdict.value, "unsafe": list(result.unsafe)})
            await store.insert_answers(conn, id=row_id, checkin_id=checkin_id, case_id=acc.row.case_id,
                                       user_id=actor.user_id, side=side, passed=result.passed, at=now, key_id=key_id,
                                       body=blob)
            alert = acc.part == "client" and not result.passed
            kind = AlertKind.CANT_TALK_SAFELY if result.verdict is Verdict.CANT_TALK else AlertKind.SAFE_SPACE_FAILED
            raised = None
            if alert:
                await self._step(conn, acc.row, CheckinEvent.CANT_TALK)
                await evidence.add_event(self.keyring, conn, checkin_id=checkin_id, case_id=acc.row.case_id, at=now,
                                         body={"kind": "cant_talk", "user_id": actor.user_id, "role": "client"})
                if self.alerts is not None:  # kept until the officer acknowledges it
                    raised = await self.alerts.raise_in(conn, user_id=acc.view.row.officer_id, kind=kind,
                                                        checkin_id=checkin_id, case_id=acc.row.case_id)
            await self._audit(conn, actor.user_id, "checkin.safe_space", acc.row,
                              {"side": side, "verdict": result.verdict.value})
        if alert:
            await self.alert(acc.row, acc.view.row.officer_id, kind.value)
            if self.alerts is not None:
                await self.alerts.announce(raised)
            for hook in self.unsafe_hooks:
                await hook(checkin_id, actor.user_id)
        elif acc.part == "host" and not result.passed:
            # The officer is not safe to talk: the client waiting is told kindly, not left waiting.
            for staff_hook in self.staff_unsafe_hooks:
                await staff_hook(checkin_id, actor.user_id)
        return result

    async def alert(self, checkin: Any, officer_id: str, kind: str) -> None:
        frame = CheckinAlert(checkin_id=checkin.id, case_id=checkin.case_id, kind=kind,  # type: ignore[arg-type]
                             at=self.clock.now())
        await self.publish(officer_id, frame)

    async def publish(self, user_id: str, frame: Any) -> None:
        import msgspec

        try:
            await self.bus.publish(f"user.{user_id}", msgspec.json.encode(frame))
        except Unavailable:
            log.warning("check-in notification not published", extra={"user": user_id})

    # -- joining and evidence (called by the signalling shell) --------------------------

    async def authorise_join(self, actor: Actor, checkin_id: str, limited_to: str | None = None) -> JoinGrant:
        now = self.clock.now()
        async with self.store.write("checkin.join") as conn:
            acc = await self.access(conn, actor, checkin_id, limited_to)
            if CheckinState(acc.row.state) not in JOINABLE:
                state = acc.row.state.replace("_", " ")
                raise IllegalTransition(f"This check-in is {state}: it can no longer be joined",
                                        reason="checkin.closed", params={"state": acc.row.state})
            if not acc.row.opens_at <= now <= acc.row.closes_at:
                raise OutsideWindow(f"This check-in can be joined from {acc.row.opens_at:%Y-%m-%d %H:%M} to "
                                    f"{acc.row.closes_at:%H:%M} UTC", reason="checkin.outside_window",
                                    params={"opens_at": acc.row.opens_at.astimezone(UTC).isoformat(),
                                            "closes_at": acc.row.closes_at.astimezone(UTC).isoformat()})
            self._video_decision(actor, acc.view, acc.part)
            if not await store.passed_safe_space(conn, checkin_id, actor.user_id):
                raise PolicyRefused("You have not passed the safe-space check for this check-in (rule safe_space)",
                                    rule_id="safe_space", reason="safe_space.not_passed")
            relay = self.safe_space.force_relay_for_staff and acc.part != "client"
            if relay and not self.turn.turn_urls:
                raise Unavailable("Calls must go through a TURN server, and none is configured",
                                  reason="checkin.no_turn")
            servers, _ = ice_servers(self.turn, actor.user_id, now, relay_only=relay)
            await self._audit(conn, actor.user_id, "checkin.join", acc.row, {"part": acc.part})
        return JoinGrant(checkin_id, acc.row.case_id, acc.view.row.officer_id, acc.part == "host", servers, relay,
                         acc.row.closes_at)

    async def ice(self, actor: Actor, checkin_id: str, limited_to: str | None = None
                  ) -> tuple[tuple[IceServer, ...], bool, datetime]:
        async with self.store.read("checkin.ice") as conn:
            acc = await self.access(conn, actor, checkin_id, limited_to)
        relay = self.safe_space.force_relay_for_staff and acc.part != "client"
        servers, expires = ice_servers(self.turn, actor.user_id, self.clock.now(), relay_only=relay)
        return servers, relay, expires

    async def _step(self, conn: AsyncConnection, row: Any, event: CheckinEvent) -> None:
        """Apply a step the room has already taken; a step the table has no entry for is skipped
        (the room is the truth about people, the table about the meeting). Compare-and-set, read
        again when another transaction stepped the check-in meanwhile."""
        for _ in range(5):
            current = await store.checkin(conn, row.id)
            state = CheckinState(current.state)
            if (state, event) not in TRANSITIONS:
                return
            if await store.set_state(conn, row.id, state.value, step(state, event).value, self.clock.now()):
                if event is CheckinEvent.ADMIT and state is CheckinState.WAITING and current.admitted_at is None:
                    # The first admission, for evaluation's waiting time (issue 16).
                    await store.update_checkin(conn, row.id, admitted_at=self.clock.now())
                return
        raise IllegalTransition("The check-in kept changing; try again", reason="checkin.changed")

    async def record_call(self, checkin_id: str, case_id: str, notes: list[dict[str, Any]],
                          events: list[CheckinEvent]) -> None:
        """Keep what the room observed (joined, admitted, left, ...) and step the lifecycle."""
        now = self.clock.now()
        async with self.store.write("checkin.evidence") as conn:
            row = await store.checkin(conn, checkin_id)
            for note in notes:
                await evidence.add_event(self.keyring, conn, checkin_id=checkin_id, case_id=case_id, at=now, body=note)
            for event in events:
                await self._step(conn, row, event)

    async def record_stats(self, checkin_id: str, case_id: str, sample: dict[str, Any]) -> None:
        now = self.clock.now()
        async with self.store.write("checkin.stats") as conn:
            row_id = new_id()
            key_id, blob = await evidence.seal(self.keyring, conn, case_id=case_id, category=evidence.QUALITY, at=now,
                                               table="call_quality", row_id=row_id, checkin_id=checkin_id, body=sample)
            await store.insert_quality(conn, id=row_id, checkin_id=checkin_id, case_id=case_id, at=now,
                                       key_id=key_id, body=blob)

    # -- the outcome -------------------------------------------------------------------

    async def record_outcome(self, actor: Actor, checkin_id: str, outcome: Outcome, note: str) -> Any:
        now = self.clock.now()
        async with self.store.write("checkin.outcome") as conn:
            acc = await self._host(conn, actor, checkin_id)
            state = step(CheckinState(acc.row.state), CheckinEvent.RECORD_OUTCOME)
            key_id, blob = None, None
            if note:
                key_id, blob = await evidence.seal(self.keyring, conn, case_id=acc.row.case_id,
                                                   category=evidence.RECORDS, at=now, table="checkins",
                                                   row_id=checkin_id, checkin_id=checkin_id, body={"note": note})
            if not await store.set_state(conn, checkin_id, acc.row.state, state.value, now):
                raise IllegalTransition("The check-in changed meanwhile; reload it", reason="checkin.changed")
            await store.update_checkin(conn, checkin_id, outcome=outcome.value, outcome_by=actor.user_id,
                                       outcome_at=now, key_id=key_id, outcome_note=blob)
            await self._audit(conn, actor.user_id, "checkin.outcome", acc.row, {"outcome": outcome.value})
            if acc.row.appointment_id is not None:
                for hook in self.outcome_hooks:
                    await hook(conn, actor, acc.row.appointment_id, outcome, note or None)
            # Its alerts have been dealt with: an outcome is recorded only after looking at them.
            resolved = await self.alerts.resolve_in(conn, checkin_id, Resolution.RECORDED) if self.alerts else []
            row = await store.checkin(conn, checkin_id)
        if self.alerts is not None:
            await self.alerts.announce_resolved(resolved, Resolution.RECORDED)
        return row
