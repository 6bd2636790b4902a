"""A check-in survives its home node's death and a deploy, on the stack exactly as ``deploy/`` ships it
(issue 15, items 2 and 3): two Chromium pages through nginx over HTTPS and WSS, the officer pinned to
node 0 and the client to node 1 (``on_node``; a pinned port follows nginx to the other node while its
own is down), in a live video check-in. The room's home is found from the outside (its ``room_homes``
row and each node's ``tandem_rooms_homed``), then

- ``kill -9`` of the home node's processes: both pages say they are reconnecting and come back into
  the call by themselves (same document, no second admission, no safe-space questions), decoding
  fresh video from each other on new peer connections, through the surviving node, within the lease
  and the grace period; the evidence says interrupted and the suggestion stays attended;
- a rolling restart as a deploy does it (``systemctl restart tandem@A``, then ``@B``: SIGTERM, the
  node drains and exits, then the unit's commands start it again): each hop both come back, the call
  never ends.

The killed or restarted node is started again with the unit's commands whatever happens, and the
test waits until its pinned port reaches it again: the package's cluster is left with two nodes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Callable

import asyncpg
import pytest

from server.settings import Settings
from tests.browser.support import CLIENT_WEB
from tests.deploy.browsers import FRAMES_DECODED, ICE_STATE, Person, chromium, into_call, on_node
from tests.deploy.conftest import Call, Seeded
from tests.helpers import db
from tests.helpers.cluster import PG_PORT, Cluster, insecure_tls

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

EN = json.loads((CLIENT_WEB / "i18n" / "en.json").read_text(encoding="utf-8"))
SETTLE_S = 75.0  # rooms of earlier tests leaving the cluster (a grace period) on a loaded machine

#: From now on: which peer connections are old (FRAMES_DECODED counts new ones only), what the page
#: shows (every text of the call's status line, whether the safe-space form, an "admit" button or the
#: end of the check-in appeared). A reload would lose all of it (window.__seen undefined).
WATCH = """() => {
    window.__old = new WeakSet([...window.__tandemCall.peers.values()].map((e) => e.pc));
    const seen = window.__seen = {statuses: [], safe: false, admit: false, ended: false};
    const look = () => {
        const status = document.querySelector('#call-status');
        const text = status ? status.textContent : null;
        if (text !== null && seen.statuses[seen.statuses.length - 1] !== text) seen.statuses.push(text);
        seen.safe = seen.safe || !!document.querySelector('#safe-form');
        seen.admit = seen.admit || !!document.querySelector('#call-lobby .admit');
        seen.ended = seen.ended || !!document.querySelector('#checkin-ended');
    };
    new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
    look();
}"""
SEEN = "() => window.__seen || null"
CHECKIN = """async (id) => {
    const r = await fetch(`/api/checkins/${id}`, {headers: {Accept: 'application/json'}, cache: 'no-store'});
    return [r.status, await r.json()];
}"""


def _limits(cluster: Cluster) -> tuple[float, float, float]:
    """(lease, grace, drain timeout) as the nodes run them: the unit's environment, else the defaults."""
    _unit, env = cluster.node_env(cluster.node_ports[0])

    def value(name: str, default: float) -> float:
        return float(env.get(name) or default)
    return (value("TANDEM_ROOM_LEASE_S", Settings.room_lease_s),
            value("TANDEM_CHECKIN_GRACE_S", Settings.checkin_grace_s),
            value("TANDEM_DRAIN_TIMEOUT_S", Settings.drain_timeout_s))


def _metric(cluster: Cluster, node: int, name: str) -> float:
    with urllib.request.urlopen(f"{cluster.node_url(node)}/metrics", timeout=10) as resp:  # loopback only
        for line in resp.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(f"node {node} has no metric {name}")


def _live_rooms(cluster: Cluster) -> dict[str, str]:
    """Rooms whose lease is live, as the database judges it: room id -> home node id."""
    async def read() -> dict[str, str]:
        conn = await asyncpg.connect(host=cluster.address, port=PG_PORT, user="postgres", database="tandem")
        try:
            rows = await conn.fetch(
                "SELECT room_id, home_node FROM room_homes WHERE lease_until > statement_timestamp()")
            return {r["room_id"]: r["home_node"] for r in rows}
        finally:
            await conn.close()
    return db._in_thread(lambda: asyncio.run(read()))


