"""Case network action functions (TUKO, issue 16): one per step of the process, and audited reads.

Every write loads the case's network document, asks the policy (rule ``networks``: who
takes part at all), lets the network's table decide the step (``machine.py``), writes the
document back under the case's ``network_records`` key in one named transaction with its
audit row, and after commit pushes a content-free notice to the members it names. Every
read is audited in the transaction that reads.

What a member sees is only what the network shares: the current process they belong to,
never the case's notes, messages or check-ins, and never a draft plan or why it is safe for
the client to take part. The client, as a member, sees the meetings, the sent plans, the
members' agencies and the conclusion, not the concerns, views or the common assessment
(they may name the person under threat).

Someone with no relation to the case who was never a member of its network is answered as
for a case that does not exist (``OutOfScope``, issue 12); anyone else refused is told the
rule (``network_member_only``, ``network_access_ended``, ``victim_protection``, ...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases.service import CaseService, CaseView, refuse
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import Conflict, NotFound, OutOfScope, PolicyRefused
from server.identity import store as identity_store
from server.identity.model import Actor, Role
from server.identity.scope import followup_scope, in_scope
from server.ids import new_id
from server.messaging import store as messaging_store
from server.networks import pdf, store
from server.networks.machine import (
    AccessEnded,
    Effect,
    MeetingScheduled,
    MemberJoined,
    Network,
    NetworkActor,
    Notify,
    TaskDraft,
)
from server.networks.model import NetworkState, Process, Stage
from server.policy.facts import READ_NETWORK, WRITE_NETWORK, NetworkFacts
from server.policy.rules.networks import victim_protection
from server.policy.service import PolicyService
from server.scheduling import ics
from server.scheduling.model import WindowSettings
from server.store.tx import Store

CATEGORY = "network_records"
LEADERS = ("supervising_officer", "office_senior")
Push = Callable[[tuple[str, ...], dict[str, str], str], None]


@dataclass(frozen=True)
class Loaded:
    view: CaseView
    row: Any  # the networks row, or None before the first concern
    network: Network
    actor: NetworkActor


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


class NetworkService:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, cases: CaseService, policy: PolicyService,
                 push: Push | None = None, windows: WindowSettings | None = None) -> None:
        self.store = store_
        #: The join windows of meetings by video (the check-ins'; ``joining.py`` enforces the same).
        self.windows = windows or WindowSettings()
        self.clock = clock
        self.keyring = keyring
        self.cases = cases
        self.policy = policy
        self.push = push

    # -- loading and deciding ------------------------------------------------------------

    def _limits(self) -> dict[str, int]:
        return {"max_access_days": self.policy.engine.policies.networks.max_access_days}

    async def _load(self, conn: AsyncConnection, by: Actor, case_id: str) -> Loaded:
        view = await self.cases.view(conn, case_id)
        row = await store.network_of_case(conn, case_id)
        state = await self._state(conn, row, case_id)
        # The case leader: whoever may change the case (its officer, or a senior of its office when
        # the scope policy lets seniors act on their office's cases).
        leader = by.role in (Role.OFFICER, Role.SENIOR_OFFICER) and self.cases.decide(by, "write_case", view).allowed
        return Loaded(view, row, Network(state, **self._limits()), NetworkActor(by.user_id, leader))

    async def _state(self, conn: AsyncConnection, row: Any, case_id: str) -> NetworkState:
        """The network's document (empty before the first concern, or once retention shredded it)."""
        if row is not None:
            try:
                blob = await self.keyring.decrypt(conn, key_id=row.key_id, blob=row.body,
                                                  aad=store.body_aad(row.id, case_id))
                return msgspec.json.decode(blob, type=NetworkState)
            except KeyShredded:
                pass  # shredded by retention: the network's records no longer exist
        return NetworkState(case_id=case_id)

    def _require(self, by: Actor, loaded: Loaded, action: str) -> None:
        """The ``networks`` rule, on the actor's place in the current process."""
        now = self.clock.now()
        current = loaded.network.current
        member = current.member(by.user_id) if current is not None and not loaded.actor.leader else None
        facts = NetworkFacts(member=member is not None, member_kind=member.kind if member else None,
                             access_open=member.active(now) if member else False,
                             safety_reason_recorded=bool(member and member.safety_reason))
        decision = self.cases.decide(by, action, loaded.view, now=now, network=facts)
        if decision.allowed:
            return
        known = any(p.member(by.user_id) for p in loaded.network.state.processes)
        if not known and not in_scope(by, loaded.view.ref):
            raise OutOfScope("No such case")
        refuse(decision)

    async def load_for(self, conn: AsyncConnection, by: Actor, case_id: str) -> Loaded:
        """The case's network once the ``networks`` rule lets ``by`` read it (a feature built on
        the network, such as its meetings by video, asks this first)."""
        loaded = await self._load(conn, by, case_id)
        self._require(by, loaded, READ_NETWORK)
        return loaded

    async def _save(self, conn: AsyncConnection, loaded: Loaded, now: datetime) -> str:
        net = loaded.network
        current = net.current
        assert current is not None
        network_id = loaded.row.id if loaded.row is not None else new_id()
        case_id = loaded.view.row.id
        key_id, blob = await self.keyring.encrypt(conn, case_id=case_id, category=CATEGORY, at=now,
                                                  plaintext=msgspec.json.encode(net.state),
                                                  aad=store.body_aad(network_id, case_id))
        values = {"process": current.number, "stage": current.stage.value,
                  "stage_since": current.stage_since or now, "key_id": key_id, "body": blob, "updated_at": now}
        if loaded.row is None:
            await store.insert_network(conn, id=network_id, case_id=case_id, revision=1, created_at=now, **values)
        elif not await store.update_network(conn, network_id, int(loaded.row.revision), **values):
            raise Conflict("The network changed while this was being saved; load it again")
        await store.replace_tasks(conn, network_id, case_id, current)
        return str(network_id)

    async def index_tasks(self, *, batch: int = 100) -> int:
        """Fill ``network_tasks`` for stage-4 networks written before it existed (run at start:
        a migration holds no key to open the documents). Each network in its own transaction; a
        network another node indexed first, or that changed meanwhile, is left as it is."""
        done, seen = 0, set[str]()
        while True:
            async with self.store.read("network.unindexed") as conn:
                rows = [r for r in await store.unindexed_networks(conn, batch + len(seen)) if r.id not in seen]
            if not rows:
                return done
            for row in rows:
                seen.add(str(row.id))
                async with self.store.write("network.index_tasks") as conn:
                    again = await store.network_of_case(conn, row.case_id)
                    if again is None or again.id != row.id or again.stage != Stage.COORDINATED_CASE_MANAGEMENT:
                        continue
                    current = Network(await self._state(conn, again, row.case_id)).current
                    if current is not None and not await store.has_tasks(conn, row.id):
                        await store.replace_tasks(conn, row.id, row.case_id, current)
                        done += 1

    async def _carry_out(self, conn: AsyncConnection, loaded: Loaded, effects: list[Effect], now: datetime) -> None:
        case_id, officer_id = loaded.view.row.id, loaded.view.row.officer_id
        for effect in effects:
            if isinstance(effect, MemberJoined):
                await store.upsert_member(conn, case_id=case_id, user_id=effect.user_id, kind=effect.kind,
                                          agency=effect.agency, ends_on=effect.ends_on, at=now)
                await messaging_store.ensure_conversation(conn, kind="network", case_id=case_id,
                                                          user_ids=[officer_id, effect.user_id], at=now)
            elif isinstance(effect, MeetingScheduled):
                await store.insert_meeting(conn, id=effect.meeting_id, case_id=case_id, starts_at=effect.starts_at,
                                           created_at=now)
            elif isinstance(effect, AccessEnded):
                await store.end_members(conn, case_id, effect.user_ids, now)
                conversation = await messaging_store.conversation_for_case(conn, case_id, "network")
                for user_id in effect.user_ids if conversation is not None else ():
                    if user_id != officer_id:
                        await messaging_store.set_member(conn, conversation.id, user_id, left_at=now)

    async def _act(self, by: Actor, case_id: str, event: str, step: Callable[[Network, NetworkActor, datetime],
                   list[Effect]], details: dict[str, object] | None = None) -> str:
        now = self.clock.now()
        async with self.store.write(f"network.{event}") as conn:
            loaded = await self._load(conn, by, case_id)
            self._require(by, loaded, WRITE_NETWORK)
            effects = step(loaded.network, loaded.actor, now)
            network_id = await self._save(conn, loaded, now)
            await self._carry_out(conn, loaded, effects, now)
            current = loaded.network.current
            assert current is not None
            await audit.append(conn, at=now, actor_id=by.user_id, action=f"network.{event}", target_type="network",
                               target_id=network_id, case_id=case_id,
                               details={"process": current.number, "stage": current.stage.value, **(details or {})})
        self._notify(network_id, effects)
        return network_id

    def _notify(self, network_id: str, effects: list[Effect]) -> None:
        """Push without content, like messages: that something happened in a network, nothing more."""
        if self.push is None:
            return
        for effect in effects:
            if isinstance(effect, Notify) and effect.user_ids:
                self.push(effect.user_ids, {"type": "network", "network_id": network_id}, f"network|{network_id}")

    # -- the steps -----------------------------------------------------------------------

    async def raise_concern(self, by: Actor, case_id: str, *, noticed: str, noticed_by: str) -> str:
        """Stage 1: the case leader, or a member of the network, raises a concern (a new process
        when there is none open). Returns the network's id."""
        return await self._act(by, case_id, "raise_concern", lambda net, actor, now: net.raise_concern(
            actor, now, noticed=noticed, noticed_by=noticed_by))

    async def invite_member(self, by: Actor, case_id: str, *, user_id: str, agency: str, ends_on: date,
                            safety_reason: str | None = None) -> None:
        """Invite a partner-agency user, or the case's client, with their agency and the last day
        of their access."""
        async with self.store.read("network.invitee") as conn:
            user = await identity_store.user_by_id(conn, user_id)
            view = await self.cases.view(conn, case_id)
        kind: Literal["partner", "client"]
        if user is not None and user.role == Role.PARTNER.value and not user.disabled:
            kind = "partner"
        elif user is not None and user.id == view.row.client_id:
            kind = "client"
        else:
            raise NotFound("No such partner-agency user")
        config = self.policy.engine.policies.networks
        protected = kind == "client" and victim_protection(config, view.facts)
        await self._act(by, case_id, "invite_member", lambda net, actor, now: net.invite_member(
            actor, now, user_id=user_id, kind=kind, agency=agency, ends_on=ends_on, victim_protection=protected,
            safety_reason=safety_reason), {"member_id": user_id, "kind": kind, "ends_on": ends_on.isoformat()})

    async def schedule_meeting(self, by: Actor, case_id: str, *, starts_at: datetime,
                               mode: Literal["video", "in_person"], place: str | None = None,
                               minutes: int = 60) -> str:
        meeting_id = new_id()
        await self._act(by, case_id, "schedule_meeting", lambda net, actor, now: net.schedule_meeting(
            actor, now, meeting_id=meeting_id, starts_at=starts_at, mode=mode, place=place, minutes=minutes),
            {"meeting_id": meeting_id, "starts_at": starts_at.isoformat(), "mode": mode})
        return meeting_id

    async def record_view(self, by: Actor, case_id: str, *, answers: dict[str, str]) -> None:
        await self._act(by, case_id, "record_view", lambda net, actor, now: net.record_view(
            actor, now, answers=answers))

    async def record_assessment(self, by: Actor, case_id: str, *, answers: dict[str, str],
                                decision: Literal["plan", "close"]) -> None:
        await self._act(by, case_id, "record_assessment", lambda net, actor, now: net.record_assessment(
            actor, now, answers=answers, decision=decision), {"decision": decision})

    async def write_plan(self, by: Actor, case_id: str, *, tasks: list[TaskDraft], next_meeting_at: datetime,
                         keep_in_touch: str, crisis: bool = False) -> None:
        await self._act(by, case_id, "write_plan", lambda net, actor, now: net.write_plan(
            actor, now, tasks=tasks, next_meeting_at=next_meeting_at, keep_in_touch=keep_in_touch, crisis=crisis))

    async def send_plan(self, by: Actor, case_id: str) -> None:
        await self._act(by, case_id, "send_plan", lambda net, actor, now: net.send_plan(actor, now))

    async def revise_plan(self, by: Actor, case_id: str, *, tasks: list[TaskDraft], next_meeting_at: datetime,
                          keep_in_touch: str, crisis: bool = False) -> None:
        await self._act(by, case_id, "revise_plan", lambda net, actor, now: net.revise_plan(
            actor, now, tasks=tasks, next_meeting_at=next_meeting_at, keep_in_touch=keep_in_touch, crisis=crisis))

    async def acknowledge_plan(self, by: Actor, case_id: str, *, version: int) -> None:
        await self._act(by, case_id, "acknowledge_plan", lambda net, actor, now: net.acknowledge_plan(
            actor, now, version=version), {"version": version})

    async def mark_task(self, by: Actor, case_id: str, *, task_id: str, state: Literal["done", "blocked"],
                        note: str) -> None:
        await self._act(by, case_id, f"task_{state}" if state in ("done", "blocked") else "task", lambda net, actor,
                        now: net.mark_task(actor, now, task_id=task_id, state=state, note=note), {"task_id": task_id})

    async def close(self, by: Actor, case_id: str, *, conclusion: str) -> None:
        """Stage 4 ends: a written conclusion; members are told and their access ends."""
        await self._act(by, case_id, "close", lambda net, actor, now: net.close(actor, now, conclusion=conclusion))

    # -- audited reads -------------------------------------------------------------------

    async def read(self, by: Actor, case_id: str) -> dict[str, Any]:
        """The network as its reader may see it: every process for the case leader, the current
        one (shared parts only) for a member."""
        now = self.clock.now()
        async with self.store.write("network.read") as conn:
            loaded = await self._load(conn, by, case_id)
            self._require(by, loaded, READ_NETWORK)
            net, actor = loaded.network, loaded.actor
            if net.current is None:
                raise NotFound("This case has no network yet")
            processes = [self._shared(p, by, actor, loaded.view) for p in net.visible_processes(actor, now)]
            await audit.append(conn, at=now, actor_id=by.user_id, action="network.read", target_type="network",
                               target_id=loaded.row.id, case_id=case_id, details={"processes": len(processes)})
        return {"network_id": loaded.row.id, "case_id": case_id, "stage": net.stage.value if net.stage else None,
                "processes": processes,
                "overdue": [_plain(o.task) | {"plan_version": o.plan_version} for o in net.overdue(now)]
                if actor.leader else []}

    def _shared(self, process: Process, by: Actor, actor: NetworkActor, view: CaseView) -> dict[str, Any]:
        data: dict[str, Any] = _plain(process)
        for meeting, shown in zip(process.meetings, data["meetings"], strict=True):
            if meeting.mode == "video":  # when the server lets its live session be joined
                opens_at, closes_at = meeting.join_window(self.windows)
                shown["join_opens_at"], shown["join_closes_at"] = _plain(opens_at), _plain(closes_at)
        if actor.leader:
            return data
        data.pop("draft", None)
        for member in data["members"]:
            member.pop("safety_reason", None)
        if by.user_id == view.row.client_id:
            for hidden in ("concerns", "views", "assessment"):
                data.pop(hidden, None)
        return data

    async def plan_versions(self, by: Actor, case_id: str) -> list[dict[str, Any]]:
        """Every sent version of the current process's plan, oldest first (old ones stay readable)."""
        return list((await self.read(by, case_id))["processes"][-1]["plans"])

    async def meetings_ics(self, by: Actor, case_id: str) -> str:
        """The current process's meetings as iCalendar (RFC 5545) for the reader's calendar: no
        names, no case details, only when, how and where. Read, and audited, as the network is."""
        process = (await self.read(by, case_id))["processes"][-1]
        stamp = self.clock.now()
        events = [ics.Event(uid=f"{m['id']}@tandem", starts_at=datetime.fromisoformat(m["starts_at"]),
                            ends_at=datetime.fromisoformat(m["starts_at"]) + timedelta(minutes=m["minutes"]),
                            summary="Case network meeting" + (" (video, in Tandem)" if m["mode"] == "video"
                                                               else " (in person)"),
                            location=m["place"], stamp=stamp, cancelled=process["stage"] == Stage.CLOSED.value)
                  for m in process["meetings"]]
        return ics.calendar(events, name="Tandem case network")

    async def plan_pdf(self, by: Actor, case_id: str, *, version: int | None = None) -> tuple[int, bytes]:
        """A sent version of the current process's plan (the latest by default) as a PDF, with
        its labels in the reader's language. Read, and audited, as the network is."""
        process = (await self.read(by, case_id))["processes"][-1]
        plans = {p["version"]: p for p in process["plans"]}
        chosen = plans.get(version if version is not None else max(plans, default=0))
        if chosen is None:
            raise NotFound("No such version of the plan" if version is not None else "No plan has been sent yet")
        # Off the event loop: a plan of 40 long tasks takes some 10-20 ms to lay out.
        return int(chosen["version"]), await asyncio.to_thread(pdf.plan_document, chosen, process["members"],
                                                               locale=by.locale)

    async def my_networks(self, by: Actor) -> list[dict[str, Any]]:
        """A partner's (or client's) networks they can open now: ids, stage, agency and end date only.
        Audited: it names cases."""
        now = self.clock.now()
        async with self.store.write("network.list") as conn:
            rows = [r for r in await store.membership_rows(conn, by.user_id)
                    if r.ended_at is None and r.ends_on is not None and now.date() <= r.ends_on
                    and r.stage != Stage.CLOSED.value and await self._opens(conn, by, r)]
            await audit.append(conn, at=now, actor_id=by.user_id, action="network.list", target_type="user",
                               target_id=by.user_id, details={"cases": [r.case_id for r in rows]})
        return [{"network_id": r.id, "case_id": r.case_id, "stage": r.stage, "agency": r.agency,
                 "ends_on": r.ends_on} for r in rows]

    async def meeting_recipients(self, conn: AsyncConnection, case_id: str, meeting_id: str) -> tuple[str, ...]:
        """Who is reminded of a network meeting now: the case's officer and the members of the
        process whose access lasts (the client only when the victim-protection rule lets them in);
        nobody when the meeting is not in the case's open process any more (closed, or shredded)."""
        now = self.clock.now()
        view = await self.cases.view(conn, case_id)
        state = await self._state(conn, await store.network_of_case(conn, case_id), case_id)
        current = Network(state).current
        if current is None or current.stage is Stage.CLOSED or all(m.id != meeting_id for m in current.meetings):
            return ()
        protected = victim_protection(self.policy.engine.policies.networks, view.facts)
        members = [m.user_id for m in current.members if m.active(now)
                   and (m.kind == "partner" or not protected or m.safety_reason)]
        return tuple(dict.fromkeys([view.row.officer_id, *members]))

    async def _opens(self, conn: AsyncConnection, by: Actor, row: Any) -> bool:
        """May a member open this network now? Asked in full only for the client (the
        victim-protection flag may keep them out); a partner's row already says it."""
        if row.kind != "client":
            return True
        try:
            self._require(by, await self._load(conn, by, row.case_id), READ_NETWORK)
        except (PolicyRefused, OutOfScope):
            return False
        return True

    async def follow_up(self, by: Actor) -> list[dict[str, Any]]:
        """Overdue tasks of the networks an officer leads (a senior: their office's), oldest due
        first: the officer's follow-up list. Each network read is audited."""
        whose = followup_scope(by)
        if whose is None:
            raise PolicyRefused("Only officers follow up networks (rule network_case_leader_only)",
                                rule_id="network_case_leader_only", reason="network_case_leader_only.follow_up")
        officer_id, office_id = whose
        now = self.clock.now()
        out: list[dict[str, Any]] = []
        async with self.store.write("network.follow_up") as conn:
            for row in await store.led_rows(conn, officer_id=officer_id, office_id=office_id,
                                            stages=(Stage.COORDINATED_CASE_MANAGEMENT.value,)):
                loaded = await self._load(conn, by, row.case_id)
                if not loaded.actor.leader:
                    continue
                overdue = loaded.network.overdue(now)
                client = await identity_store.user_by_id(conn, loaded.view.row.client_id)
                current = loaded.network.current
                agencies = {m.user_id: m.agency for m in current.members} if current is not None else {}
                out += [{"case_id": row.case_id, "network_id": row.id, "process": o.process,
                         "plan_version": o.plan_version, "client_name": client.display_name if client else "",
                         "owner_agency": agencies.get(o.task.owner_id), **_plain(o.task)} for o in overdue]
                await audit.append(conn, at=now, actor_id=by.user_id, action="network.read", target_type="network",
                                   target_id=row.id, case_id=row.case_id, details={"via": "follow_up",
                                                                                    "overdue": len(overdue)})
        return sorted(out, key=lambda t: (t["due_on"], t["case_id"]))

