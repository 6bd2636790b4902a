"""A group session as a snapshot and back: what a node taking it over carries on with."""

from __future__ import annotations

import json

import pytest

from server.clock import FakeClock
from server.errors import JoinRefused
from server.groups.session_machine import Rooms, Session, SessionState
from server.groups.session_snapshot import VERSION, dump, restore
from server.groups.session_values import MAIN, Effect, JoinFacts, Media, Note, Place, Role, Tell

OK = JoinFacts(enrolled=True, agreement_accepted=True)


def pid(effects: list[Effect]) -> str:
    first = effects[0]
    assert isinstance(first, Tell) and first.frame["type"] == "joined"
    return str(first.frame["participant"])


def other_node() -> FakeClock:
    """Another node's clock: its monotonic time has nothing to do with the first node's."""
    clock = FakeClock()
    clock.advance(86_400)
    return clock


class World:
    """A session with a facilitator and one participant in every place."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.s = Session("s1", clock, max_participants=9, last_n=4, grace_s=20.0, max_breakouts=3,
                         max_breakout_s=1800)
        self.fac = pid(self.s.join(user_id="fac", display_name="Fac", role=Role.FACILITATOR))
        self.ids = {user: self.join(user) for user in ("wait", "here", "drop", "deny", "left", "gone")}
        for user in ("here", "drop", "left", "gone"):
            self.s.admit(self.fac, self.ids[user])
        self.s.deny(self.fac, self.ids["deny"])
        self.s.leave(self.ids["left"])
        self.s.remove(self.fac, self.ids["gone"])
        self.s.drop(self.ids["drop"])

    def join(self, user: str) -> str:
        return pid(self.s.join(user_id=user, display_name=user.title(), role=Role.PARTICIPANT, facts=OK))

    def rejoin(self, s: Session, user: str) -> list[Effect]:
        return s.join(user_id=user, display_name=user.title(), role=Role.PARTICIPANT, facts=OK)


@pytest.fixture
def world() -> World:
    return World(FakeClock())


def places(s: Session) -> dict[str, tuple[Place, Place | None]]:
    return {p.user_id: (p.place, p.resume) for p in s.people.values()}


def test_every_place_after_a_takeover(world: World) -> None:
    clock = other_node()
    got = restore(dump(world.s, naming="first_name", voice_only=()), "s1", clock)
    assert places(got.session) == {
        "fac": (Place.DROPPED, Place.PRESENT),
        "wait": (Place.DROPPED, Place.WAITING),
        "here": (Place.DROPPED, Place.PRESENT),
        "drop": (Place.DROPPED, Place.PRESENT),  # already dropped: keeps what it would have resumed
        "deny": (Place.DENIED, None),
        "left": (Place.LEFT, None),
        "gone": (Place.REMOVED, None),
    }
    held = [p for p in got.session.people.values() if p.place is Place.DROPPED]
    assert all(p.dropped_at == clock.monotonic() for p in held)
    assert got.effects == [Note("interrupted", p.id, p.user_id, p.role.value, clock.monotonic(), "dropped",
                                "node_takeover") for p in held]
    assert not [e for e in got.effects if isinstance(e, Tell | Media)]
    assert got.session.id == "s1" and got.session.clock is clock


def test_round_trip(world: World) -> None:
    s = world.s
    here = world.ids["here"]
    s.raise_hand(here)
    s.raise_hand(world.fac)
    s.set_spotlight(world.fac, here)
    s.mute(world.fac, here)
    s.stop_camera(world.fac, here)
    s.lock(world.fac)
    s.open_breakouts(world.fac, {"Kitchen": (here,)}, 600)
    world.clock.advance(100)
    first = dump(s, naming="full_name", voice_only=[here, here, world.fac])
    got = restore(first, "s1", other_node(), reason="drain")
    assert {n.detail for n in got.effects if isinstance(n, Note)} == {"drain"}
    assert got.naming == "full_name" and got.voice_only == frozenset({here, world.fac})
    again = json.loads(dump(got.session, naming=got.naming, voice_only=got.voice_only))
    before = json.loads(first)
    for p in before["people"]:  # the only change a takeover makes: whoever held a place is dropped
        if p["place"] in ("waiting", "present"):
            p["place"], p["resume"] = "dropped", p["place"]
    assert again == before
    assert before["breakouts"] == {"names": ["Kitchen"], "left_s": 500.0}
    assert before["state"] == "locked" and before["hands"] == [here, world.fac] and before["spotlight"] == here
    assert before["v"] == VERSION and before["seq"] == 7
    assert first == dump(s, naming="full_name", voice_only=[world.fac, here])  # deterministic
    assert first == json.dumps(json.loads(first), separators=(",", ":")) and " " not in first


def test_a_restored_session_carries_on(world: World) -> None:
    here = world.ids["here"]
    world.s.raise_hand(here)
    world.s.mute(world.fac, here)
    world.s.lock(world.fac)
    clock = other_node()
    s = restore(dump(world.s, naming="first_name", voice_only=()), "s1", clock).session
    assert s.state is SessionState.LOCKED and s.hands == [here]
    # the admitted come back into the session, not the lobby; a hard mute still holds
    back = world.rejoin(s, "here")
    assert pid(back) == here and s.people[here].place is Place.PRESENT
    assert [(n.kind, n.place) for n in back if isinstance(n, Note)] == [("rejoined", "present")]
    assert [(m.audio, m.video) for m in back if isinstance(m, Media)] == [(False, True)]
    assert s.people[here].hard_muted
    # the waiting go back to waiting; the lock does not keep out who held a place
    assert world.rejoin(s, "wait")[0] == Tell(world.ids["wait"], {
        "type": "joined", "session": "s1", "participant": world.ids["wait"], "state": "waiting",
        "role": "participant"})
    assert s.people[world.ids["drop"]].place is Place.DROPPED
    assert pid(world.rejoin(s, "drop")) == world.ids["drop"] and s.people[world.ids["drop"]].place is Place.PRESENT
    # the removed are still refused, and anyone new is kept out by the lock
    with pytest.raises(JoinRefused) as removed:
        world.rejoin(s, "gone")
    assert removed.value.refusal == "removed"
    with pytest.raises(JoinRefused) as locked:
        world.rejoin(s, "new")
    assert locked.value.refusal == "locked"
    s.unlock(pid(s.join(user_id="fac", display_name="Fac", role=Role.FACILITATOR)))
    assert pid(world.rejoin(s, "new")) == "p8"  # the id counter carried over: no id is reused


def test_grace_runs_from_the_takeover(world: World) -> None:
    world.clock.advance(15)  # "drop" dropped 15 s ago: a takeover gives everyone a fresh grace period
    clock = other_node()
    s = restore(dump(world.s, naming="first_name", voice_only=()), "s1", clock).session
    clock.advance(19)
    assert s.tick() == []
    clock.advance(1)
    gone = [(n.kind, n.user_id, n.place) for n in s.tick() if isinstance(n, Note)]
    assert gone == [("gone", u, "left") for u in ("fac", "wait", "here", "drop")]
    assert all(p.place is not Place.DROPPED for p in s.people.values())


def test_the_breakout_timer_keeps_its_time_left(world: World) -> None:
    here = world.ids["here"]
    world.s.open_breakouts(world.fac, {"Kitchen": (here,)}, 300)
    world.clock.advance(120)
    clock = other_node()
    s = restore(dump(world.s, naming="first_name", voice_only=()), "s1", clock).session
    assert s.rooms is Rooms.BREAKOUTS and s.breakouts is not None and s.people[here].room == "Kitchen"
    assert s.breakouts.deadline == clock.monotonic() + 180
    world.rejoin(s, "here")
    pid(s.join(user_id="fac", display_name="Fac", role=Role.FACILITATOR))
    clock.advance(179)
    s.tick()
    assert s.rooms is Rooms.BREAKOUTS
    clock.advance(1)
    s.tick()
    assert s.rooms is Rooms.MAIN and s.people[here].room == MAIN


def test_an_overdue_timer_is_zero_left(world: World) -> None:
    world.s.open_breakouts(world.fac, {"Kitchen": (world.ids["here"],)}, 60)
    world.clock.advance(90)
    assert json.loads(dump(world.s, naming="n", voice_only=()))["breakouts"]["left_s"] == 0.0


def test_an_ended_session_stays_ended(world: World) -> None:
    world.s.end(world.fac)
    got = restore(dump(world.s, naming="n", voice_only=()), "s1", other_node())
    assert got.session.state is SessionState.ENDED and got.effects == []


def _broken(world: World, change: str) -> str:
    snap = json.loads(dump(world.s, naming="n", voice_only=()))
    if change == "version":
        snap["v"] = 2
    elif change == "no_version":
        del snap["v"]
    elif change == "extra":
        snap["said"] = "hello"
    elif change == "role":
        snap["people"][0]["role"] = "warden"
    elif change == "twice":
        snap["people"].append(snap["people"][0])
    elif change == "room":
        snap["people"][0]["room"] = "Attic"
    elif change == "hand":
        snap["hands"] = ["p99"]
    elif change == "spotlight":
        snap["spotlight"] = world.ids["left"]
    elif change == "seq":
        snap["seq"] = 1
    elif change == "resume":
        snap["people"][0]["resume"] = "left"
    elif change == "no_resume":
        next(p for p in snap["people"] if p["place"] == "dropped")["resume"] = None
    elif change == "rooms":
        snap["rooms"] = "breakouts"
    elif change == "limits":
        snap["settings"]["max_participants"] = 0
    elif change == "missing":
        del snap["people"][0]["audio"]
    elif change == "timer":
        snap["rooms"], snap["breakouts"] = "breakouts", {"names": ["K"], "left_s": -1}
        snap["people"][0]["room"] = "K"
    return json.dumps(snap)


@pytest.mark.parametrize("change", ["version", "no_version", "extra", "role", "twice", "room", "hand", "spotlight",
                                    "seq", "resume", "no_resume", "rooms", "limits", "missing", "timer"])
def test_a_broken_snapshot_is_refused(world: World, change: str) -> None:
    with pytest.raises(ValueError, match="group snapshot: "):
        restore(_broken(world, change), "s1", other_node())


@pytest.mark.parametrize("data", ["", "not json", "[]", "null", '{"v": "1"}', "{"])
def test_malformed_text_is_refused(data: str) -> None:
    with pytest.raises(ValueError, match="group snapshot"):
        restore(data, "s1", FakeClock())


def test_a_good_snapshot_is_accepted_by_the_same_checks(world: World) -> None:
    assert restore(_broken(world, "none"), "s1", other_node()).session.people
