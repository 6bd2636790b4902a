"""The group session table: every transition, every refusal, with a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.clock import FakeClock
from server.errors import (
    BadRequest,
    IllegalTransition,
    JoinRefused,
    LimitExceeded,
    NotFacilitator,
    NotFound,
    NotInRoom,
    TandemError,
    UnmuteNotAllowed,
)
from server.groups.session_machine import (
    PLACE,
    ROOMS,
    SESSION,
    Rooms,
    Session,
    SessionState,
    place_step,
    rooms_step,
    session_step,
)
from server.groups.session_values import (
    MAIN,
    Disconnect,
    Effect,
    JoinFacts,
    LobbyChanged,
    Media,
    Note,
    Place,
    Role,
    Routes,
    Tell,
    rank_view,
)

OK = JoinFacts(enrolled=True, agreement_accepted=True)
PLACE_EVENTS = sorted({event for _state, event in PLACE})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pid(effects: list[Effect]) -> str:
    first = effects[0]
    assert isinstance(first, Tell) and first.frame["type"] == "joined"
    return str(first.frame["participant"])


def told(effects: list[Effect], to: str) -> list[str]:
    return [str(e.frame["type"]) for e in effects if isinstance(e, Tell) and e.to == to]


def notes(effects: list[Effect]) -> list[tuple[str, str]]:
    return [(e.kind, e.user_id) for e in effects if isinstance(e, Note)]


def media(effects: list[Effect]) -> list[tuple[str, bool, bool]]:
    return [(e.participant, e.audio, e.video) for e in effects if isinstance(e, Media)]


def routes(effects: list[Effect]) -> dict[str, tuple[str, ...]]:
    found = [e for e in effects if isinstance(e, Routes)]
    assert found, "no routes in the effects"
    return dict(found[-1].groups)


class World:
    """A session with its facilitator present."""

    def __init__(self, clock: FakeClock, **kwargs: Any) -> None:
        self.clock = clock
        self.s = Session("s1", clock, **kwargs)
        self.fac = pid(self.s.join(user_id="fac", display_name="Fac", role=Role.FACILITATOR))

    def waiting(self, user: str = "u1") -> str:
        return pid(self.s.join(user_id=user, display_name=user.upper(), role=Role.PARTICIPANT, facts=OK))

    def present(self, user: str = "u1") -> str:
        p = self.waiting(user)
        self.s.admit(self.fac, p)
        return p


def reach(world: World, state: Place | None, *, resume: Place = Place.PRESENT) -> str | None:
    """A participant ``u1`` in ``state`` (None: has never joined)."""
    if state is None:
        return None
    if state is Place.WAITING:
        return world.waiting()
    if state is Place.PRESENT:
        return world.present()
    if state is Place.DROPPED:
        p = world.present() if resume is Place.PRESENT else world.waiting()
        world.s.drop(p)
        return p
    if state is Place.DENIED:
        p = world.waiting()
        world.s.deny(world.fac, p)
        return p
    p = world.present()
    if state is Place.LEFT:
        world.s.leave(p)
    elif state is Place.REMOVED:
        world.s.remove(world.fac, p)
    return p


def apply(world: World, p: str | None, event: str) -> Callable[[], list[Effect]]:
    s = world.s
    join = lambda: s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)  # noqa: E731
    actions: dict[str, Callable[[], list[Effect]]] = {
        "join_lobby": join,
        "join_direct": lambda: (setattr(s, "auto_admit", True), join())[1],
        "rejoin_waiting": join,
        "rejoin_present": join,
        "admit": lambda: s.admit(world.fac, p or "p9"),
        "deny": lambda: s.deny(world.fac, p or "p9"),
        "leave": lambda: s.leave(p or "p9"),
        "drop": lambda: s.drop(p or "p9"),
        "expire": lambda: (world.clock.advance(s.grace_s), s.tick())[1],
        "remove": lambda: s.remove(world.fac, p or "p9"),
        "end": lambda: s.end(world.fac),
    }
    return actions[event]


@pytest.mark.parametrize(("state", "event"), list(PLACE))
def test_every_place_transition(clock: FakeClock, state: Place | None, event: str) -> None:
    world = World(clock)
    p = reach(world, state, resume=Place.WAITING if event == "rejoin_waiting" else Place.PRESENT)
    out = apply(world, p, event)()
    person = next(q for q in world.s.people.values() if q.user_id == "u1")
    assert person.place is PLACE[(state, event)]
    assert notes(out), "every change of place is evidence for the register"


ILLEGAL = [(state, event) for state in (None, *Place) for event in PLACE_EVENTS if (state, event) not in PLACE]


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_illegal_place_step_is_refused(clock: FakeClock, state: Place | None, event: str) -> None:
    with pytest.raises(IllegalTransition):
        place_step(state, event)
    world = World(clock)
    p = reach(world, state)
    if event in ("drop", "expire") or (event.startswith("rejoin") and state is not Place.DROPPED):
        return  # a drop of no place is a no-op; a tick with nothing due changes nothing; a join is join_*
    if event.startswith("join") and state in (Place.DROPPED, Place.REMOVED, Place.DENIED):
        return  # a dropped person's join is a rejoin; removed: the refusal test; denied may ask again
    before = {q.id: q.place for q in world.s.people.values()}
    if event == "end":  # the session ends; someone who holds no place keeps theirs
        apply(world, p, event)()
        before[world.fac] = Place.LEFT
    else:
        with pytest.raises(TandemError):
            apply(world, p, event)()
    assert {q.id: q.place for q in world.s.people.values()} == before


def test_session_and_rooms_tables() -> None:
    for (state, event), after in SESSION.items():
        assert session_step(state, event) is after
    for (rooms, event), after_rooms in ROOMS.items():
        assert rooms_step(rooms, event) is after_rooms
    for state in SessionState:
        for event in ("lock", "unlock", "end"):
            if (state, event) not in SESSION:
                with pytest.raises(IllegalTransition):
                    session_step(state, event)
    for rooms in Rooms:
        for event in ("open_breakouts", "return_all"):
            if (rooms, event) not in ROOMS:
                with pytest.raises(IllegalTransition):
                    rooms_step(rooms, event)


# -- roles and the lobby -------------------------------------------------------------


def test_staff_and_the_room_device_enter_directly_participants_wait(clock: FakeClock) -> None:
    world = World(clock)
    s = world.s
    for role in (Role.CO_FACILITATOR, Role.OBSERVER, Role.ROOM_DEVICE):
        out = s.join(user_id=role.value, display_name=role.value, role=role)
        assert s.people[pid(out)].place is Place.PRESENT
        assert media(out) == [(pid(out), True, True)]
    out = s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    assert s.people[pid(out)].place is Place.WAITING
    assert any(isinstance(e, LobbyChanged) for e in out)
    lobby = [e.frame for e in out if isinstance(e, Tell) and e.to == world.fac][-1]["lobby"]
    assert [seat["user_id"] for seat in lobby] == ["u1"]  # type: ignore[index]
    observer = next(p for p in s.people.values() if p.role is Role.OBSERVER)
    seats = [e.frame for e in out if isinstance(e, Tell) and e.to == observer.id][-1]
    assert "lobby" not in seats  # only those who run the session see the lobby
    assert {seat["role"] for seat in seats["participants"]} == {  # type: ignore[attr-defined]
        "facilitator", "co_facilitator", "observer", "room_device"}


def test_auto_admit_lets_enrolled_participants_straight_in(clock: FakeClock) -> None:
    world = World(clock, auto_admit=True)
    out = world.s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    assert world.s.people[pid(out)].place is Place.PRESENT
    assert notes(out) == [("joined", "u1")]


def test_admit_and_deny(clock: FakeClock) -> None:
    world = World(clock)
    p = world.waiting()
    out = world.s.admit(world.fac, p)
    assert told(out, p)[:1] == ["admitted"] and notes(out) == [("admitted", "u1")]
    assert routes(out) == {MAIN: ("p1", p)}
    q = world.waiting("u2")
    out = world.s.deny(world.fac, q)
    assert told(out, q) == ["denied"] and Disconnect(q, "denied") in out
    assert notes(out) == [("denied", "u2")]
    with pytest.raises(NotFound):
        world.s.admit(world.fac, q)
    with pytest.raises(NotFacilitator):
        world.s.admit(p, q)


@pytest.mark.parametrize(("prepare", "facts", "role", "refusal", "rule", "reason"), [
    ("remove", OK, Role.PARTICIPANT, "removed", "session_controls", "session_controls.removed"),
    ("remove", OK, Role.OBSERVER, "removed", "session_controls", "session_controls.removed"),
    ("lock", OK, Role.PARTICIPANT, "locked", "session_controls", "session_controls.locked"),
    ("", JoinFacts(enrolled=False, agreement_accepted=True), Role.PARTICIPANT, "not_enrolled", "group_rules",
     "group_rules.not_enrolled"),
    ("", JoinFacts(enrolled=True, agreement_accepted=False), Role.PARTICIPANT, "agreement_not_accepted",
     "group_rules", "group_rules.confidentiality_first"),
    ("full", OK, Role.PARTICIPANT, "cohort_full", "group_rules", "group_rules.full"),
])
def test_join_refusals_name_their_rule(clock: FakeClock, prepare: str, facts: JoinFacts, role: Role,
                                       refusal: str, rule: str, reason: str) -> None:
    """Each refusal carries its rule and a reason code the client words in the reader's language."""
    world = World(clock, max_participants=2)
    s = world.s
    if prepare == "remove":
        p = pid(s.join(user_id="x", display_name="X", role=role, facts=OK))
        if role is Role.PARTICIPANT:
            s.admit(world.fac, p)
        s.remove(world.fac, p)
    elif prepare == "lock":
        s.lock(world.fac)
    elif prepare == "full":
        world.present("a")
        world.waiting("b")
    with pytest.raises(JoinRefused) as refused:
        s.join(user_id="x", display_name="X", role=role, facts=facts)
    assert refused.value.refusal == refusal and refused.value.rule_id == rule
    params = {"max_participants": 2} if prepare == "full" else {}
    assert refused.value.to_json()["error"] == {"code": "join_refused", "message": refused.value.message,
                                                "rule_id": rule, "refusal": refusal, "reason": reason,
                                                "params": params}


