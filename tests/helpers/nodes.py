"""Several real ``tandem serve`` processes on one PostgreSQL database and one Redis.

For multi-node tests: each node is its own process (its own event loop, its own
RedisBus), exactly as deployed behind nginx. The Redis here is a *private*
``redis-server`` on a free port, started and stopped by the test, so a test that
kills Redis never disturbs the shared one on 6379 (other tests, other engineers).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from server.settings import REPO_ROOT

HOST = "127.0.0.1"
# Settings a developer's shell may carry that would change what the nodes run on.
_SCRUBBED_PREFIXES = ("TANDEM_",)
_SCRUBBED = ("DATABASE_URL", "REDIS_URL")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_redis_server() -> str:
    """The ``redis-server`` binary (a private instance is started from it). Missing: skip loudly, fail in CI."""
    path = shutil.which("redis-server")
    if path is not None and shutil.which("redis-cli") is not None:
        return path
    reason = "redis-server/redis-cli are not installed (apt-get install redis-server)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}; service tests may not be skipped in CI")
    pytest.skip(f"!!! SKIPPED: {reason}")


class RedisServer:
    """A private, non-persistent ``redis-server`` that a test may stop and start at will."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_redis_server()
        self.port = free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert self.proc is None, "already running"
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: "
                                   f"{(self.workdir / 'redis.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not open its port")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop it the way an operator would (SHUTDOWN NOSAVE); our own pid only as a fallback."""
        if self.proc is None:
            return
        subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.port), "shutdown", "nosave"],
                       capture_output=True, timeout=10, check=False)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
        self.restarts += 1


@dataclass
class Node:
    """One ``tandem serve`` subprocess."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def ready(self) -> dict[str, Any] | None:
        """The /readyz body when it answers 200, else None."""
        import json

        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:  # 127.0.0.1 only
                return dict(json.loads(resp.read())) if resp.status == 200 else None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ready() is None:
            if not self.alive():
                raise RuntimeError(f"node {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


def node_env(*, database_url: str, redis_url: str, kek: bytes, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env.update({
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TANDEM_KEK": base64.b64encode(kek).decode(),
        "TANDEM_REQUIRE_STAFF_MFA": "false",
        "TANDEM_COOKIE_SECURE": "false",
    })
    env.update(extra or {})
    return env


def start_node(name: str, workdir: Path, env: dict[str, str]) -> Node:
    """Start ``tandem serve`` on a free port (not waiting for it: see ``Node.wait_ready``)."""
    data_dir = workdir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--data-dir", str(data_dir), "--host", HOST,
         "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    return Node(name=name, proc=proc, url=f"http://{HOST}:{port}", log_path=log_path, _log=log)