def _home(cluster: Cluster, room: str) -> tuple[int, str]:
    """Which node (index, node id) is ``room``'s home: once it is the only live room of the cluster (an
    earlier test's room ends a grace period after its browsers closed), the running node that counts one."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        rooms = _live_rooms(cluster)
        up = cluster.alive()
        homed = [_metric(cluster, i, "tandem_rooms_homed") if up[f"tandem@{port}"] else 0.0
                 for i, port in enumerate(cluster.node_ports)]
        if list(rooms) == [room] and sorted(homed) == [0.0] * (len(homed) - 1) + [1.0]:
            return homed.index(1.0), rooms[room]
        assert time.monotonic() < deadline, f"no single home for {room}: rooms {rooms}, homed per node {homed}"
        time.sleep(0.5)


def _answered_by(url: str) -> str:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5, context=insecure_tls()) as resp:  # loopback only
            return str(resp.headers.get("X-Tandem-Node", ""))
    except OSError:
        return ""


def _restore(cluster: Cluster, node: int) -> tuple[float, float]:
    """Node ``node`` running again (the unit's commands) and its pinned port reaching it, not a backup:
    (seconds until the node was ready, until nginx reached it)."""
    began = time.monotonic()
    if not cluster.alive()[f"tandem@{cluster.node_ports[node]}"]:
        cluster.start_node(node)
    ready = time.monotonic() - began
    deadline = time.monotonic() + 45  # nginx tries a failed server again after fail_timeout (10 s)
    while not all(_answered_by(cluster.pinned_url(node)) == cluster.node_id(node) for _ in range(3)):
        assert time.monotonic() < deadline, f"nginx does not reach node {node} again through its pinned port"
        time.sleep(0.5)
    return ready, time.monotonic() - began


def _both_back(people: dict[str, Person], since: float, bound_s: float) -> dict[str, float]:
    """Seconds from ``since`` until each page decoded a video frame on a new peer connection."""
    back: dict[str, float] = {}
    while len(back) < len(people):
        for who, person in people.items():
            if who not in back and int(person.page.evaluate(FRAMES_DECODED)) > 0:
                back[who] = time.monotonic() - since
        if time.monotonic() - since > bound_s:
            states = {who: (p.page.evaluate(SEEN), p.page.evaluate(ICE_STATE), p.trace(since - 5))
                      for who, p in people.items()}
            raise AssertionError(f"not both back in the call within {bound_s:.0f} s: back {back}; pages {states}")
        people["officer"].page.wait_for_timeout(200)
    return back


def _came_back_by_themselves(people: dict[str, Person]) -> None:
    reconnecting = EN["live.reconnecting"]
    for who, person in people.items():
        seen = person.page.evaluate(SEEN)
        assert seen is not None, f"the {who}'s page was reloaded"
        assert reconnecting in seen["statuses"], f"the {who}'s page never said it was reconnecting: {seen}"
        assert not (seen["safe"] or seen["ended"]), f"the {who} was asked again or the call ended: {seen}"
        assert EN["checkin.waiting"] not in seen["statuses"], f"the {who} waited to be admitted again: {seen}"
    assert not people["officer"].page.evaluate(SEEN)["admit"], "the officer was asked to admit the client again"


def _interrupted_and_attended(officer: Person, call: Call) -> None:
    status, checkin = officer.page.evaluate(CHECKIN, call.checkin)
    assert status == 200, checkin
    evidence, suggestion = checkin["evidence"], checkin["suggestion"]
    assert (evidence["interrupted"], evidence["dropped"]) == (True, False), evidence
    assert suggestion["outcome"] == "attended", suggestion
    assert "The call was interrupted when its server changed over, and resumed" in suggestion["reasons"], suggestion


def _end_and_read_outcome(officer: Person, client: Person) -> None:
    """The officer ends the call: the outcome screen says interrupted, attended suggested (never missed)."""
    officer.page.locator("#call-leave").click()
    client.page.locator("#checkin-ended").wait_for(timeout=15_000)
    form = officer.page.locator("#call-outcome-form")
    form.wait_for(timeout=15_000)
    assert officer.page.locator("#outcome-dropped").inner_text() == EN["outcome.interrupted"]
    assert form.locator("input[name=call-outcome]:checked").get_attribute("value") == "attended"
    assert EN["outcome.why.interrupted"] in officer.page.locator("#call-outcome-why").inner_text()


def stop_home(cluster: Cluster, people: dict[str, Person], room: str, sig: int, *, watch: str,
              both_back: Callable[[dict[str, Person], float, float], dict[str, float]],
              by_themselves: Callable[[dict[str, Person]], None]) -> tuple[int, float, dict[str, float]]:
    """Stop ``room``'s home with ``sig`` (a check-in's or a group session's: the pages' ``watch``
    script and how they are seen back are the caller's): (the node, how long it took to exit, when
    each page was back). The surviving node has taken the room over."""
    lease, grace, drain = _limits(cluster)
    home, home_id = _home(cluster, room)
    other = 1 - home
    taken = _metric(cluster, other, "tandem_rooms_taken_over_total")
    for person in people.values():
        person.page.evaluate(watch)
    began = time.monotonic()
    exited_s = cluster.stop_node(home, sig, timeout_s=drain + 30)
    code = cluster.proc(f"tandem@{cluster.node_ports[home]}").popen.returncode
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 0), f"node {home} exit status {code}"
    back = both_back(people, began, lease + grace)
    by_themselves(people)
    # Through the surviving node: the room is homed there now, taken over from the stopped one.
    assert _home(cluster, room)[0] == other
    assert _live_rooms(cluster)[room] != home_id
    assert _metric(cluster, other, "tandem_rooms_taken_over_total") == taken + 1
    return home, exited_s, back


def _hop(cluster: Cluster, people: dict[str, Person], call: Call, sig: int) -> tuple[int, float, dict[str, float]]:
    return stop_home(cluster, people, call.checkin, sig, watch=WATCH, both_back=_both_back,
                     by_themselves=_came_back_by_themselves)


def test_a_checkin_survives_kill_9_of_its_home_node(cluster: Cluster, seeded: Seeded) -> None:
    lease, grace, _drain = _limits(cluster)
    call = seeded.calls["kill"]
    killed: int | None = None
    with chromium() as browser:
        people = {"officer": on_node(browser, cluster, 0, desktop=True), "client": on_node(browser, cluster, 1)}
        into_call(cluster, people["officer"], people["client"], call)
        try:
            killed = _home(cluster, call.checkin)[0]
            _node, _exited, back = _hop(cluster, people, call, signal.SIGKILL)
            print(f"\nkill -9 of the home node {cluster.node_ports[killed]}: officer back in "
                  f"{back['officer']:.1f} s, client {back['client']:.1f} s (decoding fresh video; "
                  f"bound lease {lease:.0f} s + grace {grace:.0f} s)")
            _interrupted_and_attended(people["officer"], call)
            _end_and_read_outcome(people["officer"], people["client"])
        finally:
            if killed is not None:
                _restore(cluster, killed)


def test_a_checkin_survives_a_rolling_restart(cluster: Cluster, seeded: Seeded) -> None:
    """``systemctl restart tandem@<home>``, then the other node, as a deploy does: each node drains on
    SIGTERM and exits cleanly, the call hops to the other node and back, and never ends."""
    _lease, _grace, drain = _limits(cluster)
    call = seeded.calls["drain"]
    stopped: list[int] = []
    with chromium() as browser:
        people = {"officer": on_node(browser, cluster, 0, desktop=True), "client": on_node(browser, cluster, 1)}
        into_call(cluster, people["officer"], people["client"], call)
        try:
            for _ in cluster.node_ports:
                home = _home(cluster, call.checkin)[0]
                stopped.append(home)
                node, exited_s, back = _hop(cluster, people, call, signal.SIGTERM)
                assert exited_s <= drain + 10, f"node {node} took {exited_s:.1f} s to drain and exit"
                ready, reached = _restore(cluster, node)  # ExecStartPre, ExecStart: `systemctl restart` goes on
                print(f"\nrestart of the home node {cluster.node_ports[node]}: drained and exited in "
                      f"{exited_s:.1f} s; officer back in {back['officer']:.1f} s, client {back['client']:.1f} s; "
                      f"node ready again after {ready:.1f} s, through nginx after {reached:.1f} s")
            assert sorted(stopped) == list(range(len(cluster.node_ports))), stopped  # every node restarted once
            _interrupted_and_attended(people["officer"], call)
            _end_and_read_outcome(people["officer"], people["client"])
        finally:
            for node in stopped:
                _restore(cluster, node)
