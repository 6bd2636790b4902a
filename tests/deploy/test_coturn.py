"""coturn as shipped (deploy/coturn/turnserver.conf) relays nowhere it must not (issue 15, item 5).

Debian's real coturn runs inside a network namespace this module makes (tests/helpers/netns.py),
from the shipped file; the command line sets only what the operator sets: the listening and relay
addresses, the shared secret, the deny line for this host's own address (OPERATOR in the file),
and where the pid file and the log go. Every address below is on the namespace's own loopback,
so no packet leaves it: the denied ranges' samples too, each with a UDP listener where Linux
lets the address be assigned, so a datagram coturn relayed there would be caught.

Addresses: 11.11.0.1 is coturn's listening address (this host's, denied by the operator's line),
11.11.0.2 and 2a0b:11::2 its relay addresses, 11.11.0.20 and 2a0b:11::20 allowed peers (the control that shows
a listener does catch what is relayed), 11.11.0.21 the IPv4 that the mapped and NAT64 samples
embed. They stand for public addresses; the namespace has no route anywhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.settings import REPO_ROOT
from server.signalling.turn import credential, username_for
from tests.helpers import stun
from tests.helpers.netns import NetNs, unavailable

CONF = REPO_ROOT / "deploy" / "coturn" / "turnserver.conf"
SECRET = "test-secret-" + os.urandom(8).hex()
LISTEN, RELAY4, RELAY6 = "11.11.0.1", "11.11.0.2", "2a0b:11::2"
ALLOWED, ALLOWED6, EMBEDDED = "11.11.0.20", "2a0b:11::20", "11.11.0.21"
PEER_PORT = 9999

# One sample (or more) from every range the shipped file denies, named by its registry entry.
DENIED_V4 = {
    "this network 0/8": "0.0.0.1", "private 10/8": "10.0.0.1", "shared address space 100.64/10": "100.64.0.1",
    "loopback 127/8": "127.0.0.1", "loopback 127.255.255.254": "127.255.255.254",
    "link-local, cloud metadata": "169.254.169.254", "private 172.16/12": "172.31.255.1",
    "IETF protocol assignments 192.0.0/24": "192.0.0.1", "TURN anycast 192.0.0.10": "192.0.0.10",
    "NAT64/DNS64 discovery 192.0.0.170/31": "192.0.0.171",
    "documentation TEST-NET-1": "192.0.2.1", "AS112-v4": "192.31.196.1", "AMT": "192.52.193.1",
    "6to4 relay anycast": "192.88.99.1", "private 192.168/16": "192.168.1.1",
    "direct delegation AS112": "192.175.48.1", "benchmarking 198.18/15": "198.19.255.1",
    "documentation TEST-NET-2": "198.51.100.1", "documentation TEST-NET-3": "203.0.113.1",
    "multicast 224/4": "224.0.0.1", "multicast SSDP": "239.255.255.250", "reserved 240/4": "240.0.0.1",
    "limited broadcast": "255.255.255.255", "this host's listening address (OPERATOR line)": LISTEN,
}
DENIED_V6 = {
    "unspecified": "::", "loopback ::1": "::1", "IPv4-mapped": f"::ffff:{EMBEDDED}",
    "IPv4-compatible (deprecated)": f"::{EMBEDDED}", "NAT64 64:ff9b::/96": "64:ff9b::b0b:15",
    "local-use NAT64 64:ff9b:1::/48": "64:ff9b:1::1", "discard-only 100::/64": "100::1",
    "dummy IPv6 prefix 100:0:0:1::/64": "100:0:0:1::1", "TURN anycast 2001:1::2": "2001:1::2",
    "ORCHID (deprecated) 2001:10::/28": "2001:10::1",
    "Teredo 2001::/32": "2001::1", "benchmarking 2001:2::/48": "2001:2::1", "AMT 2001:3::/32": "2001:3::1",
    "AS112-v6 2001:4:112::/48": "2001:4:112::1", "ORCHIDv2 2001:20::/28": "2001:20::1",
    "DRIP 2001:30::/28": "2001:30::1", "documentation 2001:db8::/32": "2001:db8::1",
    "6to4 2002::/16": "2002:b0b:15::1", "direct delegation AS112 2620:4f:8000::/48": "2620:4f:8000::1",
    "documentation 3fff::/20": "3fff::1", "SRv6 SIDs 5f00::/16": "5f00::1",
    "unique-local fc00::/7": "fc00::1", "unique-local fd00::/8": "fd12:3456::1",
    "link-local fe80::/10": "fe80::1", "multicast ff00::/8": "ff02::1", "global multicast": "ff0e::1",
}


class Coturn:
    def __init__(self, ns: NetNs, log: Path) -> None:
        self.ns, self.log = ns, log
        self.sockets: list[socket.socket] = []

    def udp(self, family: int) -> socket.socket:
        sock = self.ns.socket(family, socket.SOCK_DGRAM)
        self.sockets.append(sock)
        return sock

    def close_sockets(self) -> None:
        while self.sockets:
            self.sockets.pop().close()

    def client(self) -> stun.TurnClient:
        user = "officer-" + os.urandom(4).hex()
        name = username_for(user, datetime.now(UTC) + timedelta(minutes=10))
        return self.client_as(name, credential(SECRET, name))

    def client_as(self, username: str, password: str) -> stun.TurnClient:
        sock = self.udp(socket.AF_INET)
        return stun.TurnClient(sock, (LISTEN, 3478), username, password)

    def listener(self, address: str) -> socket.socket:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = self.udp(family)
        sock.bind((address, PEER_PORT))
        sock.setblocking(False)
        return sock


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    if shutil.which("turnserver") is None:
        unavailable("coturn is not installed (run `make coturn`)")
    ns = NetNs(f"tandem-turn-{os.getpid()}")
    try:
        for address in (LISTEN, RELAY4, RELAY6, ALLOWED, ALLOWED6, EMBEDDED):
            assert ns.add_address(address), address
        tmp = tmp_path_factory.mktemp("coturn")
        log = tmp / "turnserver.log"
        process = ns.popen(["turnserver", "-c", str(CONF), f"--listening-ip={LISTEN}",
                            f"--relay-ip={RELAY4}", f"--relay-ip={RELAY6}",
                            f"--static-auth-secret={SECRET}", f"--denied-peer-ip={LISTEN}",
                            f"--pidfile={tmp / 'turnserver.pid'}", "--log-file=stdout", "--simple-log"], log)
        try:
            server = Coturn(ns, log)
            _wait_ready(server, process)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        ns.delete()


def _wait_ready(server: Coturn, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        probe = server.client()
        probe.sock.settimeout(0.3)
        try:
            answer = probe.allocate()
        except TimeoutError:
            continue
        finally:
            server.close_sockets()
        assert answer.cls == stun.SUCCESS, answer
        return
    raise AssertionError(f"coturn did not answer (exit code {process.poll()}):\n{server.log.read_text()[-3000:]}")


@pytest.fixture
def turn(coturn: Coturn) -> Iterator[Coturn]:
    """The module's coturn; the sockets a test made are closed after it."""
    yield coturn
    coturn.close_sockets()


