"""`make cluster`: the stack ``deploy/`` describes, running on this machine, and the fixture of tests/deploy/.

nginx (the shipped site file, a self-signed certificate made at start), one Tandem node per port of the
shipped upstream started with the systemd unit's own commands (ExecStartPre, then ExecStart, with its
Environment= lines and an EnvironmentFile= this harness writes, run as the current user, not through
systemd), PostgreSQL with the shipped settings included, Redis from the shipped redis.conf, coturn from
the shipped turnserver.conf. How the shipped files are adapted is in tests/helpers/cluster_conf.py.

Addresses: everything listens on loopback addresses of the run's own, 127.A.B.1 (nginx, the nodes,
PostgreSQL, Redis), 127.A.B.2 (coturn's listening address) and 127.A.B.3 (coturn's relay address, on
which nothing else listens), with A.B picked at random until every port is free: two runs, the
machine's own PostgreSQL and Redis, and other tests never collide, and nothing listens on another
interface. Ports are the shipped ones (nodes 8081/8082, PostgreSQL 5432, Redis 6379, TURN 3478; HTTPS
443 as root, else 8443), plus one pinned HTTPS port per node (8444, 8445, ...: ``pinned_url(i)``).

``python -m tests.helpers.cluster`` runs it in the foreground until Ctrl-C or SIGTERM (``make
cluster-stop``); ``Cluster`` is the same thing as a context manager. Teardown stops every process this
harness started (by its own Popen) and removes the working directory.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO

from server.settings import REPO_ROOT
from server.signalling.turn import credential, username_for
from tests.helpers import cluster_conf as conf
from tests.helpers import stun

PID_FILE = REPO_ROOT / "var" / "cluster.pid"
PG_PORT, REDIS_PORT, TURN_PORT = 5432, 6379, 3478
START_TIMEOUT_S = 90.0  # generous: the machine is shared and may be loaded


class ClusterError(Exception):
    """Something of the stack did not start; the message carries the end of its log."""


def missing_tools() -> list[str]:
    """The programs the stack needs that this machine lacks (``make cluster`` installs nginx and coturn)."""
    needed = {"nginx": "/usr/sbin/nginx", "turnserver": "turnserver", "redis-server": "redis-server",
              "openssl": "openssl"}
    out = [name for name, path in needed.items() if shutil.which(path) is None]
    if _pg_bindir() is None:
        out.append("postgresql (initdb)")
    return out


def _pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _port_free(address: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Cluster:
    def __init__(self, *, pinned: bool = True) -> None:
        self.pinned = pinned
        self.root = os.geteuid() == 0
        self.https_port = 443 if self.root else 8443
        self.kek = secrets.token_bytes(32)
        self.turn_secret = secrets.token_urlsafe(24)
        self.shipped_nginx = conf.NGINX_CONF.read_text()
        self.node_ports = conf.upstream_ports(self.shipped_nginx)
        self.pinned_ports = tuple(8444 + i for i in range(len(self.node_ports))) if pinned else ()
        self.address = self.turn_address = self.relay_address = ""
        self.workdir = Path()
        self.procs: list[Proc] = []
        self.start_s = 0.0  # how long start() took
        self._logs: list[IO[bytes]] = []

    # -- where things are

    @property
    def base_url(self) -> str:
        return f"https://{self.address}:{self.https_port}"

    def pinned_url(self, node: int) -> str:
        """nginx, the shipped server block, but every request goes to node ``node`` (0-based) while it is
        up; while it is down, to the other nodes (nginx ``backup`` servers), as the shipped upstream would."""
        return f"https://{self.address}:{self.pinned_ports[node]}"

    def node_url(self, node: int) -> str:
        """The node itself, bypassing nginx (as Prometheus scrapes /metrics)."""
        return f"http://{self.address}:{self.node_ports[node]}"

    def node_id(self, node: int) -> str:
        """What the node sends in ``X-Tandem-Node``."""
        return f"{socket.gethostname()}:{self.node_ports[node]}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://postgres@{self.address}:{PG_PORT}/tandem"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.address}:{REDIS_PORT}/0"

    @property
    def env_file(self) -> Path:
        return self.workdir / "etc-tandem-env"

    @property
    def nginx_site(self) -> Path:
        return self.workdir / "nginx" / "tandem.conf"

    @property
    def nginx_main(self) -> Path:
        return self.workdir / "nginx" / "nginx.conf"

    # -- lifecycle

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        began = time.monotonic()
        missing = missing_tools()
        if missing:
            raise ClusterError(f"not installed: {', '.join(missing)} (run `make cluster-tools services coturn`)")
        self._pick_addresses()
        self.workdir = Path(tempfile.mkdtemp(prefix="tandem-cluster-"))
        self.workdir.chmod(0o755)  # PostgreSQL and nginx's workers run as other users when we are root
        self._certificate()
        self._write_env_file()
        self._write_nginx()
        self._postgres()
        self._redis()
        self._coturn()
        self._nodes()
        self._nginx()
        self.start_s = time.monotonic() - began

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(proc.stop_signal)
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(10)
        self.procs.clear()
        while self._logs:
            self._logs.pop().close()
        if self.workdir != Path() and self.workdir.is_dir() and not os.environ.get("TANDEM_CLUSTER_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def alive(self) -> dict[str, bool]:
        return {p.name: p.popen.poll() is None for p in self.procs}

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    # -- the parts

    def _pick_addresses(self) -> None:
        rng = random.SystemRandom()
        for _ in range(50):
            prefix = f"127.{rng.randint(100, 250)}.{rng.randint(1, 250)}"
            main, turn, relay = f"{prefix}.1", f"{prefix}.2", f"{prefix}.3"
            tcp = [*self.node_ports, self.https_port, *self.pinned_ports, PG_PORT, REDIS_PORT]
            if all(_port_free(main, p) for p in tcp) and _port_free(turn, TURN_PORT, socket.SOCK_DGRAM) \
                    and _port_free(turn, TURN_PORT):
                self.address, self.turn_address, self.relay_address = main, turn, relay
                return
        raise ClusterError("no free loopback address found for the cluster")

    def _certificate(self) -> None:
        tls = self.workdir / "tls"
        tls.mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", "/CN=tandem.example.org", "-keyout", str(tls / "privkey.pem"),
             "-out", str(tls / "fullchain.pem"),
             "-addext", f"subjectAltName=DNS:tandem.example.org,IP:{self.address}"],
            check=True, capture_output=True, timeout=30)

    def _write_env_file(self) -> None:
        """What an operator puts in /etc/tandem/env (the unit's EnvironmentFile=)."""
        lines = {
            "DATABASE_URL": f"postgresql://postgres@{self.address}:{PG_PORT}/tandem",
            "REDIS_URL": self.redis_url,
            "TANDEM_KEK": base64.b64encode(self.kek).decode(),
            "TANDEM_HOST": self.address,
            "TANDEM_DATA_DIR": str(self.workdir / "var-lib-tandem"),
            "TANDEM_TURN_URLS": f"turn:{self.turn_address}:{TURN_PORT}?transport=udp",
            "TANDEM_TURN_SECRET": self.turn_secret,
            "TANDEM_MEDIA_HOST_ADDRESSES": self.address,
            "TANDEM_CROSS_OFFICE_ADMINS": "admin",  # the account main() creates; it belongs to no office
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        self.env_file.chmod(0o600)

    def _write_nginx(self) -> None:
        (self.workdir / "nginx" / "temp").mkdir(parents=True)
        plan = conf.NginxPlan(self.address, self.https_port, self.pinned_ports,
                              self.workdir / "tls" / "fullchain.pem", self.workdir / "tls" / "privkey.pem")
        self.nginx_site.write_text(conf.local_nginx(self.shipped_nginx, plan))
        self.nginx_main.write_text(conf.nginx_main(self.nginx_site, self.workdir / "nginx", user=None))

    def nginx_command(self, *args: str) -> list[str]:
        return ["/usr/sbin/nginx", "-p", str(self.workdir / "nginx"), "-e", str(self.workdir / "nginx" / "error.log"),
                "-c", str(self.nginx_main), *args]

    def _spawn(self, name: str, args: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
               stop_signal: int = signal.SIGTERM) -> Proc:
        log_path = self.workdir / f"{name}.log"
        before = [i for i, p in enumerate(self.procs) if p.name == name]  # started again: same place, log appended
        log = log_path.open("ab" if before else "wb")
        self._logs.append(log)
        popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                 cwd=self.workdir, user=user, group=user, extra_groups=[] if user else None,
                                 start_new_session=True)  # Ctrl-C reaches the harness, which stops them in order
        proc = Proc(name, popen, log_path, stop_signal)
        if before:
            self.procs[before[0]] = proc
        else:
            self.procs.append(proc)
        return proc

    def _wait(self, proc: Proc, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if proc.popen.poll() is not None:
                raise ClusterError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{proc.name}: {what} not after {START_TIMEOUT_S:.0f} s:\n{proc.tail()}")
            time.sleep(0.1)

    def _postgres(self) -> None:
        bindir = _pg_bindir()
        assert bindir is not None
        data = self.workdir / "pg"
        data.mkdir()
        user = "postgres" if self.root else None  # PostgreSQL refuses to run as root
        if user:
            shutil.chown(data, user, user)
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                        "-E", "UTF8", "--locale=C"], check=True, capture_output=True, timeout=120,
                       user=user, group=user, extra_groups=[] if user else None, cwd=self.workdir)
        with (data / "postgresql.conf").open("a") as out:
            out.write(f"\n# make cluster: the shipped settings, then this machine's addresses\n"
                      f"include '{conf.PG_CONF}'\nlisten_addresses = '{self.address}'\nport = {PG_PORT}\n"
                      f"unix_socket_directories = '{data}'\n")
        proc = self._spawn("postgresql", [str(bindir / "postgres"), "-D", str(data)], user=user,
                           stop_signal=signal.SIGINT)  # SIGINT: fast shutdown
        isready = [str(bindir / "pg_isready"), "-q", "-h", self.address, "-p", str(PG_PORT)]
        self._wait(proc, lambda: subprocess.run(isready, check=False, timeout=10).returncode == 0, "accepting")
        subprocess.run([str(bindir / "createdb"), "-h", self.address, "-p", str(PG_PORT), "-U", "postgres", "tandem"],
                       check=True, capture_output=True, timeout=60)

    def _redis(self) -> None:
        redis_dir = self.workdir / "redis"
        redis_dir.mkdir()
        # Command-line options after the file override it: only the address, port and directory change.
        proc = self._spawn("redis", ["redis-server", str(conf.REDIS_CONF), "--bind", self.address,
                                     "--port", str(REDIS_PORT), "--dir", str(redis_dir), "--daemonize", "no"])
        self._wait(proc, lambda: not _port_free(self.address, REDIS_PORT), "listening")

    def turn_client(self) -> stun.TurnClient:
        """A TURN client holding a credential the nodes would hand out."""
        name = username_for("cluster-probe", datetime.now(UTC) + timedelta(minutes=10))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.address, 0))
        return stun.TurnClient(sock, (self.turn_address, TURN_PORT), name, credential(self.turn_secret, name))

    def _coturn(self) -> None:
        # The operator's lines of turnserver.conf: addresses, the secret; the relay address stays an
        # allowed peer (relay to relay between two browsers). Here that address is a loopback one, which
        # coturn refuses as a peer before any list unless --allow-loopback-peers; with it, the shipped
        # file's 127/8 line still denies every other loopback address (the nodes', nginx's, ...), which
        # tests/deploy/test_cluster.py checks.
        proc = self._spawn("coturn", [
            "turnserver", "-c", str(conf.COTURN_CONF), f"--listening-ip={self.turn_address}",
            f"--relay-ip={self.relay_address}", f"--allowed-peer-ip={self.relay_address}", "--allow-loopback-peers",
            f"--static-auth-secret={self.turn_secret}", f"--pidfile={self.workdir / 'turnserver.pid'}",
            "--log-file=stdout", "--simple-log"])

        def answers() -> bool:
            client = self.turn_client()
            client.sock.settimeout(0.3)
            try:
                return client.allocate().cls == stun.SUCCESS
            except TimeoutError:
                return False
            finally:
                client.sock.close()

        self._wait(proc, answers, "allocating")

    def node_env(self, port: int) -> tuple[conf.UnitCommands, dict[str, str]]:
        unit = conf.parse_unit(conf.UNIT.read_text(), str(port), install_dir=REPO_ROOT)
        if unit.environment_file != conf.UNIT_ENV_FILE:
            raise conf.DeployFileChanged(f"{conf.UNIT}: EnvironmentFile={unit.environment_file}")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TANDEM_") and k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(conf.read_env_file(self.env_file))
        env.update(unit.environment)
        env["PYTHONUNBUFFERED"] = "1"
        return unit, env

    def _exec_start_pre(self, port: int, unit: conf.UnitCommands, env: dict[str, str]) -> None:
        for command in unit.exec_start_pre:
            if not Path(command[0]).exists():
                raise ClusterError(f"{command[0]} does not exist (run `make .venv/.runtime`)")
            done = subprocess.run(command, env=env, capture_output=True, timeout=180, check=False, cwd=self.workdir)
            if done.returncode != 0:
                raise ClusterError(f"tandem@{port} ExecStartPre {command}: exit {done.returncode}\n"
                                   f"{done.stdout.decode()[-2000:]}{done.stderr.decode()[-2000:]}")

    def _nodes(self) -> None:
        units = {port: self.node_env(port) for port in self.node_ports}
        for port, (unit, env) in units.items():  # ExecStartPre (the migration), one node after the other
            self._exec_start_pre(port, unit, env)
        procs = [(port, self._spawn(f"tandem@{port}", unit.exec_start, env=env)) for port, (unit, env) in units.items()]
        for port, proc in procs:
            self._wait(proc, lambda port=port: _http_ok(f"http://{self.address}:{port}/readyz"), "ready")

    # -- one node down and up again, as systemd does it (tests/deploy/test_cluster_takeover.py)

    def stop_node(self, node: int, sig: int, *, timeout_s: float = 60.0) -> float:
        """Send ``sig`` to every process of node ``node`` (as systemd's control group: SIGTERM is
        ``systemctl stop``, SIGKILL ``systemctl kill -s KILL`` or the machine losing it); wait for it
        to exit; return how long that took. The node's exit status is ``proc(...).popen.returncode``."""
        proc = self.proc(f"tandem@{self.node_ports[node]}")
        began = time.monotonic()
        os.killpg(proc.popen.pid, sig)  # its own session (start_new_session): the node and nothing else
        proc.popen.wait(timeout_s)
        return time.monotonic() - began

    def start_node(self, node: int) -> None:
        """Start node ``node`` again with the unit's commands (ExecStartPre, then ExecStart, as
        ``systemctl start`` does) and wait until it is ready; its log goes on in the same file."""
        port = self.node_ports[node]
        if self.alive().get(f"tandem@{port}"):
            raise ClusterError(f"tandem@{port} is running")
        unit, env = self.node_env(port)
        self._exec_start_pre(port, unit, env)
        proc = self._spawn(f"tandem@{port}", unit.exec_start, env=env)
        self._wait(proc, lambda: _http_ok(f"{self.node_url(node)}/readyz"), "ready")

    def _nginx(self) -> None:
        tested = subprocess.run(self.nginx_command("-t"), capture_output=True, timeout=30, check=False)
        if tested.returncode != 0:
            raise ClusterError(f"nginx -t:\n{tested.stderr.decode()}")
        proc = self._spawn("nginx", self.nginx_command(), stop_signal=signal.SIGQUIT)  # SIGQUIT: graceful
        urls = [self.base_url] + [self.pinned_url(i) for i in range(len(self.pinned_ports))]
        self._wait(proc, lambda: all(_http_ok(f"{u}/readyz") for u in urls), "proxying")


