"""The files in ``deploy/`` turned into what ``make cluster`` runs on this machine (pure: text in, text out).

Every change to a shipped file is a named substitution that must match the shipped text exactly as
often as expected, so a change in ``deploy/`` that the harness does not understand stops it with the
line it could not find, instead of silently running something other than what ships. What changes is
only where things live on this machine: addresses (one loopback address of the run's own instead of
127.0.0.1, so nothing collides with the machine's own services or another run), the HTTPS port when
this user may not bind 443, the certificate's paths and the include's path. ``local_nginx`` can add
one extra server per node (a copy of the shipped ``server`` block whose ``proxy_pass`` names that node,
the other nodes only as ``backup`` for while it is down): a browser pinned to a node, for tests that need
two participants on two different nodes, which follows nginx to another node when its own dies.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from server.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "tandem.conf"
NGINX_PROXY_CONF = DEPLOY / "nginx" / "tandem_proxy.conf"
UNIT = DEPLOY / "systemd" / "tandem@.service"
PG_CONF = DEPLOY / "postgresql" / "tandem.conf"
REDIS_CONF = DEPLOY / "redis" / "redis.conf"
COTURN_CONF = DEPLOY / "coturn" / "turnserver.conf"
#: Where the unit expects the installed checkout (its .venv holds the ``tandem`` command).
UNIT_INSTALL_DIR = "/opt/tandem"
UNIT_ENV_FILE = "/etc/tandem/env"


class DeployFileChanged(Exception):
    """A shipped file no longer has a line the harness rewrites: update the harness with the file."""


def substitute(text: str, old: str, new: str, *, count: int = 1, name: str = "") -> str:
    found = text.count(old)
    if found != count:
        raise DeployFileChanged(f"{name}: expected {count} x {old!r}, found {found}")
    return text.replace(old, new)


def upstream_ports(nginx_conf: str) -> list[int]:
    """The node ports of the shipped upstream (``server 127.0.0.1:PORT;`` lines): the unit's instances."""
    ports = [int(p) for p in re.findall(r"^\s*server 127\.0\.0\.1:(\d+);", nginx_conf, re.MULTILINE)]
    if len(ports) < 2:
        raise DeployFileChanged(f"{NGINX_CONF}: expected an upstream of at least two nodes, found {ports}")
    return ports


@dataclass(frozen=True)
class NginxPlan:
    address: str  # the loopback address everything of this run listens on
    https_port: int
    pinned_ports: tuple[int, ...]  # one per node, same order as the upstream; () for none
    cert: Path
    key: Path


def local_nginx(shipped: str, plan: NginxPlan) -> str:
    """The shipped ``tandem.conf`` with this machine's addresses, certificate and include path."""
    name = str(NGINX_CONF)
    ports = upstream_ports(shipped)
    text = shipped
    for port in ports:
        text = substitute(text, f"server 127.0.0.1:{port};", f"server {plan.address}:{port};", name=name)
    text = substitute(text, "listen 443 ssl http2;", f"listen {plan.address}:{plan.https_port} ssl http2;", name=name)
    text = substitute(text, "/etc/ssl/tandem/fullchain.pem", str(plan.cert), name=name)
    text = substitute(text, "/etc/ssl/tandem/privkey.pem", str(plan.key), name=name)
    includes = text.count("include /etc/nginx/tandem_proxy.conf;")
    text = substitute(text, "include /etc/nginx/tandem_proxy.conf;", f"include {NGINX_PROXY_CONF};",
                      count=includes or 1, name=name)
    if not plan.pinned_ports:
        return text
    if len(plan.pinned_ports) != len(ports):
        raise ValueError("one pinned port per node")
    start = text.index("\nserver {")
    server_block = text[start:]
    proxies = server_block.count("proxy_pass http://tandem;")
    listen = f"listen {plan.address}:{plan.https_port} ssl http2;"
    for index, (node_port, pinned) in enumerate(zip(ports, plan.pinned_ports, strict=True)):
        # While that node is down, nginx sends its requests on to the others, as the shipped upstream
        # does with a dead node's: a person pinned to a node that dies reconnects through the same port.
        backups = "".join(f"    server {plan.address}:{p} backup;\n" for p in ports if p != node_port)
        text += (f"\n# make cluster only: every request on port {pinned} goes to the node on {node_port} "
                 f"while it is up\nupstream tandem_node{index} {{\n    server {plan.address}:{node_port};\n"
                 f"{backups}    keepalive 16;\n}}\n")
        block = substitute(server_block, listen, f"listen {plan.address}:{pinned} ssl http2;", name=name)
        text += substitute(block, "proxy_pass http://tandem;", f"proxy_pass http://tandem_node{index};",
                           count=proxies, name=name)
    return text


def nginx_main(site: Path, workdir: Path, *, user: str | None) -> str:
    """A main nginx.conf around the site file: runs in the foreground, writes only under ``workdir``."""
    temp = "\n".join(f"    {kind}_temp_path {workdir / 'temp' / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{f'user {user};' if user else ''}\ndaemon off;\nworker_processes 1;\n"
            f"pid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    access_log {workdir / 'access.log'};\n{temp}\n    include {site};\n}}\n")


@dataclass(frozen=True)
class UnitCommands:
    """What systemd would run for one instance of ``tandem@.service``."""

    environment: dict[str, str]  # Environment= lines (after EnvironmentFile=, which they override)
    environment_file: str
    exec_start_pre: list[list[str]]
    exec_start: list[str]


def parse_unit(text: str, instance: str, *, install_dir: Path) -> UnitCommands:
    """The [Service] commands and environment of ``tandem@INSTANCE``, ``/opt/tandem`` mapped to ``install_dir``.

    Only what this unit uses is understood (``%i``, ``Environment=``, one ``EnvironmentFile=``,
    ``ExecStartPre=``, one ``ExecStart=``); anything else under [Service] that would change what runs
    stops the harness."""
    known = {"User", "EnvironmentFile", "Environment", "ExecStartPre", "ExecStart", "Restart", "NoNewPrivileges",
             "ProtectSystem", "ProtectHome", "PrivateTmp"}
    section = ""
    env: dict[str, str] = {}
    env_file = ""
    pre: list[list[str]] = []
    start: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section != "[Service]":
            continue
        key, _, value = line.partition("=")
        if key not in known:
            raise DeployFileChanged(f"{UNIT}: [Service] {key}= is not understood by the cluster harness")
        value = value.replace("%i", instance).replace(UNIT_INSTALL_DIR, str(install_dir))
        if key == "Environment":
            for item in shlex.split(value):
                name, _, val = item.partition("=")
                env[name] = val
        elif key == "EnvironmentFile":
            env_file = value
        elif key == "ExecStartPre":
            pre.append(shlex.split(value))
        elif key == "ExecStart":
            start = shlex.split(value)
    if not start or not env_file:
        raise DeployFileChanged(f"{UNIT}: no ExecStart= or EnvironmentFile=")
    return UnitCommands(env, env_file, pre, start)


def read_env_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile= format, as far as the harness writes it: NAME=value lines."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out
