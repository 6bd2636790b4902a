"""Policy versions: load at start, change through the admin API, evaluate.

The files in ``policies/`` are the defaults; they become version 1 the first time a
database starts. Every admin change stores a complete new version (all documents)
with its author and reason, audited in the same transaction, and is announced on the
bus so every node switches to it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from server.audit import store as audit
from server.bus.base import Bus
from server.clock import Clock
from server.errors import BadRequest, Conflict, NotFound
from server.identity.model import Actor
from server.identity.scope import office_relation
from server.policy import store
from server.policy.decision import Decision, refusal
from server.policy.engine import PolicyEngine
from server.policy.facts import ACT_IN_OFFICE, ActorFacts, OfficeFacts, PolicyRequest
from server.policy.loader import RULE_IDS, PolicyError, PolicySet, load_dir, parse_documents, replace_rule
from server.store.tx import Store

log = logging.getLogger(__name__)
CHANNEL = "policy.changed"


@dataclass(frozen=True)
class PolicyMeta:
    version: int
    author: str | None
    reason: str
    created_at: datetime


class PolicyService:
    def __init__(self, store_: Store, clock: Clock, policies_dir: Path, bus: Bus) -> None:
        self.store = store_
        self.clock = clock
        self.policies_dir = policies_dir
        self.bus = bus
        self._engine: PolicyEngine | None = None
        self._meta: PolicyMeta | None = None

    @property
    def engine(self) -> PolicyEngine:
        if self._engine is None:
            raise RuntimeError("policies not loaded")
        return self._engine

    @property
    def meta(self) -> PolicyMeta:
        if self._meta is None:
            raise RuntimeError("policies not loaded")
        return self._meta

    def evaluate(self, request: PolicyRequest) -> Decision:
        return self.engine.evaluate(request)

    def in_office(self, actor: Actor, office_id: str | None) -> Decision:
        """May ``actor`` act on an account or case of ``office_id`` (None: of no office)?"""
        facts = ActorFacts(user_id=actor.user_id, role=actor.role.value, office_id=actor.office_id,
                           cross_office=actor.cross_office)
        return self.evaluate(PolicyRequest(action=ACT_IN_OFFICE, actor=facts, now=self.clock.now(),
                                           office=OfficeFacts(office_id=office_id),
                                           relation=office_relation(actor, office_id)))

    def require_office(self, actor: Actor, office_id: str | None) -> None:
        decision = self.in_office(actor, office_id)
        if not decision.allowed:
            raise refusal(decision)

    async def load(self) -> None:
        """Load the newest stored version, storing the files as version 1 on first start."""
        defaults = load_dir(self.policies_dir, version=1)  # validates the files even when the DB has newer
        try:
            async with self.store.write("policy.load") as conn:
                row = await store.latest(conn)
                if row is None:
                    now = self.clock.now()
                    await store.insert(conn, version=1, documents=defaults.to_documents(), author_id=None,
                                       reason=f"defaults from {self.policies_dir.name}/", created_at=now)
                    await audit.append(conn, at=now, actor_id=None, action="policy.load", target_type="policy",
                                       target_id="1", details={"source": "files"})
                    row = await store.latest(conn)
        except Conflict:
            # Nodes started together on a new database (systemctl start tandem@8081 tandem@8082): another
            # stored version 1 first, and its transaction won; this node takes what it stored.
            async with self.store.read("policy.load.lost_race") as conn:
                row = await store.latest(conn)
        assert row is not None
        self._install(row)

    def _install(self, row: object) -> None:
        docs: Mapping[str, str] = row.documents  # type: ignore[attr-defined]
        version = int(row.version)  # type: ignore[attr-defined]
        try:
            policies = parse_documents(docs, version=version)
        except PolicyError as err:
            raise RuntimeError(f"stored policy version {version} is invalid: {err}") from err
        self._engine = PolicyEngine(policies)
        self._meta = PolicyMeta(version, row.author, row.reason, row.created_at)  # type: ignore[attr-defined]
        log.info("policies active", extra={"policy_version": version})

    async def reload(self) -> None:
        async with self.store.read("policy.reload") as conn:
            row = await store.latest(conn)
        if row is not None and (self._meta is None or int(row.version) != self._meta.version):
            self._install(row)

    async def change_rule(self, by: Actor, rule_id: str, config: Mapping[str, object], reason: str) -> PolicySet:
        if rule_id not in RULE_IDS:
            raise NotFound(f"No policy rule {rule_id!r}; rules are {', '.join(RULE_IDS)}")
        if not reason.strip():
            raise BadRequest("A policy change needs a reason", reason="policy.change_reason")
        now = self.clock.now()
        async with self.store.write("policy.change") as conn:
            current = await store.latest(conn)
            assert current is not None
            version = int(current.version) + 1
            base = parse_documents(current.documents, version=int(current.version))
            try:
                updated = replace_rule(base, rule_id, config, version=version)
            except PolicyError as err:
                raise BadRequest(str(err)) from err
            await store.insert(conn, version=version, documents=updated.to_documents(), author_id=by.user_id,
                               reason=reason, created_at=now)
            await audit.append(conn, at=now, actor_id=by.user_id, action="policy.change", target_type="policy",
                               target_id=str(version), details={"rule_id": rule_id, "reason": reason})
            row = await store.latest(conn)
        self._install(row)
        await self.bus.publish(CHANNEL, str(version).encode())
        return updated

    async def history(self, limit: int = 50) -> list[PolicyMeta]:
        async with self.store.read("policy.history") as conn:
            rows = await store.history(conn, limit=limit)
        return [PolicyMeta(int(r.version), r.author, r.reason, r.created_at) for r in rows]
