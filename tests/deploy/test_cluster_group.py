"""A live group session survives its home node's death and a deploy, on the stack exactly as ``deploy/``
ships it (issue 15, items 2 and 3, for group sessions): through nginx over HTTPS and WSS, the facilitator's
console (a desktop page) pinned to node 0 and a participant's phone-sized page pinned to node 1
(``on_node``; a pinned port follows nginx to the other node while its own is down). Through the UI only:
the facilitator starts the session (safe-space check, console), the participant joins from their
appointments (device test, the group's safe-space questions, the confidentiality agreement, the lobby),
the facilitator admits them, both decode each other's video in their tiles through the home's SFU.
The session's home is found from the outside (its ``room_homes`` row, each node's ``tandem_rooms_homed``):

- ``kill -9`` of the home node: both pages say "reconnecting" and come back by themselves (same
  document; the participant not in the lobby again, no safe-space questions, no agreement), decoding
  fresh video on new peer connections, within the lease and the grace period; the survivor took the
  session over; the register (the facilitator's API) shows the participant interrupted and resumed,
  never absent;
- SIGTERM of the new home (it drains and exits 0), then the unit's commands start it again: both come
  back again, and the session never ended.

A stopped node is started again with the unit's commands whatever happens, and the test waits until its
pinned port reaches it again: the package's cluster is left with two nodes.
"""

from __future__ import annotations

import signal
import time

import pytest

from server.identity import totp
from tests.browser.test_web_group_live import ALL_TILES_DECODE, _admit
from tests.browser.test_web_group_moves import PEERS
from tests.deploy.browsers import Person, answer_safe, chromium, on_node, sign_in
from tests.deploy.conftest import AGREEMENT, PASSWORD, Group, Seeded
from tests.deploy.test_cluster_takeover import _home, _limits, _live_rooms, _restore, stop_home
from tests.helpers.cluster import Cluster

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

#: Video frames decoded on the page's open peer connections (``PEERS`` keeps them in ``window.__pcs``),
#: but those a test marked old (``window.__old``): after a mark, frames on new connections only.
FRESH_FRAMES = """async () => {
    let frames = 0;
    for (const pc of window.__pcs || []) {
        if (pc.connectionState === 'closed' || (window.__old && window.__old.has(pc))) continue;
        (await pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        });
    }
    return frames;
}"""
#: From now on: the peer connections so far are old; every place the status line shows, and whether the
#: safe-space form, the agreement, the device test or (on the console) anyone in the lobby appeared. A
#: reload would lose all of it (window.__seen undefined).
WATCH = """() => {
    window.__old = new WeakSet(window.__pcs);
    const seen = window.__seen = {places: [], safe: false, agreement: false, device: false, lobby: false};
    const look = () => {
        const status = document.querySelector('#live-status');
        const place = status ? status.dataset.place : null;
        if (place && seen.places[seen.places.length - 1] !== place) seen.places.push(place);
        seen.safe = seen.safe || !!document.querySelector('#safe-form');
        seen.agreement = seen.agreement || !!document.querySelector('#live-agreement-text');
        seen.device = seen.device || !!document.querySelector('#device-start');
        seen.lobby = seen.lobby || !!document.querySelector('#live-lobby > li');
    };
    new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                       attributes: true, attributeFilter: ['data-place']});
    look();
}"""
SEEN = "() => window.__seen || null"
REGISTER = """async (id) => {
    const r = await fetch(`/api/group-sessions/${id}/register`, {headers: {Accept: 'application/json'},
                                                                 cache: 'no-store'});
    return [r.status, await r.json()];
}"""
PARTICIPANT_NAME = "Cluster_Participant"  # the seeded client's display name (conftest.py: username.title())


def _into_session(facilitator: Person, participant: Person, group: Group) -> None:
    """The facilitator starts the session from their groups page; the participant joins from their
    appointments and waits; the facilitator admits them; both decode the other's video in a tile."""
    for person in (facilitator, participant):
        person.page.context.add_init_script(PEERS)
    sign_in(facilitator, group.facilitator, PASSWORD, totp_code=totp.code_at(group.totp_secret, time.time()))
    desk = facilitator.page
    desk.locator(f'#groups > li[data-id="{group.group}"] [data-open-group]').click()
    desk.locator(f'[data-start-session="{group.session}"]').click()
    answer_safe(desk)
    expect(desk.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)

    sign_in(participant, group.participant, PASSWORD)
    phone = participant.page
    phone.locator(f'[data-join-group="{group.session}"]').click()
    phone.locator("#device-start").click()  # the device test's echo peer runs on the node
    phone.locator("#device-continue-video").click(timeout=45_000)
    answer_safe(phone)  # the group's safe-space questions
    expect(phone.locator("#live-agreement-text")).to_have_text(AGREEMENT)
    phone.locator("#live-agreement-accept").click()
    expect(phone.locator("#live-status")).to_have_attribute("data-place", "waiting", timeout=30_000)
    _admit(facilitator, PARTICIPANT_NAME)  # a Person has the page it uses
    expect(phone.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)
    for person in (facilitator, participant):
        person.page.wait_for_function(ALL_TILES_DECODE, arg=1, timeout=60_000)
        assert int(person.page.evaluate(FRESH_FRAMES)) > 0