def test_a_locked_session_still_takes_staff_and_the_room_device_and_dropped_people_back(clock: FakeClock) -> None:
    world = World(clock)
    p = world.present()
    world.s.drop(p)
    world.s.lock(world.fac)
    for role in (Role.CO_FACILITATOR, Role.OBSERVER, Role.ROOM_DEVICE):
        world.s.join(user_id=role.value, display_name=role.value, role=role)
    out = world.s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    assert notes(out) == [("rejoined", "u1")] and world.s.people[p].place is Place.PRESENT
    world.s.unlock(world.fac)
    world.present("u2")


def test_the_sixteenth_of_fifteen_is_refused_but_staff_and_the_room_do_not_count(clock: FakeClock) -> None:
    world = World(clock)
    for n in range(15):
        world.present(f"u{n}")
    world.s.join(user_id="room", display_name="Room 2", role=Role.ROOM_DEVICE)
    world.s.join(user_id="co", display_name="Co", role=Role.CO_FACILITATOR)
    with pytest.raises(JoinRefused, match="full"):
        world.s.join(user_id="u15", display_name="U15", role=Role.PARTICIPANT, facts=OK)
    world.s.leave(world.s.people["p2"].id)  # one leaves: a place is free again
    world.present("u15")


def test_joining_twice_and_after_the_end(clock: FakeClock) -> None:
    world = World(clock)
    world.present()
    with pytest.raises(IllegalTransition):
        world.s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    out = world.s.end(world.fac)
    assert told(out, world.fac) == ["ended"] and world.s.state is SessionState.ENDED
    with pytest.raises(IllegalTransition):
        world.s.join(user_id="u2", display_name="U2", role=Role.PARTICIPANT, facts=OK)
    with pytest.raises(IllegalTransition):
        world.s.end(None)


