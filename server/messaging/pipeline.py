"""Group commit of sends: concurrent sends share one transaction.

Design note. A send used to be its own transaction of ~16 statements, and on SQLite every
writer queues for the one write lock, so throughput was one commit per message. Here sends
queue in a per-process pipeline; one writer task takes everything pending (at most
``max_batch``) and stores it in ONE named transaction (``message.send_batch``) with
set-based statements: the idempotency lookup for the whole batch, the conversations
locked in id order (row locks on PostgreSQL, so two nodes allocate seqs safely), their
members, the case views and one policy decision per (sender, case, kind), seqs allocated
in memory under those locks, one INSERT of all messages, one UPDATE per kind of row, and
the audit records chained in order under one lock of the audit head.

On PostgreSQL two batches are in flight at once (``writers``): while one commits (a round
trip and a WAL flush), the next reads and locks. They lock their conversations, and
publish, in the order they were taken (``_Turns``); row locks and the audit head's lock,
always taken in that order, keep seqs and the audit chain right. SQLite has one writer.

Every send is acknowledged only after its batch committed, and published before it is
acknowledged (persist, publish, ack). A refusal (policy, not a member, an id reused in
another conversation) fails only its own send. If the batch transaction fails as a whole
(e.g. another node stored the same (sender, id) a moment earlier, or the database went
away) nothing of it was stored, and each of its sends is retried on its own through the
single-send path, which has the same idempotency: no valid send is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection

from server.audit import store as audit
from server.audit.store import AuditEntry
from server.cases.service import CaseView, refuse
from server.crypto.keyring import bucket_of, insert_keys, select_bucket_rows
from server.errors import Conflict, NotFound, TandemError
from server.identity.model import Actor
from server.mentoring.model import refuse_after_period
from server.messaging import store
from server.messaging.model import (
    CATEGORY,
    Ack,
    Kind,
    MessageKind,
    StoredMessage,
    aad,
    bucket_owner,
    message_frame,
    refuse_closed,
)
from server.policy.decision import Decision
from server.policy.engine import PolicyEngine, clock_facts
from server.policy.facts import WRITE_MENTORING
from server.store.raw import Driver, driver_ts, parse_ts

if TYPE_CHECKING:
    from server.messaging.service import MessagingService

log = logging.getLogger(__name__)

#: The most sends stored in one transaction (bounded: a huge batch would hold the locks long).
MAX_BATCH = 256
#: Batches in flight at once on PostgreSQL (bench/messaging.py).
SEND_WRITERS_PG = 2
#: Policy decisions a pipeline keeps for reuse (past it, all are dropped and made again).
DECISION_MEMO = 4096


@dataclass(eq=False, slots=True)
class SendRequest:
    actor: Actor
    conversation_id: str
    client_id: str
    body: str
    kind: MessageKind
    done: asyncio.Future[Ack] = field(repr=False)


Outcome = Ack | Exception | None


def _settle(req: SendRequest, outcome: Outcome) -> None:
    if req.done.done():  # the sender went away (its wait was cancelled); the send still stands
        return
    if isinstance(outcome, Ack):
        req.done.set_result(outcome)
    else:
        req.done.set_exception(outcome or RuntimeError("send left unsettled"))


def _retry_of(req: SendRequest, conversation_id: str, seq: int, sent_at: datetime) -> Ack | Exception:
    """The answer to a send whose (sender, id) is already stored: the original's ack, or a
    conflict when the id was used in another conversation."""
    if conversation_id != req.conversation_id:
        return Conflict("That message id was already used in another conversation")
    return Ack(req.client_id, conversation_id, seq, sent_at, duplicate=True)


class SendPipeline:
    def __init__(self, messaging: MessagingService, *, max_batch: int = MAX_BATCH, writers: int = 1) -> None:
        if max_batch < 1 or writers < 1:
            raise ValueError("max_batch and writers are at least 1")
        self.messaging = messaging
        self.max_batch = max_batch
        self.writers = writers  # batches in flight at once (one on SQLite: it has one writer)
        self._queue: deque[SendRequest] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        # The latest batch's "has locked its conversations" and "has published": the next batch
        # locks, and publishes, after it (futures chained in the order batches were taken).
        self._locked: asyncio.Future[None] | None = None
        self._published: asyncio.Future[None] | None = None
        self.batches = 0  # committed batches and the sends they stored (for tests and metrics)
        self.batched_sends = 0
        self.fallbacks = 0  # batches that failed as a whole and were stored send by send
        self.most_in_flight = 0  # the most batches that were being stored at once
        self._memo: dict[tuple[Any, ...], tuple[CaseView, Decision]] = {}  # see _decision
        self._memo_engine: PolicyEngine | None = None
        self._in_flight = 0

    async def send(self, actor: Actor, conversation_id: str, client_id: str, body: str, kind: MessageKind) -> Ack:
        loop = asyncio.get_running_loop()
        req = SendRequest(actor, conversation_id, client_id, body, kind, loop.create_future())
        self._queue.append(req)
        if len(self._tasks) < self.writers:
            # Started on demand: sends that arrive before it first runs, and while the others
            # commit, are its batch.
            task = loop.create_task(self._drain(), name="message-send-pipeline")
            self._tasks.add(task)
        return await req.done

    async def close(self) -> None:
        """Let the writers finish what is queued (at shutdown, before the engine goes)."""
        while self._tasks:
            await asyncio.shield(next(iter(self._tasks)))

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
                turns = _Turns(self._locked, loop.create_future(), self._published, loop.create_future())
                self._locked, self._published = turns.locked, turns.published
                self._in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self._in_flight)
                try:
                    await self._commit(batch, turns)
                finally:  # whatever became of the batch, the next one may go on
                    self._in_flight -= 1
                    turns.done_locking()
                    turns.done_publishing()
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            if not self._tasks:
                for req in self._queue:  # only when cancelled: nothing of these was stored
                    req.done.cancel()
                self._queue.clear()

    async def _commit(self, batch: list[SendRequest], turns: _Turns) -> None:
        m = self.messaging
        try:
            outcomes, stored, again = await self._store(batch, turns)
        except asyncio.CancelledError:
            for req in batch:
                req.done.cancel()
            raise
        except Exception as err:  # rolled back as a whole: store each send on its own
            log.warning("send batch of %d failed (%s); storing its sends one by one", len(batch), type(err).__name__)
            turns.done_publishing()  # its sends publish one by one: later batches need not wait
            self.fallbacks += 1
            m.keyring.forget_inserted()  # keys created in the rolled-back transaction do not exist
            for req in batch:
                try:
                    ack = await m.send_one(req.actor, req.conversation_id, req.client_id, req.body, req.kind)
                except Exception as one:
                    _settle(req, one)
                else:
                    _settle(req, ack)
            return
        self.batches += 1
        self.batched_sends += len(stored)
        # Persisted; now publish (one bus call for the batch, after the batch before), then acknowledge.
        await turns.my_turn_to_publish()
        reached = await m.publish_many([(members, message_frame(message)) for message, members in stored])
        turns.done_publishing()
        for message, members in stored:
            for hook in m.sent_hooks:
                hook(message, members, reached)
        for req, outcome in zip(batch, outcomes, strict=True):
            if outcome is not None:
                _settle(req, outcome)
        self._queue.extendleft(reversed(again))

    def _decision(self, actor: Actor, view: CaseView, kind: str, now: datetime) -> Decision:
        """The policy's decision on this send, reused while nothing it depends on changed: the
        same sender, the same case view (views are rebuilt whenever the case's facts change),
        the same kind, ``now`` on the same side of every instant the rules compare it with, and
        the same policy version (a new engine empties the memo)."""
        engine = self.messaging.cases.policy.engine
        if engine is not self._memo_engine:
            self._memo.clear()
            self._memo_engine = engine
        key = (actor.user_id, actor.role, actor.office_id, id(view), kind, clock_facts(view.facts, now))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is view:  # the view itself, not another one at a reused address
            return hit[1]
        decision = self.messaging.cases.decide(actor, "send_message", view, now=now, message_kind=kind)
        if len(self._memo) >= DECISION_MEMO:
            self._memo.clear()
        self._memo[key] = (view, decision)
        return decision

    async def _store(
        self, batch: list[SendRequest], turns: _Turns
    ) -> tuple[list[Outcome], list[tuple[StoredMessage, list[str]]], list[SendRequest]]:
        """One transaction for the batch. Returns each send's outcome (None: sent again in the
        next batch), the stored messages with their members, and the sends to queue again."""
        m = self.messaging
        now = m.clock.now()
        outcomes: list[Outcome] = [None] * len(batch)
        first: dict[tuple[str, str], int] = {}
        repeats: list[tuple[int, int]] = []  # (index, index of the first send with the same (sender, id))
        for i, req in enumerate(batch):
            key = (req.actor.user_id, req.client_id)
            if key in first:
                repeats.append((i, first[key]))
            else:
                first[key] = i
        stored: list[tuple[StoredMessage, list[str]]] = []
        wanted = {key: batch[i].conversation_id for key, i in first.items()}
        # Waited for outside the transaction: on SQLite a transaction holds the one writer slot
        # that the batch before needs.
        await turns.my_turn_to_lock()
        async with m.store.write_in_thread("message.send_batch") as tx:
            seen = await tx.run(_read_step, wanted, now, m.cases.policy_views, m.keyring.knows)
            turns.done_locking()
            todo: list[int] = []
            for key, i in first.items():
                old = seen.existing.get(key)
                if old is None:
                    todo.append(i)
                else:
                    outcomes[i] = _retry_of(batch[i], old.conversation_id, old.seq, old.sent_at)
            convs, members, views = seen.conversations, seen.members, seen.views
            key_rows = {(r.case_id, r.category, r.bucket): r for r in seen.key_rows}
            keys: dict[str, tuple[str, AESGCM]] = {}  # bucket owner -> (key id, key) for this batch
            new_keys: list[dict[str, Any]] = []
            last = {c: row.last_seq for c, row in convs.items()}
            rows: list[tuple[Any, ...]] = []  # in store.MESSAGE_COLUMNS order, in the driver's form
            sent_at = driver_ts(now, sqlite=m.store.sqlite)
            entries: list[AuditEntry] = []
            cursors: dict[tuple[str, str], int] = {}
            for i in sorted(todo):
                req = batch[i]
                cid, sender = req.conversation_id, req.actor.user_id
                row = convs.get(cid)
                if row is None or sender not in members.get(cid, ()):
                    outcomes[i] = NotFound("No such conversation")
                    continue
                try:
                    refuse_closed(row)
                    if row.kind == Kind.MENTORING.value:
                        ends = None if row.access_ends_at is None else parse_ts(row.access_ends_at)
                        refuse_after_period(m.cases.policy.evaluate, req.actor, row._replace(access_ends_at=ends),
                                            WRITE_MENTORING, now)
                except TandemError as err:
                    outcomes[i] = err
                    continue
                if row.kind == Kind.CASE.value:
                    view = views.get(row.case_id or "")
                    if view is None:
                        outcomes[i] = NotFound("No such case")
                        continue
                    try:
                        refuse(self._decision(req.actor, view, req.kind.value, now))
                    except TandemError as err:
                        outcomes[i] = err
                        continue
                owner = bucket_owner(row)
                if owner not in keys:
                    found = m.keyring.cached(owner, CATEGORY, now)
                    if found is None:
                        committed = key_rows.get((owner, CATEGORY, bucket_of(now)))
                        if committed is not None:
                            found = m.keyring.adopt(committed)  # KeyShredded fails the batch: see _commit
                        else:
                            # (Also when a key known to the read step was forgotten since: its
                            # bucket then keeps its key, this batch fails and falls back. Rare.)
                            key_id, aes, key_row = m.keyring.new_key(owner, CATEGORY, now)
                            new_keys.append(key_row)
                            found = (key_id, aes)
                    keys[owner] = found
                key_id, aes = keys[owner]
                seq = last[cid] = last[cid] + 1
                rows.append(
                    (
                        cid,
                        seq,
                        req.client_id,
                        sender,
                        req.kind.value,
                        row.case_id,
                        key_id,
                        m.keyring.seal(key_id, aes, req.body.encode(), aad(cid, seq)),
                        sent_at,
                    )
                )
                cursors[(cid, sender)] = seq
                entries.append(
                    AuditEntry(
                        now,
                        sender,
                        "message.send",
                        "message",
                        f"{cid}:{seq}",
                        row.case_id,
                        {"conversation_id": cid, "seq": seq, "kind": req.kind.value},
                    )
                )
                outcomes[i] = Ack(req.client_id, cid, seq, now)
                stored.append(
                    (StoredMessage(cid, seq, req.client_id, sender, req.kind.value, req.body, now), members[cid])
                )
            if rows:
                changed = {c: s for c, s in last.items() if s != convs[c].last_seq}
                await tx.run(_write_step, new_keys, rows, changed, cursors, entries)
        again: list[SendRequest] = []
        for i, j in repeats:
            original = outcomes[j]
            if isinstance(original, Ack):  # a retry racing its original inside one batch
                outcomes[i] = _retry_of(batch[i], original.conversation_id, original.seq, original.sent_at)
            else:  # the first was not stored: this one is a send of its own, in the next batch
                again.append(batch[i])
        return outcomes, stored, again


@dataclass(frozen=True, slots=True)
class _Turns:
    """A batch's place among the batches in flight (``SendPipeline.writers`` > 1, PostgreSQL):
    it locks its conversations after the batch taken before it has locked its own, so seqs
    follow the order batches were taken, and publishes after it has published. Meanwhile
    the batches' other work (reads, encryption, writes, commits) overlaps."""

    after_locked: asyncio.Future[None] | None
    locked: asyncio.Future[None]
    after_published: asyncio.Future[None] | None
    published: asyncio.Future[None]

    async def my_turn_to_lock(self) -> None:
        if self.after_locked is not None:
            await asyncio.shield(self.after_locked)

    def done_locking(self) -> None:
        if not self.locked.done():
            self.locked.set_result(None)

    async def my_turn_to_publish(self) -> None:
        if self.after_published is not None:
            await asyncio.shield(self.after_published)

    def done_publishing(self) -> None:
        if not self.published.done():
            self.published.set_result(None)


