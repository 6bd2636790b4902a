"""A whole video check-in through the shipped stack, across nodes: two Chromium pages through nginx over
HTTPS and WSS, the officer pinned to node 0 and the client to node 1 (``on_node``), the officer's media
forced through the shipped coturn (the safe_space policy's ``force_relay_for_staff``, set as an admin
would), both pages decoding the other's video. The room lives on one node (its home,
server/signalling/homes.py) and the other node's participant reaches it through the room router
(docs/cluster.md); the test shows from the server side (``X-Tandem-Node`` of every API response) that
each person was served by their own node only.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from server.identity import totp
from tests.deploy.browsers import chromium, on_node, sign_in
from tests.deploy.conftest import PASSWORD, Seeded
from tests.helpers.cluster import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

FRAMES_DECODED = """async () => {
    const call = window.__tandemCall;
    if (!call) return 0;
    let frames = 0;
    for (const entry of call.peers.values()) {
        (await entry.pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        });
    }
    return frames;
}"""
ICE_STATE = """async () => {
    const out = [];
    for (const entry of window.__tandemCall.peers.values()) {
        const pc = entry.pc, stats = await pc.getStats(), seen = [];
        stats.forEach((s) => {
            if (s.type === 'local-candidate' || s.type === 'remote-candidate')
                seen.push(`${s.type} ${s.candidateType} ${s.address}:${s.port}`);
            if (s.type === 'candidate-pair') seen.push(`pair ${s.state} nominated=${s.nominated}`);
        });
        out.push({ice: pc.iceConnectionState, conn: pc.connectionState, seen,
                  config: JSON.stringify(pc.getConfiguration().iceServers.map((s) => s.urls))});
    }
    return out;
}"""
#: The candidate types of the pair each peer connection of the page sends on ("relay": through TURN).
LOCAL_CANDIDATE_TYPES = """async () => {
    const types = [];
    for (const entry of window.__tandemCall.peers.values()) {
        const stats = await entry.pc.getStats();
        stats.forEach((s) => {
            if (s.type === 'transport' && s.selectedCandidatePairId) {
                const pair = stats.get(s.selectedCandidatePairId);
                types.push(stats.get(pair.localCandidateId).candidateType);
            }
        });
    }
    return types;
}"""


def _answer_safe(page: Any) -> None:
    form = page.locator("#safe-form")
    form.wait_for()
    for fieldset in form.locator("fieldset.question").all():
        fieldset.locator("input[value=yes]").check()
    page.locator("#safe-submit").click()


def _decodes_video(page: Any, within_s: float = 45.0) -> int:
    deadline = time.monotonic() + within_s
    while (frames := int(page.evaluate(FRAMES_DECODED))) == 0:
        assert time.monotonic() < deadline, "no video frame decoded in time"
        page.wait_for_timeout(250)
    return frames


def test_a_cross_node_checkin_through_nginx_with_the_officer_relayed(cluster: Cluster, seeded: Seeded) -> None:
    with chromium() as browser:
        officer = on_node(browser, cluster, 0, desktop=True)
        client = on_node(browser, cluster, 1)
        sign_in(officer, seeded.checkin_officer, PASSWORD,
                totp_code=totp.code_at(seeded.checkin_totp_secret, time.time()))

        phone = client.page
        phone.goto(f"{client.base_url}{seeded.checkin_path}")
        phone.locator("#use-code").click()
        phone.locator("#device-start").click()  # the device test's echo peer runs on the node
        phone.locator("#device-continue-video").click(timeout=45_000)
        _answer_safe(phone)

        desk = officer.page
        desk.locator(f"#open-{seeded.checkin}").click(timeout=30_000)
        _answer_safe(desk)
        desk.locator("#call-lobby .admit").click(timeout=30_000)

        try:
            assert _decodes_video(phone) > 0
            assert _decodes_video(desk) > 0
        except AssertionError as error:
            raise AssertionError(f"{error}\nofficer: {desk.evaluate(ICE_STATE)}\nclient: {phone.evaluate(ICE_STATE)}\n"
                                 f"coturn:\n{cluster.proc('coturn').tail(30)}") from None
        types = desk.evaluate(LOCAL_CANDIDATE_TYPES)
        assert types and set(types) == {"relay"}, types
        # Served by two different nodes: every API answer to the officer from node 0, to the client from node 1.
        assert set(officer.answered) == {cluster.node_id(0)}, officer.answered
        assert set(client.answered) == {cluster.node_id(1)}, client.answered
        assert cluster.node_id(0) != cluster.node_id(1)
