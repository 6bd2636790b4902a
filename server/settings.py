"""Settings load once, from the environment, into a frozen object.

Secrets (the key-encryption key) come from the environment or a key file and are
never part of ``repr`` so they cannot reach a log line.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server.signalling.turn import TurnConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Push services of the browsers we support (Chrome, Firefox, Safari, Edge). The server
#: POSTs to a subscription's endpoint, so only these hosts (and their subdomains) may be one.
PUSH_HOSTS = ("fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable and why."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str | None = None
    demo: bool = False
    policies_dir: Path = REPO_ROOT / "policies"
    web_root: Path = REPO_ROOT / "client_web"
    kek: bytes = field(default=b"", repr=False)
    cookie_secure: bool = True
    require_staff_mfa: bool = True
    session_idle_s: int = 30 * 60
    session_absolute_s: int = 12 * 3600
    client_session_absolute_s: int = 30 * 24 * 3600
    max_body_bytes: int = 64 * 1024
    hash_workers: int = max(1, (os.cpu_count() or 2) - 1)
    login_limit_per_source: int = 5  # failures per (account, address) in login_window_s
    login_limit_per_account: int = 20  # failures per account from all addresses in login_account_window_s
    login_limit_per_address: int = 20  # failures per address across accounts in login_window_s
    login_window_s: float = 300.0
    login_account_window_s: float = 3600.0
    login_max_block_s: float = 900.0
    enrolment_code_ttl_s: int = 72 * 3600
    ws_frame_rate: int = 10  # frames per second per connection, refilled continuously
    ws_frame_burst: int = 30
    log_json: bool = True
    event_loop: str = "uvloop"  # uvloop (libuv, the default) or asyncio (the standard library's loop)
    attachment_max_bytes: int = 5 * 1024 * 1024
    vapid_private_key: bytes = field(default=b"", repr=False)  # PEM; empty: an ephemeral key (tests)
    vapid_subject: str = "mailto:tandem@localhost"
    push_ttl_s: int = 900
    push_hosts: tuple[str, ...] = PUSH_HOSTS
    push_allow_loopback_http: bool = False  # tests: push to an http://127.0.0.1 endpoint
    # -- retention sweeper (issue 5)
    retention_sweep_interval_s: int = 3600  # the first sweep runs one interval after start
    retention_sweep_enabled: bool = True
    retention_chunk_rows: int = 500  # rows deleted per transaction: what a live write may wait behind
    # -- backups (issue 15): window keys outside the database, destroyed once older than the lifetime
    backup_key_dir: Path | None = None  # None: <data_dir>/backup-keys
    backup_key_lifetime_days: int = 7
    # -- the in-memory cache of bucket keys: how long a key is used before the store is asked again
    key_cache_ttl_s: float = 60.0  # whatever the bus says (a missed shred notice is bounded by this)
    key_cache_ttl_bus_down_s: float = 5.0  # while this node's bus is down
    # -- scheduling (issue 4)
    reminder_offsets_s: tuple[int, ...] = (24 * 3600, 15 * 60)  # before an appointment's start
    reminder_interval_s: int = 30  # how often the reminder task looks for due reminders
    join_open_before_s: int = 10 * 60  # a check-in's window opens this long before the start
    join_close_after_s: int = 15 * 60  # and closes this long after the scheduled end
    # -- media (device-test echo peer) --
    echo_max_peers: int = 8  # concurrent device tests; each decodes and re-encodes video
    echo_lifetime_s: float = 60.0  # a device test is closed after this long, whatever it is doing
    media_host_addresses: tuple[str, ...] = ()  # host candidates the server's peers offer; () = every interface
    trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For names the client (nginx)
    # -- video check-ins (issue 4) --
    turn_urls: tuple[str, ...] = ()  # turn:/turns: URLs of coturn
    stun_urls: tuple[str, ...] = ()
    turn_secret: str = field(default="", repr=False)  # coturn's static-auth-secret
    turn_ttl_s: int = 3600
    checkin_grace_s: float = 30.0  # a dropped participant may rejoin its place for this long
    checkin_max_participants: int = 6
    # -- several nodes (issue 15, docs/cluster.md): this node's name in room leases ("" = host name
    # and a random suffix, new at each start), how long a lease holds unless renewed, and how long
    # a drain (SIGTERM) may take before the node stops anyway
    node_id: str = ""
    room_lease_s: float = 10.0
    drain_timeout_s: float = 20.0
    retention_pause_ratio: float = 1.0  # after each chunk the sweeper rests this many times as long as it took
    # -- the group SFU (issue 14): forwarded streams (one publisher's track to one subscriber's slot)
    # this node takes; a session reserves seats * ((seats - 1) + min(last_n, seats - 1)) of them
    sfu_capacity: int = 400
    # -- the office boundary (issue 12): office-less admin accounts that may act in every office
    cross_office_admins: frozenset[str] = frozenset()

    @property
    def backup_keys(self) -> Path:
        return self.backup_key_dir or self.data_dir / "backup-keys"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true/false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name}: must be positive, got {value}")
    return value


def _ratio(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if not 0 <= value <= 1000:
        raise SettingsError(f"{name}: must be between 0 and 1000, got {value}")
    return value


def load_kek(env: Mapping[str, str], data_dir: Path, *, create: bool) -> bytes:
    """The key-encryption key: TANDEM_KEK (base64, 32 bytes) or TANDEM_KEK_FILE.

    In demo mode a key file is created in the data directory on first start.
    """
    raw = env.get("TANDEM_KEK")
    source = "TANDEM_KEK"
    if not raw:
        path = Path(env.get("TANDEM_KEK_FILE") or data_dir / "kek.key")
        source = f"TANDEM_KEK_FILE ({path})"
        if not path.exists():
            if not create:
                raise SettingsError(
                    "TANDEM_KEK: no key-encryption key; set TANDEM_KEK (base64 of 32 bytes) "
                    "or TANDEM_KEK_FILE, or run with --demo to create one"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.b64encode(secrets.token_bytes(32)).decode())
        raw = path.read_text().strip()
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{source}: not valid base64") from None
    if len(key) != 32:
        raise SettingsError(f"{source}: must decode to 32 bytes, got {len(key)}")
    return key


def _hosts(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if not raw:
        return default
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    if not hosts or any("/" in h or ":" in h for h in hosts):
        raise SettingsError(f"{name}: expected a comma-separated list of host names, got {raw!r}")
    return hosts


def _addresses(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    out = _urls(env, name)
    for address in out:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise SettingsError(f"{name}: expected a comma-separated list of IP addresses, got {address!r}") from None
    return out


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    out = []
    for network in _urls(env, name):
        try:
            out.append(str(ipaddress.ip_network(network, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: expected a comma-separated list of IP addresses or networks, "
                                f"got {network!r}") from None
    return tuple(out)


def _vapid_subject(env: Mapping[str, str]) -> str:
    subject = env.get("TANDEM_VAPID_SUBJECT") or "mailto:tandem@localhost"
    if not (subject.startswith("mailto:") and "@" in subject) and not subject.startswith("https://"):
        raise SettingsError(f"TANDEM_VAPID_SUBJECT: a mailto: address or an https: URL, got {subject!r}")
    return subject


def load_vapid_key(env: Mapping[str, str], data_dir: Path) -> bytes:
    """The VAPID signing key (PEM, EC P-256): TANDEM_VAPID_PRIVATE_KEY_FILE, or ``vapid.pem``
    in the data directory, created on first start. A lost key only means browsers
    subscribe again; it protects no data."""
    named = env.get("TANDEM_VAPID_PRIVATE_KEY_FILE")
    path = Path(named or data_dir / "vapid.pem")
    source = f"TANDEM_VAPID_PRIVATE_KEY_FILE ({path})" if named else f"VAPID key file ({path})"
    if not path.exists():
        if named:
            raise SettingsError(f"{source}: no such file")
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    pem = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SettingsError(f"{source}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SettingsError(f"{source}: must be an EC P-256 (prime256v1) key")
    return pem


def _offsets(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    from server.scheduling.model import SchedulingError, parse_offsets

    raw = env.get(name)
    if not raw:
        return (24 * 3600, 15 * 60)
    try:
        return parse_offsets(raw)
    except SchedulingError as err:
        raise SettingsError(f"{name}: {err}") from None


def _urls(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped (unset: empty)."""
    raw = env.get(name) or ""
    return tuple(u.strip() for u in raw.split(",") if u.strip())