@dataclass(frozen=True, slots=True)
class _Seen:
    existing: dict[tuple[str, str], store.StoredRef]
    conversations: dict[str, store.ConversationRow]
    members: dict[str, list[str]]
    views: dict[str, CaseView]
    key_rows: list[Any]


def _read_step(
    conn: Connection,
    wanted: dict[tuple[str, str], str],
    now: datetime,
    policy_views: Callable[[Driver, Collection[str], datetime], dict[str, CaseView]],
    knows_key: Callable[[str, str, datetime], bool],
) -> _Seen:
    """Step one of a batch (in the SQLite writer thread): which (sender, id)s are stored
    already, the other sends' conversations (locked), their members, case views, bucket keys.
    Driver-level statements (server/store/raw.py) but for the rare bucket-key lookup."""
    db = Driver(conn)
    existing = store.messages_by_client_ids(db, set(wanted))
    conversation_ids = {c for key, c in wanted.items() if key not in existing}
    convs = store.lock_conversations(db, conversation_ids) if conversation_ids else {}
    members = store.current_members(db, list(convs)) if convs else {}
    owners = {bucket_owner(row) for row in convs.values()}
    case_ids = {row.case_id for row in convs.values() if row.kind == Kind.CASE.value and row.case_id}
    views = policy_views(db, case_ids, now)
    key_rows = select_bucket_rows(
        conn, {(c, CATEGORY, bucket_of(now)) for c in owners if not knows_key(c, CATEGORY, now)}
    )
    return _Seen(existing, convs, members, views, key_rows)


def _write_step(
    conn: Connection,
    new_keys: list[dict[str, Any]],
    rows: list[tuple[Any, ...]],
    last_seqs: dict[str, int],
    cursors: dict[tuple[str, str], int],
    entries: list[AuditEntry],
) -> None:
    """Step two: new bucket keys, the messages, seqs and cursors, the audit records."""
    insert_keys(conn, new_keys)
    store.store_batch(Driver(conn), rows, last_seqs, cursors)
    audit.append_many(conn, entries)