def test_end_by_a_participant_is_refused_and_the_server_may_end(clock: FakeClock) -> None:
    world = World(clock)
    p = world.present()
    world.s.drop(world.present("u2"))
    with pytest.raises(NotFacilitator):
        world.s.end(p)
    out = world.s.end(None)
    assert notes(out) == [("ended", "fac"), ("ended", "u1"), ("ended", "u2")]
    assert told(out, "p3") == []  # dropped: nobody to tell


def test_leave_drop_and_grace(clock: FakeClock) -> None:
    world = World(clock, grace_s=30)
    p = world.present()
    world.s.raise_hand(p)
    out = world.s.drop(p)
    assert notes(out) == [("dropped", "u1")] and world.s.hands == []
    clock.advance(29)
    assert world.s.tick() == []
    clock.advance(1)
    assert notes(world.s.tick()) == [("gone", "u1")]
    assert world.s.drop(p) == [] and world.s.drop("nobody") == []
    with pytest.raises(NotInRoom):
        world.s.leave(p)
    q = world.waiting("u2")
    out = world.s.leave(q)
    assert told(out, q) == ["left"] and any(isinstance(e, LobbyChanged) for e in out)


def test_notes_carry_the_fake_clock(clock: FakeClock) -> None:
    world = World(clock)
    clock.advance(90)
    out = world.s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    assert [n.at for n in out if isinstance(n, Note)] == [1090.0]


