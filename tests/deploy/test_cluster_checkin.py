"""A whole video check-in through the shipped stack, across nodes: two Chromium pages through nginx over
HTTPS and WSS, the officer pinned to node 0 and the client to node 1 (``on_node``), the officer's media
forced through the shipped coturn (the safe_space policy's ``force_relay_for_staff``, set as an admin
would), both pages decoding the other's video. The room lives on one node (its home,
server/signalling/homes.py) and the other node's participant reaches it through the room router
(docs/cluster.md); the test shows from the server side (``X-Tandem-Node`` of every API response) that
each person was served by their own node only.
"""

from __future__ import annotations

import pytest

from tests.deploy.browsers import chromium, into_call, on_node
from tests.deploy.conftest import Seeded
from tests.helpers.cluster import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

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


def test_a_cross_node_checkin_through_nginx_with_the_officer_relayed(cluster: Cluster, seeded: Seeded) -> None:
    with chromium() as browser:
        officer = on_node(browser, cluster, 0, desktop=True)
        client = on_node(browser, cluster, 1)
        into_call(cluster, officer, client, seeded.calls["checkin"])
        types = officer.page.evaluate(LOCAL_CANDIDATE_TYPES)
        assert types and set(types) == {"relay"}, types
        # Served by two different nodes: every API answer to the officer from node 0, to the client from node 1.
        assert set(officer.answered) == {cluster.node_id(0)}, officer.answered
        assert set(client.answered) == {cluster.node_id(1)}, client.answered
        assert cluster.node_id(0) != cluster.node_id(1)
