"""Driver-level statements (server/store/raw.py), on SQLite and PostgreSQL.

A ``Statement`` runs on the DBAPI cursor of the SQLAlchemy connection it is given: it
must see and join that connection's transaction, write timestamps exactly as
``UTCDateTime`` would, raise the errors SQLAlchemy would (so a named write still maps
them), and put values in placeholder order. The hot paths built on it (``policy_fact_rows``,
``append_many``, the message batch) must agree with their Core counterparts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, func, or_, select, update
from sqlalchemy import exc as sa_exc

from server.audit import store as audit_store
from server.audit.chain import GENESIS
from server.audit.service import verify_database
from server.audit.store import AuditEntry, append_many
from server.cases.store import PolicyCaseRow, case_facts, policy_fact_rows, policy_facts_of
from server.errors import Conflict
from server.identity.model import Role
from server.ids import new_id
from server.messaging import store as messaging_store
from server.store.raw import Driver, Statement, any_of, parse_ts
from server.store.schema import audit_head, audit_log, conversation_members, conversations, messages, offices
from server.store.tx import Store
from server.web.state import Services
from tests.helpers.world import PASSWORD, build

#: Aware timestamps to store: a non-UTC offset with microseconds, UTC on a whole second, and
#: one whose UTC date is in the next year.
TIMES = (
    datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
)

_OFFICE_COLUMNS = ("id", "name", "created_at")
INSERT_OFFICE = Statement(lambda _: offices.insert().values({c: bindparam(c) for c in _OFFICE_COLUMNS}),
                          _OFFICE_COLUMNS)
OFFICES_NAMED = Statement(
    lambda sqlite: (
        select(offices.c.id, offices.c.name, offices.c.created_at)
        .where(any_of(offices.c.name, "names", sqlite=sqlite))
        .order_by(offices.c.name)
    ),
    ["names"],
)
OFFICES_BY_ID = Statement(
    lambda sqlite: select(offices.c.id, offices.c.created_at).where(any_of(offices.c.id, "ids", sqlite=sqlite)),
    ["ids"],
)
# The SET placeholder comes before the WHERE one; params are declared the other way round.
RENAME_OFFICE = Statement(
    lambda _: update(offices).where(offices.c.id == bindparam("id")).values(name=bindparam("name")),
    ["id", "name"],
)

Step = Callable[..., Any]


class Abandon(Exception):
    """Raised to leave a transaction so that it rolls back."""


@pytest.fixture(params=["write_in_thread", "run_sync"])
def how(request: pytest.FixtureRequest) -> str:
    """How a synchronous step gets its ``Connection``: ``Store.write_in_thread`` (plain sqlite3
    in the writer thread on SQLite) or ``run_sync`` on the async connection of ``Store.write``
    (aiosqlite's adapter on SQLite, as ``audit.append`` runs ``append_many``)."""
    return str(request.param)


@asynccontextmanager
async def transaction(store: Store, how: str, name: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    if how == "write_in_thread":
        async with store.write_in_thread(name) as tx:
            yield tx.run
    else:
        async with store.write(name) as conn:
            yield conn.run_sync


async def core_offices(services: Services, names: Sequence[str]) -> dict[str, tuple[str, datetime]]:
    """name -> (id, created_at), read through plain Core (UTCDateTime)."""
    async with services.store.read("t.offices") as conn:
        rows = await conn.execute(select(offices.c.id, offices.c.name, offices.c.created_at)
                                  .where(offices.c.name.in_(names)))
        return {r.name: (r.id, r.created_at) for r in rows}


# -- Statement and Driver --------------------------------------------------------------


async def test_statements_join_the_sqlalchemy_transaction_and_roll_back_with_it(api: Any, how: str) -> None:
    _client, services = api
    at = TIMES[1]
    names = ["Raw A", "Raw B", "Raw C"]

    def step(conn: Connection) -> tuple[list[tuple[str, datetime]], list[str]]:
        conn.execute(offices.insert().values(id=new_id(), name="Raw A", created_at=at))  # Core first
        db = Driver(conn)
        db.many(INSERT_OFFICE, [(new_id(), "Raw B", db.ts(at)), (new_id(), "Raw C", db.ts(at))])
        # The driver sees the Core row, Core sees the driver's: one transaction.
        seen = [(name, parse_ts(created)) for _id, name, created in
                db.rows(OFFICES_NAMED, (db.set_of([*names, "Nowhere"]),))]
        by_core = list(conn.execute(select(offices.c.name).where(offices.c.name.in_(names))
                                    .order_by(offices.c.name)).scalars())
        return seen, by_core

    async def then_abandon() -> None:
        async with transaction(services.store, how, "t.raw.rollback") as run:
            seen, by_core = await run(step)
            assert seen == [(name, at) for name in names]
            assert by_core == names
            raise Abandon

    with pytest.raises(Abandon):
        await then_abandon()
    assert await core_offices(services, names) == {}  # rolled back with the transaction: gone

    async with transaction(services.store, how, "t.raw.commit") as run:
        await run(step)
    stored = await core_offices(services, names)
    assert sorted(stored) == names and {created for _id, created in stored.values()} == {at}


async def test_a_driver_timestamp_reads_back_through_core_as_the_same_aware_utc_datetime(api: Any, how: str) -> None:
    _client, services = api
    by_driver = {f"Driver {i}": t for i, t in enumerate(TIMES)}
    by_core = {f"Core {i}": t for i, t in enumerate(TIMES)}

    def write(conn: Connection) -> None:
        db = Driver(conn)
        db.many(INSERT_OFFICE, [(new_id(), name, db.ts(t)) for name, t in by_driver.items()])
        conn.execute(offices.insert(), [{"id": new_id(), "name": name, "created_at": t} for name, t in by_core.items()])

    async with transaction(services.store, how, "t.raw.ts") as run:
        await run(write)
    core = await core_offices(services, [*by_driver, *by_core])
    for name, t in by_driver.items():
        read = core[name][1]
        assert read == t and read.utcoffset() == timedelta(0), (name, read)
        assert read.replace(tzinfo=None) == t.astimezone(UTC).replace(tzinfo=None)

    def read_raw(conn: Connection) -> dict[str, Any]:
        db = Driver(conn)
        rows = db.rows(OFFICES_BY_ID, (db.set_of(i for i, _at in core.values()),))
        return {r[0]: r[1] for r in rows}

    async with transaction(services.store, how, "t.raw.ts.read") as run:
        raw = await run(read_raw)
    assert len(raw) == len(TIMES) * 2
    for name, (office_id, read) in core.items():
        parsed = parse_ts(raw[office_id])
        assert parsed == read and parsed.utcoffset() == timedelta(0), (name, raw[office_id], read)
    # Stored alike whichever way it was written (on SQLite the same text, which is compared as text).
    for i in range(len(TIMES)):
        assert raw[core[f"Driver {i}"][0]] == raw[core[f"Core {i}"][0]]


async def test_a_naive_timestamp_is_refused_like_utcdatetime_refuses_it(api: Any) -> None:
    _client, services = api

    def step(conn: Connection) -> None:
        Driver(conn).ts(datetime(2026, 1, 5, 9, 0))

    with pytest.raises(ValueError, match="naive datetime"):
        async with services.store.write_in_thread("t.raw.naive") as tx:
            await tx.run(step)


async def test_a_constraint_violation_is_an_integrity_error_and_a_named_write_makes_it_a_conflict(
    api: Any, how: str
) -> None:
    _client, services = api
    raised: list[Exception] = []

    def step(conn: Connection) -> None:
        db = Driver(conn)
        db.run(INSERT_OFFICE, (new_id(), "Kept until the error", db.ts(TIMES[0])))
        try:
            db.many(INSERT_OFFICE, [(new_id(), "Twice", db.ts(TIMES[0])), (new_id(), "Twice", db.ts(TIMES[1]))])
        except Exception as err:
            raised.append(err)
            raise

    with pytest.raises(Conflict) as info:
        async with transaction(services.store, how, "office.twice") as run:
            await run(step)
    assert len(raised) == 1
    err = raised[0]
    assert isinstance(err, sa_exc.IntegrityError), type(err).__mro__
    assert "offices" in str(err.statement).lower()
    assert info.value.__cause__ is err
    assert "office.twice" in str(info.value)
    assert await core_offices(services, ["Kept until the error", "Twice"]) == {}


async def test_a_statement_binding_an_undeclared_parameter_is_refused(api: Any, how: str) -> None:
    _client, services = api
    leaky = Statement(
        lambda _: select(offices.c.id).where(offices.c.name == bindparam("name"), offices.c.id == bindparam("secret")),
        ["name"],
    )
    with pytest.raises(ValueError, match=r"\['secret'\]") as info:
        async with transaction(services.store, how, "t.raw.undeclared") as run:
            await run(lambda conn: Driver(conn).rows(leaky, ("x",)))
    assert "('name',)" in str(info.value)
    with pytest.raises(ValueError, match=r"\['secret'\]"):
        leaky.compiled(services.store.engine.dialect)


async def test_values_follow_the_placeholders_when_their_order_differs_from_params(api: Any, how: str) -> None:
    _client, services = api
    dialect = services.store.engine.dialect
    assert RENAME_OFFICE.compiled(dialect)[1] == (1, 0)  # SET name before WHERE id
    builds: list[bool] = []

    def build_lookup(sqlite: bool) -> Any:
        builds.append(sqlite)
        return select(offices.c.name).where(or_(offices.c.name == bindparam("key"), offices.c.id == bindparam("key")))

    by_name_or_id = Statement(build_lookup, ["key"])  # one name bound twice: twice on SQLite, one $n on PostgreSQL

    def step(conn: Connection) -> tuple[list[Any], list[Any]]:
        db = Driver(conn)
        first, second = new_id(), new_id()
        db.many(INSERT_OFFICE, [(first, "Before", db.ts(TIMES[0])), (second, "Untouched", db.ts(TIMES[0]))])
        db.run(RENAME_OFFICE, (first, "After"))  # in params order: id, then name
        db.many(RENAME_OFFICE, [(second, "Also after")])
        return [tuple(r) for r in db.rows(by_name_or_id, (first,))], [tuple(r) for r in db.rows(by_name_or_id,
                                                                                               ("Also after",))]

    async with transaction(services.store, how, "t.raw.order") as run:
        by_id, by_name = await run(step)
    assert by_id == [("After",)] and by_name == [("Also after",)]
    assert set(await core_offices(services, ["Before", "After", "Untouched", "Also after"])) == {"After", "Also after"}
    assert len(builds) == 1  # compiled once for this dialect, run three times


# -- the hot paths built on them ---------------------------------------------------------


FLAGS = ("domestic_violence", "protected_person", "low_digital_access", "interpreter_needed", "legal_hold")


async def test_policy_facts_agree_with_case_facts(api: Any) -> None:
    _client, services = api
    w = await build(services)
    cases, now = services.cases, services.clock.now()
    senior, officer = w.actor("senior"), w.actor("officer")
    own, same, other = w.cases["own"], w.cases["same_office"], w.cases["other_office"]
    # own: two meetings, two mentors (an aggregated list), one partner.
    mentor2 = await services.identity.create_user(None, username="mentor2", display_name="Mentor2", role=Role.MENTOR,
                                                  office_id=w.offices["A"], password=PASSWORD)
    await cases.assign_mentor(officer, mentor_id=mentor2, client_id=w.clients["own"])
    last_met = now - timedelta(hours=2, microseconds=250)
    await cases.record_face_to_face(officer, own, met_at=last_met, location="Office A, room 2")
    # same_office (domestic violence, never met): an exception from now for 7 days.
    until = await cases.grant_exception(senior, same, days=7, reason="Client in hospital, identity confirmed")
    # flags: every flag, a language, met by officer2 and then handed to officer (met_with_officer 0).
    flagged = await cases.create_case(senior, client_username="client_flags", client_display_name="Flags",
                                      officer_id=w.users["officer2"], password=PASSWORD, protected_person=True,
                                      low_digital_access=True, interpreter_needed=True, language="pl")
    flags_met = now - timedelta(days=3)
    await cases.record_face_to_face(w.actor("officer2"), flagged.case_id, met_at=flags_met, location="Home visit")
    await cases.change_officer(senior, flagged.case_id, w.users["officer"])
    # other_office: under legal hold.
    await services.retention.set_hold(w.actor("senior_b"), other, "Appeal pending")

    ids = [own, same, other, flagged.case_id, "no-such-case"]
    instants = {
        "before the exception": now - timedelta(seconds=1),
        "now": now,
        "now, not in UTC": now.astimezone(timezone(timedelta(hours=-3))),
        "after the exception": now + timedelta(days=7, seconds=1),
    }
    for label, at in instants.items():
        async with services.store.write_in_thread("t.facts") as tx:
            core = await tx.run(case_facts, ids, at)
            raw = await tx.run(
                lambda conn, at=at: {r[0]: policy_facts_of(r) for r in policy_fact_rows(Driver(conn), ids, at)}
            )
        assert set(raw) == set(core) == {own, same, other, flagged.case_id}, label
        for case_id, c in core.items():
            r = raw[case_id]
            where = (label, case_id)
            for name in PolicyCaseRow._fields:
                mine, theirs = getattr(r.row, name), getattr(c.row, name)
                if name in FLAGS:
                    assert type(mine) is bool and mine == bool(theirs), (*where, name, mine, theirs)
                else:
                    assert mine == theirs, (*where, name, mine, theirs)
            assert (r.met_with_officer, r.met_total) == (c.met_with_officer, c.met_total), where
            assert r.last_met_at == c.last_met_at and r.exception_until == c.exception_until, where
            for value in (r.last_met_at, r.exception_until):
                assert value is None or value.utcoffset() == timedelta(0), (*where, value)
            assert (r.mentor_ids, r.partner_ids) == (c.mentor_ids, c.partner_ids), where
        # What they agree on is right, too.
        assert (raw[own].met_with_officer, raw[own].met_total, raw[own].last_met_at) == (2, 2, last_met)
        assert raw[own].mentor_ids == {w.users["mentor"], mentor2} and raw[own].partner_ids == {w.users["partner"]}
        assert (raw[same].met_total, raw[same].last_met_at, raw[same].row.domestic_violence) == (0, None, True)
        active = label in ("now", "now, not in UTC")
        assert raw[same].exception_until == (until if active else None), label
        f = raw[flagged.case_id]
        assert (f.met_with_officer, f.met_total, f.last_met_at) == (0, 1, flags_met)
        assert (f.row.officer_id, f.row.language) == (w.users["officer"], "pl")
        assert (f.row.protected_person, f.row.low_digital_access, f.row.interpreter_needed) == (True, True, True)
        assert (f.row.domestic_violence, f.row.legal_hold) == (False, False)
        assert raw[other].row.legal_hold is True and raw[other].mentor_ids == frozenset()


def entries_at(at: datetime, actor_id: str | None, n: int, action: str) -> list[AuditEntry]:
    return [AuditEntry(at, actor_id, action, "test", target_id=f"t{i}", case_id=None,
                       details={"i": i, "note": "ünïcode", "nested": {"b": 1, "a": [1, 2]}}) for i in range(n)]


async def test_append_many_builds_a_chain_that_verification_accepts(api: Any) -> None:
    _client, services = api
    store, t0 = services.store, services.clock.now()
    async with store.read("t.head") as conn:
        start_seq, start_hash = await audit_store.head(conn)
    first = entries_at(t0, None, 3, "test.batch")  # one timestamp shared by a batch
    async with store.write_in_thread("t.audit") as tx:
        seqs = await tx.run(append_many, first)
        assert await tx.run(append_many, []) == []
    assert seqs == [start_seq + 1, start_seq + 2, start_seq + 3]
    async with store.write("t.audit.one") as conn:  # run_sync on the async connection
        one = await audit_store.append(conn, at=t0 + timedelta(microseconds=1), actor_id=None, action="test.one",
                                       target_type="test", details={"x": None})
    assert one == start_seq + 4
    later = [*entries_at(t0 + timedelta(seconds=5), None, 2, "test.later"),
             *entries_at(t0 + timedelta(seconds=6, microseconds=7), None, 1, "test.later")]
    async with store.write_in_thread("t.audit.2") as tx:
        assert await tx.run(append_many, later) == [start_seq + 5, start_seq + 6, start_seq + 7]

    report = await verify_database(store.engine)
    assert report.broken is None, report.broken
    assert report.records == start_seq + 7
    async with store.read("t.audit.read") as conn:
        head_seq, head_hash = await audit_store.head(conn)
        rows = (await conn.execute(select(audit_log).where(audit_log.c.seq > start_seq)
                                   .order_by(audit_log.c.seq))).all()
        heads = (await conn.execute(select(func.count()).select_from(audit_head))).scalar_one()
    assert (head_seq, head_hash) == (start_seq + 7, report.head_hash) and head_hash != start_hash
    assert heads == 1
    assert rows[0].prev_hash == start_hash and all(b.prev_hash == a.hash for a, b in pairwise(rows))
    written = [*first, AuditEntry(t0 + timedelta(microseconds=1), None, "test.one", "test", None, None, {"x": None}),
               *later]
    assert [(r.seq, r.at, r.action, r.target_id) for r in rows] == [
        (start_seq + 1 + i, e.at, e.action, e.target_id) for i, e in enumerate(written)]
    assert all(r.at.utcoffset() == timedelta(0) for r in rows)
    assert rows[0].details == '{"i":0,"nested":{"a":[1,2],"b":1},"note":"ünïcode"}'


async def test_append_many_starts_the_chain_on_an_empty_log(api: Any) -> None:
    _client, services = api
    store, t0 = services.store, services.clock.now()
    async with store.write("t.empty") as conn:  # as if nothing had ever been audited
        await conn.execute(audit_log.delete())
        await conn.execute(audit_head.delete())
    async with store.write_in_thread("t.audit.first") as tx:
        assert await tx.run(append_many, entries_at(t0, None, 2, "test.first")) == [1, 2]
    report = await verify_database(store.engine)
    assert report.broken is None and report.records == 2
    async with store.read("t.head") as conn:
        first_prev = (await conn.execute(select(audit_log.c.prev_hash).where(audit_log.c.seq == 1))).scalar_one()
        assert await audit_store.head(conn) == (2, report.head_hash)
    assert first_prev == GENESIS


async def test_an_entry_at_a_non_utc_instant_still_verifies(api: Any) -> None:
    _client, services = api
    at = services.clock.now().astimezone(timezone(timedelta(hours=2)))
    async with services.store.write_in_thread("t.audit.offset") as tx:
        await tx.run(append_many, entries_at(at, None, 1, "test.offset"))
    report = await verify_database(services.store.engine)
    assert report.broken is None, report.broken


async def test_the_message_batch_reads_what_core_reads(api: Any) -> None:
    _client, services = api
    w = await build(services)
    rows = await services.messaging.conversations(w.actor("client"))
    own = str(next(r.id for r, _members, _may in rows if r.kind == "case"))
    acks = [await services.messaging.send(w.actor("client"), own, f"m{i}", f"hello {i}") for i in range(3)]
    keys = {(w.users["client"], f"m{i}") for i in range(3)} | {(w.users["officer"], "m0"), (w.users["client"], "m9")}

    def step(conn: Connection) -> tuple[Any, Any, Any]:
        db = Driver(conn)
        return (messaging_store.messages_by_client_ids(db, keys), messaging_store.lock_conversations(db, [own, "none"]),
                messaging_store.current_members(db, [own]))

    async with services.store.write_in_thread("t.batch.read") as tx:
        stored, locked, members = await tx.run(step)
    async with services.store.read("t.core") as conn:
        core = {r.id: r for r in await conn.execute(
            select(messages.c.id, messages.c.seq, messages.c.sent_at).where(messages.c.conversation_id == own))}
        conv = (await conn.execute(select(conversations).where(conversations.c.id == own))).one()
        core_members = set((await conn.execute(
            select(conversation_members.c.user_id).where(conversation_members.c.conversation_id == own,
                                                         conversation_members.c.left_at.is_(None)))).scalars())
    assert set(stored) == {(w.users["client"], f"m{i}") for i in range(3)}
    for ack in acks:
        ref = stored[(w.users["client"], ack.id)]
        assert ref == messaging_store.StoredRef(own, ack.seq, ack.sent_at)
        assert (ref.seq, ref.sent_at) == (core[ack.id].seq, core[ack.id].sent_at)
        assert ref.sent_at.utcoffset() == timedelta(0)
    assert locked == {own: messaging_store.ConversationRow(own, "case", conv.case_id, None, 3, None, None)}
    assert conv.last_seq == 3 and set(members[own]) == core_members == {w.users["client"], w.users["officer"]}