def _both_back(people: dict[str, Person], since: float, bound_s: float) -> dict[str, float]:
    """Seconds from ``since`` until each page decoded a video frame on a new peer connection."""
    back: dict[str, float] = {}
    while len(back) < len(people):
        for who, person in people.items():
            if who not in back and int(person.page.evaluate(FRESH_FRAMES)) > 0:
                back[who] = time.monotonic() - since
        if time.monotonic() - since > bound_s:
            seen = {who: p.page.evaluate(SEEN) for who, p in people.items()}
            raise AssertionError(f"not both back in the session within {bound_s:.0f} s: back {back}; pages {seen}")
        people["facilitator"].page.wait_for_timeout(200)
    for person in people.values():  # and the tile shows it
        person.page.wait_for_function(ALL_TILES_DECODE, arg=1, timeout=15_000)
    return back


def _came_back_by_themselves(people: dict[str, Person]) -> None:
    for who, person in people.items():
        seen = person.page.evaluate(SEEN)
        assert seen is not None, f"the {who}'s page was reloaded"
        assert "reconnecting" in seen["places"], f"the {who}'s page never said it was reconnecting: {seen}"
        assert seen["places"][-1] == "present", f"the {who} is not in the session: {seen}"
        assert set(seen["places"]) <= {"present", "reconnecting", "connecting"}, f"the {who} was {seen}"
        assert not (seen["safe"] or seen["agreement"] or seen["device"]), f"the {who} was asked again: {seen}"
    assert not people["facilitator"].page.evaluate(SEEN)["lobby"], "the participant was in the lobby again"


def _interrupted_not_absent(facilitator: Person, group: Group) -> dict[str, object]:
    """The register as the facilitator reads it: the participant's line says the session was interrupted
    and resumed, suggests no absence nor technical failure, and counts no drop."""
    status, register = facilitator.page.evaluate(REGISTER, group.session)
    assert status == 200, register
    line = next(x for x in register["lines"] if x["display_name"] == PARTICIPANT_NAME)
    assert "The session was interrupted when its server changed over, and resumed" in line["reasons"], line
    assert line["suggestion"] in ("attended", "partly") and line["drops"] == 0, line
    return dict(line)


def _hop(cluster: Cluster, people: dict[str, Person], group: Group, sig: int) -> tuple[int, float, dict[str, float]]:
    return stop_home(cluster, people, group.session, sig, watch=WATCH, both_back=_both_back,
                     by_themselves=_came_back_by_themselves)


@pytest.mark.timeout(420)
def test_a_group_session_survives_kill_9_of_its_home_and_a_drain(cluster: Cluster, seeded: Seeded) -> None:
    lease, grace, drain = _limits(cluster)
    group = seeded.group
    stopped: list[int] = []
    with chromium() as browser:
        people = {"facilitator": on_node(browser, cluster, 0, desktop=True),
                  "participant": on_node(browser, cluster, 1)}
        _into_session(people["facilitator"], people["participant"], group)
        try:
            stopped.append(_home(cluster, group.session)[0])
            killed, _exited, back = _hop(cluster, people, group, signal.SIGKILL)
            print(f"\nkill -9 of the session's home node {cluster.node_ports[killed]}: facilitator back in "
                  f"{back['facilitator']:.1f} s, participant {back['participant']:.1f} s (decoding fresh video; "
                  f"bound lease {lease:.0f} s + grace {grace:.0f} s)")
            line = _interrupted_not_absent(people["facilitator"], group)
            print(f"register after the kill: {line['suggestion']}, {line['reasons']}")
            _restore(cluster, killed)

            # A deploy of the new home: SIGTERM (it drains, the session is handed over), then its unit again.
            stopped.append(_home(cluster, group.session)[0])
            drained, exited_s, back = _hop(cluster, people, group, signal.SIGTERM)
            assert exited_s <= drain + 10, f"node {drained} took {exited_s:.1f} s to drain and exit"
            ready, reached = _restore(cluster, drained)
            print(f"\nSIGTERM of the session's home node {cluster.node_ports[drained]}: drained and exited in "
                  f"{exited_s:.1f} s; facilitator back in {back['facilitator']:.1f} s, participant "
                  f"{back['participant']:.1f} s; node ready again after {ready:.1f} s, through nginx after "
                  f"{reached:.1f} s")
            # Its start changed nothing for the session: it never ended, both still in it, decoding.
            for who, person in people.items():
                seen = person.page.evaluate(SEEN)
                assert seen["places"][-1] == "present", f"the {who}: {seen}"
                person.page.wait_for_function(ALL_TILES_DECODE, arg=1, timeout=15_000)
            assert group.session in _live_rooms(cluster)
            _interrupted_not_absent(people["facilitator"], group)
        finally:
            for node in stopped:
                _restore(cluster, node)
