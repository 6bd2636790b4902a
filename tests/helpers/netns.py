"""A network namespace of the test's own, so that traffic never leaves the test.

``NetNs`` makes a namespace with ``ip netns add`` (root, which the test machine is), brings its
loopback up and puts every address the test needs on that loopback: a namespace has no other
interface and no route out, so a packet to any of them stays inside it. ``socket()`` makes a
socket inside the namespace from this process (a thread joins it with setns(2), makes the
socket and ends; the socket stays in the namespace), and ``popen()`` starts a program in it.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

CLONE_NEWNET = 0x40000000


def unavailable(reason: str) -> None:
    """Skip on a laptop that cannot do it; fail in CI, where a skipped service test hides a broken build."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}; service tests may not be skipped in CI")
    pytest.skip(f"!!! SKIPPED: {reason}")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class NetNs:
    def __init__(self, name: str) -> None:
        self.name = name
        if os.geteuid() != 0 or shutil.which("ip") is None:
            unavailable("network namespace tests need root and iproute2 (`ip netns add`)")
        try:
            _ip("netns", "add", name)
        except subprocess.CalledProcessError as error:
            unavailable(f"`ip netns add` failed here: {error.stderr.decode().strip()}")
        _ip("-n", name, "link", "set", "lo", "up")

    def add_address(self, address: str) -> bool:
        """Put ``address`` on the namespace's loopback; False for one Linux will not assign
        (multicast, broadcast, the unspecified address) or that needs a scope (fe80::/10)."""
        ip = ipaddress.ip_address(address)
        scoped = ip.version == 6 and ip.is_link_local
        if ip.is_multicast or ip.is_unspecified or address == "255.255.255.255" or scoped:
            return False
        args = ["-n", self.name, "addr", "add", f"{address}/{ip.max_prefixlen}", "dev", "lo"]
        try:
            _ip(*args, *(["nodad"] if ip.version == 6 else []))
        except subprocess.CalledProcessError:
            return False
        return True

    def socket(self, family: int, kind: int) -> socket.socket:
        made: list[socket.socket | BaseException] = []

        def inside() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                with open(f"/run/netns/{self.name}", "rb") as handle:
                    if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                made.append(socket.socket(family, kind))
            except BaseException as error:  # handed to the caller's thread
                made.append(error)

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        result = made[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(["ip", "netns", "exec", self.name, *args], stdout=out,
                                    stderr=subprocess.STDOUT)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True, timeout=10)