def _arrived(listeners: dict[str, socket.socket]) -> dict[str, bytes]:
    arrived = {}
    for name, sock in listeners.items():
        with contextlib.suppress(BlockingIOError):
            arrived[name] = sock.recv(2048)
    return arrived


# Samples with no listener of their own: Linux assigns no multicast, broadcast, unspecified or
# scoped (fe80::) address; the IPv4-mapped sample is caught by the listener on EMBEDDED.
UNLISTENED = {"224.0.0.1", "239.255.255.250", "255.255.255.255", "::", "fe80::1", "ff02::1", "ff0e::1",
              f"::ffff:{EMBEDDED}"}


def _listen(turn: Coturn, address: str) -> socket.socket | None:
    if address in UNLISTENED:
        return None
    turn.ns.add_address(address)  # False when it is there already (127.0.0.1, LISTEN)
    return turn.listener(address)


@pytest.mark.parametrize(("family", "samples"), [(4, DENIED_V4), (6, DENIED_V6)], ids=["ipv4", "ipv6"])
def test_every_special_purpose_range_is_refused_and_nothing_reaches_it(
        turn: Coturn, family: int, samples: dict[str, str]) -> None:
    client = turn.client()
    assert client.allocate(family).cls == stun.SUCCESS
    listeners = {name: sock for name, address in samples.items() if (sock := _listen(turn, address))}
    if family == 6:
        listeners["IPv4 embedded in the mapped sample"] = turn.listener(EMBEDDED)
    refused, bound = {}, {}
    for number, (name, address) in enumerate(samples.items()):
        refused[name] = client.create_permission(address).error_code
        bound[name] = client.channel_bind(address, PEER_PORT, 0x4000 + number).error_code
        client.send(address, PEER_PORT, b"must not arrive: " + name.encode())
    assert refused == dict.fromkeys(samples, 403)  # Forbidden
    assert bound == dict.fromkeys(samples, 403)
    # The control: the same client, an allowed peer, the same way; its datagram arrives, so the
    # listeners above would have caught theirs (sent earlier, on the same path).
    peer = ALLOWED if family == 4 else ALLOWED6
    control = turn.listener(peer)
    assert client.create_permission(peer).cls == stun.SUCCESS
    client.send(peer, PEER_PORT, b"allowed")
    control.settimeout(3)
    assert control.recv(2048) == b"allowed"
    time.sleep(0.3)
    assert _arrived(listeners) == {}


