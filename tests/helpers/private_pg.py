"""A private PostgreSQL cluster for one test: ``initdb`` in a temporary directory, ``pg_ctl``
to start, stop and restart it, on a free loopback port. A test may take it down at will (a
restart mid-call) without disturbing the shared server on 5432 that other tests use.

As root, the cluster belongs to the ``postgres`` user (PostgreSQL refuses to run as root), the
way tests/helpers/cluster.py starts the stack's. Missing ``initdb``: skip loudly, fail in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.nodes import HOST, free_port, port_open


def pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def require_initdb() -> Path:
    bindir = pg_bindir()
    if bindir is not None and (bindir / "pg_ctl").exists():
        return bindir
    reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}; service tests may not be skipped in CI")
    pytest.skip(f"!!! SKIPPED: {reason}")


class PrivatePostgres:
    """One cluster, trust authentication for ``postgres`` on 127.0.0.1 only, no fsync (a test's data)."""

    def __init__(self) -> None:
        self.bindir = require_initdb()
        self.user = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp_path: its directories are root's 0700, which ``postgres`` cannot enter.
        self.workdir = Path(tempfile.mkdtemp(prefix="tandem-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "postgres.log"
        self.port = free_port()
        self.restarts = 0
        if self.user:
            shutil.chown(self.workdir, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                  "--locale=C", timeout=120)
        with (self.data / "postgresql.conf").open("a") as out:
            out.write(f"\nlisten_addresses = '{HOST}'\nport = {self.port}\nunix_socket_directories = '{self.data}'\n"
                      "fsync = off\n")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        kw: dict[str, Any] = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        done = subprocess.run([str(self.bindir / tool), *args], capture_output=True, timeout=timeout, check=False,
                              cwd=self.workdir, stdin=subprocess.DEVNULL, **kw)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} exited with {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}"
                               f"\n{self.log_tail()}")
        return done

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> None:
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log), timeout=90)
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not open port {self.port}:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """``fast``: what ``systemctl restart postgresql`` does: open connections are cut."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data), timeout=90)

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
        self.restarts += 1

    def running(self) -> bool:
        kw: dict[str, Any] = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        return subprocess.run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)], capture_output=True,
                              timeout=30, check=False, **kw).returncode == 0

    def createdb(self, name: str) -> str:
        self._run("createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)
