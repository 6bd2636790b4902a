"""Shared helpers for the benches in this folder.

Each bench starts its own Tandem server as a separate process (so the load generator
never shares the server's CPU accounting or event loop), talks to it over 127.0.0.1
only, and prints one JSON object on stdout.

What lives here: a free port, percentiles and summaries, the server subprocess
(temporary data directory, wait for ``/readyz``, terminate), the demo accounts and a
bearer login, and the JSON output convention.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

DEMO_PASSWORD = "tandem-demo"
DEMO_USERS = ("admin", "senior", "officer", "facilitator", "mentor", "client1", "client2", "client3")

# Settings a developer's shell may carry that would change what is measured
# (another database, Redis, non-default limits). The bench server runs on the
# defaults: SQLite in a temporary directory, in-memory bus, production settings
# apart from --demo (demo accounts allowed, staff MFA not required).
_SCRUBBED_ENV_PREFIXES = ("TANDEM_",)
_SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL")


class BenchError(Exception):
    """The bench could not measure: the server did not start or a request failed."""


# -- numbers ---------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p90, p99, max and mean of durations given in seconds, reported in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": rnd(percentile(ms, 50)),
        "p90_ms": rnd(percentile(ms, 90)),
        "p99_ms": rnd(percentile(ms, 99)),
        "max_ms": rnd(max(ms)) if ms else math.nan,
        "mean_ms": rnd(statistics.fmean(ms)) if ms else math.nan,
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def rnd(x: float, digits: int = 3) -> float:
    return round(x, digits) if math.isfinite(x) else x


# -- network ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- the server under test -------------------------------------------------------------


@dataclass
class Server:
    """A running ``tandem serve --demo`` subprocess."""

    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path
    startup_s: float = 0.0
    _log: Any = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server we started (only its own pid), then SIGKILL if it lingers."""
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


def _tandem_command() -> list[str]:
    script = Path(sys.executable).parent / "tandem"
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def _server_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SCRUBBED_ENV_PREFIXES) and k not in _SCRUBBED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:  # 127.0.0.1 only
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def tandem_server(*, env: dict[str, str] | None = None, ready_timeout: float = 60.0) -> Iterator[Server]:
    """Start ``tandem serve --demo`` on a free port with a temporary data directory.

    Waits until ``GET /readyz`` answers 200, yields the :class:`Server`, and always
    terminates it and removes the directory afterwards. Raises :class:`BenchError`
    (with the tail of the server's log) if it exits or is not ready in time. The
    server's output goes to a log file, never a pipe, so it can never block on it.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
    port = free_port()
    url = f"http://{HOST}:{port}"
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    cmd = [*_tandem_command(), "serve", "--demo", "--data-dir", str(data_dir / "data"),
           "--host", HOST, "--port", str(port)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=_server_env(env), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc=proc, url=url, data_dir=data_dir, log_path=log_path, _log=log)
    try:
        while not _ready(url):
            if not server.alive():
                raise BenchError(f"the server exited with status {proc.returncode} before it was ready:\n"
                                 f"{server.log_tail()}")
            if time.monotonic() - start > ready_timeout:
                raise BenchError(f"the server was not ready after {ready_timeout:.0f} s:\n{server.log_tail()}")
            time.sleep(0.1)
        server.startup_s = time.monotonic() - start
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


class ProcessCpu:
    """CPU seconds used by a process (user+system, all threads) between two calls.

    Uses psutil when it is installed (a dev dependency); otherwise reports nothing.
    """

    def __init__(self, pid: int) -> None:
        try:
            import psutil  # optional (a dev dependency)
        except ImportError:
            self._proc = None
        else:
            self._proc = psutil.Process(pid)

    def total(self) -> float | None:
        if self._proc is None:
            return None
        try:
            t = self._proc.cpu_times()
        except Exception:  # the process is gone; the caller reports None
            return None
        return float(t.user + t.system)

    def threads(self) -> int | None:
        if self._proc is None:
            return None
        try:
            return int(self._proc.num_threads())
        except Exception:
            return None


# -- talking to the API ------------------------------------------------------------------


async def login(session: aiohttp.ClientSession, url: str, username: str,
                password: str = DEMO_PASSWORD) -> str:
    """Sign in with a bearer session; the token. Any non-2xx answer raises BenchError."""
    async with session.post(f"{url}/api/session",
                            json={"username": username, "password": password, "kind": "bearer"}) as resp:
        if resp.status // 100 != 2:
            raise BenchError(f"POST /api/session as {username}: HTTP {resp.status}: {(await resp.text())[:200]}")
        body = await resp.json()
    token = body.get("token")
    if not isinstance(token, str):
        raise BenchError(f"POST /api/session as {username}: no bearer token in the answer")
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- output ----------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def emit(result: dict[str, Any], *, one_line: bool = False) -> None:
    """Print one JSON object on stdout (NaN and infinities become null); ``one_line`` for
    benches that print a line per measurement (JSON Lines)."""
    indent = None if one_line else 2
    sys.stdout.write(json.dumps(_finite(result), indent=indent, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "loadavg_1m_at_start": rnd(load[0], 2)}