def test_no_relay_to_tcp_peers(turn: Coturn) -> None:
    """RFC 6062: a TCP allocation is asked for on a TCP connection to coturn; it is refused."""
    sock = turn.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    turn.sockets.append(sock)
    sock.settimeout(3)
    sock.connect((LISTEN, 3478))
    name = username_for("officer-tcp", datetime.now(UTC) + timedelta(minutes=10))
    answer = stun.TurnClient(sock, (LISTEN, 3478), name, credential(SECRET, name)).allocate(transport=stun.TCP)
    assert answer.error_code == 442, answer  # Unsupported Transport Protocol


def test_an_expired_credential_is_refused(turn: Coturn) -> None:
    name = username_for("officer-expired", datetime.now(UTC) - timedelta(seconds=5))
    answer = turn.client_as(name, credential(SECRET, name)).allocate()
    assert answer.error_code == 401, answer


def test_a_forged_credential_is_refused(turn: Coturn) -> None:
    name = username_for("officer-forged", datetime.now(UTC) + timedelta(minutes=10))
    answer = turn.client_as(name, credential("not-the-secret", name)).allocate()
    assert answer.error_code == 401, answer
    other = username_for("officer-other", datetime.now(UTC) + timedelta(minutes=10))
    answer = turn.client_as(name, credential(SECRET, other)).allocate()
    assert answer.error_code == 401, answer


def _conf_value(key: str) -> int:
    return int(next(line.split("=", 1)[1] for line in CONF.read_text().splitlines() if line.startswith(f"{key}=")))


def test_a_user_holds_at_most_the_user_quota_over_all_their_credentials(turn: Coturn) -> None:
    """coturn counts a REST username's allocations by the user id after the expiry: the credentials
    a user was given for each join share one quota (``user-quota``), the one beyond it answers 486."""
    quota = _conf_value("user-quota")
    soon = datetime.now(UTC) + timedelta(minutes=10)
    names = [username_for("officer-quota", soon + timedelta(seconds=n)) for n in range(2)]  # two joins
    clients = [turn.client_as(names[n % 2], credential(SECRET, names[n % 2])) for n in range(quota + 1)]
    answers = [client.allocate().error_code for client in clients]
    assert answers == [None] * quota + [486]  # Allocation Quota Reached
    assert turn.client().allocate().cls == stun.SUCCESS  # another user is not affected


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
def test_two_clients_relay_to_each_other(turn: Coturn, family: int) -> None:
    officer, client = turn.client(), turn.client()
    assert officer.allocate(family).cls == stun.SUCCESS
    assert client.allocate(family).cls == stun.SUCCESS
    assert officer.relayed and client.relayed
    assert officer.relayed[0] == client.relayed[0] == (RELAY4 if family == 4 else RELAY6)
    assert officer.create_permission(client.relayed[0]).cls == stun.SUCCESS
    assert client.create_permission(officer.relayed[0]).cls == stun.SUCCESS
    for number in range(5):
        officer.send(*client.relayed, b"officer %d" % number)
        assert client.receive() == (officer.relayed, b"officer %d" % number)
        client.send(*officer.relayed, b"client %d" % number)
        assert officer.receive() == (client.relayed, b"client %d" % number)
    # Then as a browser does: a channel each way, media in ChannelData.
    assert officer.channel_bind(*client.relayed, 0x4001).cls == stun.SUCCESS
    assert client.channel_bind(*officer.relayed, 0x4002).cls == stun.SUCCESS
    for number in range(5):
        officer.send_channel(0x4001, b"rtp from the officer %d" % number)
        assert client.receive_channel() == (0x4002, b"rtp from the officer %d" % number)
        client.send_channel(0x4002, b"rtp from the client %d" % number)
        assert officer.receive_channel() == (0x4001, b"rtp from the client %d" % number)


def test_every_ipv6_deny_line_means_to_coturn_what_it_says() -> None:
    """coturn 4.6.1 tests an IPv6 peer against a range byte by byte (each byte between the bounds'
    bytes), and takes a range starting at :: as open below (then every IPv4 peer matches it). A
    range means the same to coturn as to a reader when it does not start at :: and its bounds
    share some leading bytes, then differ in one byte, then are all 00 in the low bound and all
    ff in the high one; an operator's new line is held to that too."""
    ranges = [line.split("=", 1)[1].strip() for line in CONF.read_text().splitlines()
              if line.startswith("denied-peer-ip=") and ":" in line]
    assert len(ranges) >= 20
    for text in ranges:
        low, _, high = text.partition("-")
        first, last = ipaddress.IPv6Address(low).packed, ipaddress.IPv6Address(high or low).packed
        assert any(first), f"{text} starts at ::"
        k = next((i for i in range(16) if first[i] != last[i]), 15)
        assert first[:k] == last[:k] and first[k] <= last[k], text
        assert set(first[k + 1:]) <= {0} and set(last[k + 1:]) <= {0xFF}, f"{text}: coturn reads it otherwise"