def _usernames(env: Mapping[str, str], name: str) -> frozenset[str]:
    names = _urls(env, name)
    for username in names:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", username):
            raise SettingsError(f"{name}: expected a comma-separated list of usernames, got {username!r}")
    return frozenset(names)


def _secret(env: Mapping[str, str], name: str) -> str:
    """A secret from NAME or from the file named by NAME_FILE."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as err:
            raise SettingsError(f"{name}_FILE: cannot read {path}: {err.strerror}") from None
    return env.get(name) or ""


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; unset: the first."""
    value = env.get(name) or choices[0]
    if value not in choices:
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def from_env(env: Mapping[str, str] | None = None, /, **overrides: object) -> Settings:
    env = os.environ if env is None else env
    demo = bool(overrides.pop("demo", _bool(env, "TANDEM_DEMO", False)))
    data_dir = Path(str(overrides.pop("data_dir", env.get("TANDEM_DATA_DIR") or REPO_ROOT / "var")))
    database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'tandem.db'}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+asyncpg://" + database_url.removeprefix("postgresql://")
    if not (database_url.startswith("sqlite+aiosqlite://") or database_url.startswith("postgresql+asyncpg://")):
        raise SettingsError("DATABASE_URL: only sqlite+aiosqlite:// and postgresql(+asyncpg):// are supported")
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        host=env.get("TANDEM_HOST", "127.0.0.1"),
        port=_int(env, "TANDEM_PORT", 8080),
        redis_url=env.get("REDIS_URL") or None,
        demo=demo,
        policies_dir=Path(env.get("TANDEM_POLICIES_DIR") or REPO_ROOT / "policies"),
        kek=load_kek(env, data_dir, create=demo),
        cookie_secure=_bool(env, "TANDEM_COOKIE_SECURE", not demo),
        require_staff_mfa=_bool(env, "TANDEM_REQUIRE_STAFF_MFA", not demo),
        session_idle_s=_int(env, "TANDEM_SESSION_IDLE_S", 30 * 60),
        session_absolute_s=_int(env, "TANDEM_SESSION_ABSOLUTE_S", 12 * 3600),
        max_body_bytes=_int(env, "TANDEM_MAX_BODY_BYTES", 64 * 1024),
        ws_frame_rate=_int(env, "TANDEM_WS_FRAME_RATE", 10),
        ws_frame_burst=_int(env, "TANDEM_WS_FRAME_BURST", 30),
        event_loop=_choice(env, "TANDEM_EVENT_LOOP", ("uvloop", "asyncio")),
        attachment_max_bytes=_int(env, "TANDEM_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024),
        vapid_private_key=load_vapid_key(env, data_dir),
        vapid_subject=_vapid_subject(env),
        push_ttl_s=_int(env, "TANDEM_PUSH_TTL_S", 900),
        push_hosts=_hosts(env, "TANDEM_PUSH_HOSTS", PUSH_HOSTS),
        retention_sweep_interval_s=_int(env, "TANDEM_RETENTION_SWEEP_INTERVAL_S", 3600),
        retention_sweep_enabled=_bool(env, "TANDEM_RETENTION_SWEEP", True),
        retention_chunk_rows=_int(env, "TANDEM_RETENTION_CHUNK_ROWS", 500),
        backup_key_dir=Path(env["TANDEM_BACKUP_KEY_DIR"]) if env.get("TANDEM_BACKUP_KEY_DIR") else None,
        backup_key_lifetime_days=_int(env, "TANDEM_BACKUP_KEY_LIFETIME_DAYS", 7),
        key_cache_ttl_s=float(_int(env, "TANDEM_KEY_CACHE_TTL_S", 60)),
        key_cache_ttl_bus_down_s=float(_int(env, "TANDEM_KEY_CACHE_TTL_BUS_DOWN_S", 5)),
        reminder_offsets_s=_offsets(env, "TANDEM_REMINDER_OFFSETS"),
        reminder_interval_s=_int(env, "TANDEM_REMINDER_INTERVAL_S", 30),
        join_open_before_s=_int(env, "TANDEM_JOIN_OPEN_BEFORE_S", 10 * 60),
        join_close_after_s=_int(env, "TANDEM_JOIN_CLOSE_AFTER_S", 15 * 60),
        echo_max_peers=_int(env, "TANDEM_ECHO_MAX_PEERS", 8),
        echo_lifetime_s=float(_int(env, "TANDEM_ECHO_LIFETIME_S", 60)),
        media_host_addresses=_addresses(env, "TANDEM_MEDIA_HOST_ADDRESSES"),
        trusted_proxies=_networks(env, "TANDEM_TRUSTED_PROXIES"),
        turn_urls=_urls(env, "TANDEM_TURN_URLS"),
        stun_urls=_urls(env, "TANDEM_STUN_URLS"),
        turn_secret=_secret(env, "TANDEM_TURN_SECRET"),
        turn_ttl_s=_int(env, "TANDEM_TURN_TTL_S", 3600),
        checkin_grace_s=float(_int(env, "TANDEM_CHECKIN_GRACE_S", 30)),
        node_id=(env.get("TANDEM_NODE_ID") or "")[:64],
        room_lease_s=float(_int(env, "TANDEM_ROOM_LEASE_S", 10)),
        drain_timeout_s=float(_int(env, "TANDEM_DRAIN_TIMEOUT_S", 20)),
        retention_pause_ratio=_ratio(env, "TANDEM_RETENTION_PAUSE_RATIO", 1.0),
        cross_office_admins=_usernames(env, "TANDEM_CROSS_OFFICE_ADMINS"),
        sfu_capacity=_int(env, "TANDEM_SFU_CAPACITY", 400),
    )
    try:  # TURN settings are checked here so a bad one stops the server naming the variables
        TurnConfig(turn_urls=settings.turn_urls, stun_urls=settings.stun_urls, secret=settings.turn_secret,
                   ttl_s=settings.turn_ttl_s)
    except ValueError as err:
        raise SettingsError(f"TANDEM_TURN_URLS / TANDEM_STUN_URLS / TANDEM_TURN_SECRET / TANDEM_TURN_TTL_S: {err}") \
            from None
    return settings.with_(**overrides) if overrides else settings