# -- controls ----------------------------------------------------------------------------


CONTROLS: list[tuple[str, Callable[[Session, str, str], object]]] = [
    ("admit", lambda s, by, p: s.admit(by, p)),
    ("deny", lambda s, by, p: s.deny(by, p)),
    ("remove", lambda s, by, p: s.remove(by, p)),
    ("mute", lambda s, by, p: s.mute(by, p)),
    ("mute_all", lambda s, by, p: s.mute_all(by)),
    ("allow_unmute", lambda s, by, p: s.allow_unmute(by, p)),
    ("stop_camera", lambda s, by, p: s.stop_camera(by, p)),
    ("lock", lambda s, by, p: s.lock(by)),
    ("unlock", lambda s, by, p: s.unlock(by)),
    ("spotlight", lambda s, by, p: s.set_spotlight(by, p)),
    ("lower_hand", lambda s, by, p: s.lower_hand(p, by=by)),
    ("clear_hands", lambda s, by, p: s.clear_hands(by)),
    ("open_breakouts", lambda s, by, p: s.open_breakouts(by, {"A": (p,)}, 60)),
    ("move", lambda s, by, p: s.move(by, p, MAIN)),
    ("visit", lambda s, by, p: s.visit(by, MAIN)),
    ("return_all", lambda s, by, p: s.return_all(by)),
    ("end", lambda s, by, p: s.end(by)),
]


@pytest.mark.parametrize("role", [Role.PARTICIPANT, Role.OBSERVER, Role.ROOM_DEVICE])
@pytest.mark.parametrize(("name", "control"), CONTROLS, ids=[c[0] for c in CONTROLS])
def test_control_frames_from_non_facilitators_are_refused_with_a_code(
        clock: FakeClock, role: Role, name: str, control: Callable[[Session, str, str], object]) -> None:
    world = World(clock)
    target = world.present()
    sender = pid(world.s.join(user_id="x", display_name="X", role=role, facts=OK))
    if role is Role.PARTICIPANT:
        world.s.admit(world.fac, sender)
    with pytest.raises(NotFacilitator) as refused:
        control(world.s, sender, target)
    assert refused.value.code == "not_facilitator" and refused.value.status == 403


def test_controls_from_the_lobby_or_from_strangers(clock: FakeClock) -> None:
    world = World(clock)
    waiting = world.waiting()
    with pytest.raises(NotInRoom):
        world.s.lock(waiting)
    with pytest.raises(NotInRoom):
        world.s.mute_all("p99")
    with pytest.raises(NotInRoom):
        world.s.raise_hand(waiting)


def test_a_co_facilitator_runs_the_session_too_and_facilitators_are_not_removed(clock: FakeClock) -> None:
    world = World(clock)
    co = pid(world.s.join(user_id="co", display_name="Co", role=Role.CO_FACILITATOR))
    p = world.waiting()
    world.s.admit(co, p)
    with pytest.raises(NotFacilitator):
        world.s.remove(co, world.fac)
    with pytest.raises(NotFound):
        world.s.remove(co, co)
    world.s.mute(co, world.fac)
    world.s.set_media(world.fac, audio=True, video=True)  # staff are never held muted


def test_mute_one_and_unmute_permission(clock: FakeClock) -> None:
    world = World(clock)
    p = world.present()
    out = world.s.mute(world.fac, p)
    assert media(out) == [(p, False, True)] and told(out, p)[0] == "muted"
    with pytest.raises(UnmuteNotAllowed) as refused:
        world.s.set_media(p, audio=True, video=True)
    assert refused.value.code == "unmute_not_allowed"
    assert media(world.s.set_media(p, audio=False, video=False)) == [(p, False, False)]  # camera is theirs
    out = world.s.allow_unmute(world.fac, p)
    assert told(out, p) == ["unmute_allowed"] and media(out) == []  # nobody is unmuted by someone else
    assert world.s.allow_unmute(world.fac, p) == []
    assert media(world.s.set_media(p, audio=True, video=True)) == [(p, True, True)]
    world.s.set_media(p, audio=False, video=True)  # a self-mute may be undone any time
    world.s.set_media(p, audio=True, video=True)