def insecure_tls() -> ssl.SSLContext:
    """The certificate is self-signed, made at start: no verification (loopback only)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=insecure_tls()) as resp:  # loopback only
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _create_admin(cluster: Cluster) -> str:
    password = secrets.token_urlsafe(12)
    unit, env = cluster.node_env(cluster.node_ports[0])
    tandem = unit.exec_start[0]
    subprocess.run([tandem, "user", "create", "admin", "--display-name", "Cluster Admin", "--role", "admin"],
                   env={**env, "TANDEM_NEW_PASSWORD": password}, check=True, capture_output=True, timeout=120)
    return password


def main() -> int:
    stop = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Cluster() as cluster:
        password = _create_admin(cluster)
        PID_FILE.parent.mkdir(parents=True, exist_ok=True)
        PID_FILE.write_text(str(os.getpid()))
        print(f"Tandem cluster up in {cluster.start_s:.1f} s (working directory {cluster.workdir})\n"
              f"  open        {cluster.base_url}/   (self-signed certificate: accept it in the browser)\n"
              f"  sign in     admin / {password}   (a second factor is enrolled at first sign-in)\n"
              f"  nodes       {', '.join(cluster.node_url(i) for i in range(len(cluster.node_ports)))}"
              "   (/readyz, /metrics)\n"
              f"  pinned      {', '.join(cluster.pinned_url(i) for i in range(len(cluster.pinned_ports)))}"
              "   (nginx to one node while it is up)\n"
              f"  PostgreSQL  {cluster.database_url}\n  Redis       {cluster.redis_url}\n"
              f"  TURN        turn:{cluster.turn_address}:{TURN_PORT}\n"
              "Stop with Ctrl-C or `make cluster-stop`.", flush=True)
        try:
            while not stop["now"]:
                dead = [name for name, up in cluster.alive().items() if not up]
                if dead:
                    print(f"stopped unexpectedly: {', '.join(dead)}; tearing down", file=sys.stderr)
                    for name in dead:
                        print(cluster.proc(name).tail(), file=sys.stderr)
                    return 1
                time.sleep(0.5)
        finally:
            with contextlib.suppress(FileNotFoundError):
                PID_FILE.unlink()
            print("Tearing the cluster down", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
