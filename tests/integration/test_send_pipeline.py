"""Group commit of sends (server/messaging/pipeline.py), on SQLite and PostgreSQL.

Concurrent sends share one transaction; each still gets its own answer: an ack (a retry
gets its original's), or its own refusal. Seqs stay dense and in submission order, the
audit chain verifies, and a batch that fails as a whole falls back to single sends
without losing or doubling any valid send.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit.service import verify_database
from server.crypto.keyring import bucket_of
from server.errors import Conflict, NotFound, PolicyRefused
from server.messaging.model import Ack
from server.messaging.pipeline import SendPipeline
from server.store.schema import audit_log, conversation_members, conversations, messages
from server.web.state import Services
from tests.helpers.world import World, build


async def case_conversation(services: Services, w: World, username: str) -> str:
    rows = await services.messaging.conversations(w.actor(username))
    return str(next(r.id for r, _members, _may in rows if r.kind == "case"))


async def stored(services: Services, conversation_id: str) -> list[tuple[int, str, str]]:
    async with services.store.read("t") as conn:
        rows = await conn.execute(
            select(messages.c.seq, messages.c.id, messages.c.sender_id)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.seq)
        )
        return [(int(r.seq), r.id, r.sender_id) for r in rows]


async def test_one_batch_answers_each_send_its_own_way(api: Any) -> None:
    _client, services = api
    w = await build(services)
    messaging, pipeline = services.messaging, services.messaging.pipeline
    own = await case_conversation(services, w, "client")
    other = await case_conversation(services, w, "client_other")
    unmet = await case_conversation(services, w, "client_same")  # no face-to-face meeting yet
    client, officer = w.actor("client"), w.actor("officer")
    earlier = await messaging.send(client, own, "earlier", "sent in an earlier batch")
    assert earlier.seq == 1 and not earlier.duplicate
    frames: list[bytes] = []
    sub = await services.bus.subscribe(f"user.{w.users['officer']}", lambda _c, data: frames.append(data))
    batches = pipeline.batches

    sends: list[tuple[str, Any]] = []  # (what is expected, coroutine); all queued before the writer runs
    for i in range(12):
        sends.append(("new", messaging.send(client, own, f"c{i}", f"from the client {i}")))
        sends.append(("new", messaging.send(officer, own, f"o{i}", f"from the officer {i}")))
    sends.append(("retry c3", messaging.send(client, own, "c3", "from the client 3")))
    sends.append(("retry earlier", messaging.send(client, own, "earlier", "sent in an earlier batch")))
    sends.append(("reused", messaging.send(client, other, "c5", "same id, another conversation")))
    sends.append(("not a member", messaging.send(client, other, "x1", "not mine")))
    sends.append(("refused", messaging.send(w.actor("client_same"), unmet, "r1", "before any meeting")))
    results = await asyncio.gather(*(coro for _what, coro in sends), return_exceptions=True)
    assert pipeline.batches == batches + 1  # every one of them in a single transaction
    got = dict(zip(range(len(sends)), results, strict=True))

    acks = [r for (what, _c), r in zip(sends, results, strict=True) if what == "new"]
    assert all(isinstance(a, Ack) and not a.duplicate for a in acks), acks
    # Dense seqs after the earlier message, in the order the sends were submitted.
    assert [a.seq for a in acks] == list(range(2, 26))
    by_what = {what: got[i] for i, (what, _c) in enumerate(sends) if what != "new"}
    c3 = next(a for a in acks if a.id == "c3")
    assert by_what["retry c3"] == Ack("c3", own, c3.seq, c3.sent_at, duplicate=True)
    assert by_what["retry earlier"] == Ack("earlier", own, 1, earlier.sent_at, duplicate=True)
    assert isinstance(by_what["reused"], Conflict)
    assert isinstance(by_what["not a member"], NotFound)
    refused = by_what["refused"]
    assert isinstance(refused, PolicyRefused) and refused.rule_id == "face_to_face_first"

    rows = await stored(services, own)
    assert [seq for seq, _id, _sender in rows] == list(range(1, 26))
    assert len({(sender, id_) for _seq, id_, sender in rows}) == 25  # each (sender, id) once
    assert await stored(services, other) == [] and await stored(services, unmet) == []
    async with services.store.read("t") as conn:
        last_seq = select(conversations.c.last_seq).where(conversations.c.id == own)
        assert (await conn.execute(last_seq)).scalar_one() == 25
        cursors = dict(
            (await conn.execute(
                select(conversation_members.c.user_id, conversation_members.c.read_seq)
                .where(conversation_members.c.conversation_id == own)
            )).all()
        )
        assert cursors[w.users["client"]] == 24 and cursors[w.users["officer"]] == 25  # each sender's own last
        audited = (await conn.execute(
            select(audit_log.c.target_id).where(audit_log.c.action == "message.send").order_by(audit_log.c.seq)
        )).scalars().all()
    assert audited == [f"{own}:{seq}" for seq in range(1, 26)]
    report = await verify_database(services.store.engine)
    assert report.broken is None and report.records > 25
    # Published after commit, once each, in seq order (the officer is a member).
    for _ in range(50):
        if len(frames) >= 24:
            break
        await asyncio.sleep(0.01)
    sub.close()
    seqs = [int(f.split(b'"seq":')[1].split(b",")[0]) for f in frames]
    assert seqs == list(range(2, 26))


async def test_a_failing_batch_falls_back_to_single_sends(api: Any) -> None:
    """A send into a case whose message key for this month was shredded (an erasure granted a
    moment ago) makes the batch's transaction fail; nothing of it is kept, each send is
    stored on its own: the healthy ones once each, in order, the other fails alone."""
    _client, services = api
    w = await build(services)
    messaging, pipeline = services.messaging, services.messaging.pipeline
    own = await case_conversation(services, w, "client")
    shredded = await case_conversation(services, w, "client_other")
    officer3 = w.actor("officer3")
    now = services.clock.now()
    await services.cases.record_face_to_face(officer3, w.cases["other_office"], met_at=now - timedelta(days=1),
                                             location="Office B")
    await messaging.send(officer3, shredded, "before", "before the shred")  # creates the bucket key
    async with services.store.write("test.shred") as conn:
        assert await services.keyring.shred(conn, case_id=w.cases["other_office"], category="messages",
                                            bucket=bucket_of(now), at=now) is not None
    fallbacks, batches = pipeline.fallbacks, pipeline.batches
    sends = [messaging.send(w.actor("client"), own, f"c{i}", f"hello {i}") for i in range(5)]
    sends.insert(2, messaging.send(officer3, shredded, "after", "after the shred"))
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert pipeline.fallbacks == fallbacks + 1 and pipeline.batches == batches
    assert isinstance(results.pop(2), Conflict), results  # "This data was just erased"
    assert [(r.id, r.seq) for r in results if isinstance(r, Ack)] == [(f"c{i}", i + 1) for i in range(5)], results
    assert [(seq, id_) for seq, id_, _s in await stored(services, own)] == [(i + 1, f"c{i}") for i in range(5)]
    assert [id_ for _seq, id_, _s in await stored(services, shredded)] == ["before"]
    report = await verify_database(services.store.engine)
    assert report.broken is None


@pytest.mark.parametrize("rounds", [3])
async def test_two_nodes_racing_the_same_sends_store_each_once(app_factory: Any, rounds: int) -> None:
    """Two processes' pipelines (two apps on one database) send the same (sender, id)s at
    once, as a client retrying on another node would: stored once, both answers agree,
    seqs dense, audit chain intact."""
    _c1, node1 = await app_factory()
    _c2, node2 = await app_factory()
    w = await build(node1)
    own = await case_conversation(node1, w, "client")
    client = w.actor("client")
    for r in range(rounds):
        ids = [f"r{r}-{i}" for i in range(8)]
        first = [node1.messaging.send(client, own, i, f"body {i}") for i in ids]
        second = [node2.messaging.send(client, own, i, f"body {i}") for i in ids]
        a, b = await asyncio.gather(asyncio.gather(*first), asyncio.gather(*second))
        for x, y in zip(a, b, strict=True):
            assert (x.id, x.seq) == (y.id, y.seq) and x.duplicate != y.duplicate
    rows = await stored(node1, own)
    assert [seq for seq, _i, _s in rows] == list(range(1, 8 * rounds + 1))
    async with node1.store.read("t") as conn:
        count = (await conn.execute(select(func.count()).where(audit_log.c.action == "message.send"))).scalar_one()
    assert count == 8 * rounds
    assert (await verify_database(node1.store.engine)).broken is None


class FirstBatchLate(SendPipeline):
    """The first batch it takes starts storing late (as when it waits for a pooled connection)."""

    late = True

    async def _store(self, batch: list[Any], turns: Any) -> Any:
        if self.late:
            self.late = False
            await asyncio.sleep(0.3)
        return await super()._store(batch, turns)


async def test_batches_in_flight_together_keep_seqs_audit_and_publish_order(api: Any) -> None:
    """Several batches at once (as on PostgreSQL; here three writers on either database):
    batches lock their conversations and publish in the order they were taken, so each
    conversation's seqs are dense and published in order, every send is stored once, and
    the audit chain stays one chain."""
    _client, services = api
    w = await build(services)
    messaging = services.messaging
    pipeline = messaging.pipeline = FirstBatchLate(messaging, max_batch=4, writers=3)
    now = services.clock.now()
    await services.cases.record_face_to_face(w.actor("officer3"), w.cases["other_office"],
                                             met_at=now - timedelta(days=1), location="Office B")
    own, other = [await case_conversation(services, w, name) for name in ("client", "client_other")]
    senders = [(own, w.actor("client")), (own, w.actor("officer")), (other, w.actor("officer3"))]
    published: dict[str, list[int]] = {own: [], other: []}  # as the officer and client_other see them

    def seen(_channel: str, data: bytes) -> None:
        frame = json.loads(data)
        if frame["type"] == "message":
            published[frame["conversation_id"]].append(frame["seq"])

    subs = [await services.bus.subscribe(f"user.{w.users[name]}", seen) for name in ("officer", "client_other")]
    # 24 sends queued before any writer runs: three batches of four go at once, then the rest.
    results = await asyncio.gather(*(messaging.send(who, c, f"{i}-{who.user_id}", f"message {i}")
                                     for i in range(8) for c, who in senders))
    assert pipeline.most_in_flight == 3 and pipeline.fallbacks == 0
    for c, n in ((own, 16), (other, 8)):
        # The first batch was late, yet its sends hold the first seqs: seqs follow the order
        # in which sends were taken, whichever batch is ready first.
        acks = [a.seq for a in results if a.conversation_id == c]
        assert acks == [seq for seq, _id, _sender in await stored(services, c)] == list(range(1, n + 1))
    async with services.store.read("t") as conn:
        audited = (await conn.execute(
            select(audit_log.c.target_id).where(audit_log.c.action == "message.send").order_by(audit_log.c.seq)
        )).scalars().all()
    for c, n in ((own, 16), (other, 8)):  # audited once each, in seq order within the conversation
        assert [int(t.split(":")[1]) for t in audited if t.startswith(f"{c}:")] == list(range(1, n + 1))
    assert (await verify_database(services.store.engine)).broken is None
    for _ in range(200):
        if len(published[own]) + len(published[other]) >= 24:
            break
        await asyncio.sleep(0.01)
    for sub in subs:
        sub.close()
    assert published == {own: list(range(1, 17)), other: list(range(1, 9))}  # once each, in seq order


async def test_reused_decisions_follow_the_case_and_the_clock(api: Any, clock: Any) -> None:
    """The pipeline reuses a policy decision only while its facts hold: an officer change
    (no meeting with the new officer) refuses the next send at once, and a senior-officer
    exception allows sends only until it ends, by the pipeline's own clock."""
    _client, services = api
    w = await build(services)
    messaging = services.messaging
    own = await case_conversation(services, w, "client")
    client = w.actor("client")
    assert (await messaging.send(client, own, "a1", "before the change")).seq == 1
    assert (await messaging.send(client, own, "a2", "again: the decision is reused")).seq == 2
    await services.cases.change_officer(w.actor("senior"), w.cases["own"], w.users["officer2"])
    with pytest.raises(PolicyRefused) as refused:
        await messaging.send(client, own, "a3", "after the change")
    assert refused.value.rule_id == "face_to_face_first"

    unmet = await case_conversation(services, w, "client_same")  # never met officer2
    client_same = w.actor("client_same")
    with pytest.raises(PolicyRefused):
        await messaging.send(client_same, unmet, "b1", "before the exception")
    await services.cases.grant_exception(w.actor("senior"), w.cases["same_office"], days=2,
                                         reason="Client in hospital, agreed with the senior officer")
    for i in range(3):  # allowed while the exception runs, the same decision each time
        assert (await messaging.send(client_same, unmet, f"b{i + 2}", "under the exception")).seq == i + 1
    clock.advance(timedelta(days=2, seconds=1))
    with pytest.raises(PolicyRefused) as ended:
        await messaging.send(client_same, unmet, "b9", "after the exception")
    assert ended.value.rule_id == "face_to_face_first"