def test_mute_all_spares_those_who_run_it_and_allow_all(clock: FakeClock) -> None:
    world = World(clock)
    co = pid(world.s.join(user_id="co", display_name="Co", role=Role.CO_FACILITATOR))
    a, b = world.present("a"), world.present("b")
    room = pid(world.s.join(user_id="room", display_name="Room", role=Role.ROOM_DEVICE))
    out = world.s.mute_all(world.fac)
    assert {m[0] for m in media(out)} == {a, b, room} and co not in {m[0] for m in media(out)}
    out = world.s.allow_unmute(world.fac)
    assert {e.to for e in out if isinstance(e, Tell)} == {a, b, room}
    world.s.set_media(a, audio=True, video=True)


def test_a_held_mute_survives_a_drop(clock: FakeClock) -> None:
    world = World(clock)
    p = world.present()
    world.s.mute(world.fac, p)
    world.s.drop(p)
    out = world.s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    assert media(out) == [(p, False, True)]
    with pytest.raises(UnmuteNotAllowed):
        world.s.set_media(p, audio=True, video=True)


def test_stop_camera(clock: FakeClock) -> None:
    world = World(clock)
    p = world.present()
    out = world.s.stop_camera(world.fac, p)
    assert media(out) == [(p, True, False)] and told(out, p)[0] == "camera_stopped"
    with pytest.raises(NotFound):
        world.s.stop_camera(world.fac, "p99")


def test_remove_disconnects_and_refuses_rejoin(clock: FakeClock) -> None:
    world = World(clock)
    p = world.present()
    world.s.set_spotlight(world.fac, p)
    out = world.s.remove(world.fac, p)
    assert told(out, p)[0] == "removed" and Disconnect(p, "removed") in out
    assert notes(out) == [("removed", "u1")] and world.s.spotlight is None
    assert routes(out) == {MAIN: (world.fac,)}
    with pytest.raises(JoinRefused):
        world.s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=OK)
    with pytest.raises(NotFound):
        world.s.remove(world.fac, p)


def test_lock_twice_and_unlock_open_are_illegal(clock: FakeClock) -> None:
    world = World(clock)
    world.s.lock(world.fac)
    with pytest.raises(IllegalTransition):
        world.s.lock(world.fac)
    world.s.unlock(world.fac)
    with pytest.raises(IllegalTransition):
        world.s.unlock(world.fac)


def test_spotlight_for_everyone(clock: FakeClock) -> None:
    world = World(clock)
    a, b = world.present("a"), world.present("b")
    out = world.s.set_spotlight(world.fac, b)
    assert all(e.frame["spotlight"] == b for e in out if isinstance(e, Tell))
    assert world.s.view(a)[0] == b
    world.s.set_spotlight(world.fac, None)
    assert world.s.spotlight is None
    with pytest.raises(NotFound):
        world.s.set_spotlight(world.fac, "p99")


# -- hands ---------------------------------------------------------------------------------


def test_raise_hand_queue_in_order(clock: FakeClock) -> None:
    world = World(clock)
    a, b, c = world.present("a"), world.present("b"), world.present("c")
    for p in (b, a, c, b):  # raising twice keeps the first place
        world.s.raise_hand(p)
    assert world.s.hands == [b, a, c]
    out = world.s.lower_hand(a)
    assert world.s.hands == [b, c]
    assert all(e.frame["hands"] == [b, c] for e in out if isinstance(e, Tell))
    world.s.lower_hand(b, by=world.fac)
    assert world.s.hands == [c]
    world.s.lower_hand(a)  # not raised: nothing to lower
    world.s.raise_hand(a)
    world.s.clear_hands(world.fac)
    assert world.s.hands == []
    with pytest.raises(NotFound):
        world.s.lower_hand("p99", by=world.fac)


def test_hands_clear_lowers_every_hand_and_tells_everyone(clock: FakeClock) -> None:
    """`group.hands_clear`: a facilitator empties the queue; everyone's state shows no hands."""
    world = World(clock)
    a, b = world.present("a"), world.present("b")
    world.s.raise_hand(a)
    world.s.raise_hand(b)
    out = world.s.clear_hands(world.fac)
    assert world.s.hands == []
    told = {e.to for e in out if isinstance(e, Tell) and e.frame["type"] == "session"}
    assert told == {world.fac, a, b}
    assert all(e.frame["hands"] == [] for e in out if isinstance(e, Tell) and e.frame["type"] == "session")
    with pytest.raises(NotFacilitator):
        world.s.clear_hands(a)


# -- breakouts --------------------------------------------------------------------------


