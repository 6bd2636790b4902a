"""The `tandem` command: policy check, migrate, demo, serve."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.settings import REPO_ROOT

TANDEM = [sys.executable, "-m", "server.cli"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TANDEM, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})}, cwd=REPO_ROOT)


def test_policy_check_accepts_the_defaults() -> None:
    proc = run("policy", "check", str(REPO_ROOT / "policies"))
    assert proc.returncode == 0, proc.stderr
    assert "all policies valid" in proc.stdout


def test_policy_check_names_file_key_and_reason(tmp_path: Path) -> None:
    for f in (REPO_ROOT / "policies").glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    text = (tmp_path / "face_to_face_first.toml").read_text()
    (tmp_path / "face_to_face_first.toml").write_text(text.replace("min_meetings = 1", "min_meetings = \"one\""))
    proc = run("policy", "check", str(tmp_path))
    assert proc.returncode == 1
    assert "face_to_face_first.toml" in proc.stderr and "face_to_face_first.min_meetings" in proc.stderr


def test_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    env = {"TANDEM_DATA_DIR": str(tmp_path), "TANDEM_KEK": "", "TANDEM_KEK_FILE": "", "TANDEM_DEMO": ""}
    proc = run("migrate", env=env)
    assert proc.returncode == 2 and "TANDEM_KEK" in proc.stderr


def test_user_create_refuses_a_name_with_bidi_or_control_characters() -> None:
    for name in ("Officer\u202eSmith", "Officer\x1bSmith"):
        proc = run("user", "create", "spoof", "--display-name", name, "--role", "officer")
        assert proc.returncode == 2 and "display name:" in proc.stderr, proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_demo_migrates_loads_demo_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TANDEM_KEK": "", "TANDEM_KEK_FILE": ""}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen([*TANDEM, "serve", "--demo", "--data-dir", str(tmp_path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not become ready: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.3)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/session", method="POST",
                                     data=b'{"username":"client1","password":"tandem-demo"}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        assert (tmp_path / "kek.key").stat().st_mode & 0o777 == 0o600
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "password: tandem-demo" in out
    assert "tandem-demo\"" not in out.replace("password: tandem-demo", "")  # no secrets echoed in logs