def test_breakouts_named_preassigned_timed_and_returned(clock: FakeClock) -> None:
    world = World(clock)
    a, b, c, d = (world.present(u) for u in "abcd")
    out = world.s.open_breakouts(world.fac, {"Pair 1": (a, b), "Pair 2": (c,)}, duration_s=600)
    assert routes(out) == {MAIN: (world.fac, d), "Pair 1": (a, b), "Pair 2": (c,)}
    assert world.s.rooms is Rooms.BREAKOUTS
    assert world.s.view(a) == (b, ())  # media never crosses between rooms
    out = world.s.move(world.fac, d, "Pair 2")
    assert routes(out)["Pair 2"] == (c, d)
    out = world.s.visit(world.fac, "Pair 1")
    assert routes(out)["Pair 1"] == (world.fac, a, b)
    with pytest.raises(NotFound):
        world.s.visit(world.fac, "forged")
    with pytest.raises(NotFound):
        world.s.move(world.fac, a, "forged")
    with pytest.raises(IllegalTransition):
        world.s.open_breakouts(world.fac, {"again": (a,)}, 60)
    clock.advance(599)
    assert world.s.tick() == []
    clock.advance(1)
    out = world.s.tick()
    assert routes(out) == {MAIN: (world.fac, a, b, c, d)} and world.s.rooms is Rooms.MAIN
    with pytest.raises(IllegalTransition):
        world.s.return_all(world.fac)
    with pytest.raises(NotFound):
        world.s.visit(world.fac, MAIN)  # no breakouts running


def test_return_everyone_by_hand(clock: FakeClock) -> None:
    world = World(clock)
    a = world.present("a")
    world.s.open_breakouts(world.fac, {"A": (a,)}, duration_s=60)
    late = world.present("late")  # joins while breakouts run: the main room
    assert world.s.people[late].room == MAIN
    out = world.s.return_all(world.fac)
    assert routes(out) == {MAIN: (world.fac, a, late)} and world.s.breakouts is None


@pytest.mark.parametrize(("assignment", "duration", "error"), [
    ({}, 60, LimitExceeded),
    ({f"r{n}": () for n in range(9)}, 60, LimitExceeded),
    ({"A": ()}, 0, LimitExceeded),
    ({"A": ()}, 4 * 3600 + 1, LimitExceeded),
    ({" ": ()}, 60, BadRequest),
    ({MAIN: ()}, 60, BadRequest),
    ({"x" * 61: ()}, 60, BadRequest),
    ({"A": ("p2",), "B": ("p2",)}, 60, BadRequest),
    ({"A": ("p1",)}, 60, BadRequest),  # the facilitator visits instead
    ({"A": ("p99",)}, 60, NotFound),
])
def test_bad_breakouts(clock: FakeClock, assignment: dict[str, tuple[str, ...]], duration: float,
                       error: type[Exception]) -> None:
    world = World(clock)
    world.present()
    with pytest.raises(error):
        world.s.open_breakouts(world.fac, assignment, duration)
    assert world.s.rooms is Rooms.MAIN and world.s.breakouts is None


# -- last-N -----------------------------------------------------------------------------------


def test_last_n_from_speaker_history(clock: FakeClock) -> None:
    world = World(clock, last_n=2)
    a, b, c, d = (world.present(u) for u in "abcd")
    assert world.s.view(a) == (world.fac, (b, c))  # nobody spoke yet: in order of joining
    for p in (c, d, b):
        clock.advance(1)
        world.s.speaking(p)
    assert world.s.view(a) == (b, (d, c))  # the active speaker large, then the most recent
    assert world.s.view(b) == (d, (c, world.fac))  # the speaker sees the previous one large
    world.s.set_media(d, audio=False, video=True)
    clock.advance(1)
    world.s.speaking(d)  # muted: not heard
    world.s.speaking("p99")
    assert world.s.view(a) == (b, (d, c))


def test_last_n_default_is_six_and_zero_shows_the_speaker_only(clock: FakeClock) -> None:
    world = World(clock)
    people = [world.present(f"u{n}") for n in range(9)]
    large, rest = world.s.view(people[0])
    assert large == world.fac and len(rest) == 6
    assert rank_view([], {}, None, 6) == (None, ())
    assert rank_view(["a", "b"], {}, None, 0) == ("a", ())
    assert rank_view(["a", "b"], {"b": 1.0}, "a", 6) == ("a", ("b",))
    with pytest.raises(NotInRoom):
        world.s.view("p99")


def test_bad_limits(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="room for one"):
        Session("s", clock, max_participants=0)
