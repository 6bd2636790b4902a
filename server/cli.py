"""``tandem``: serve | migrate | demo | user create | audit verify | retention run | backup | restore |
policy check."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from server import logs
from server.errors import InvalidName
from server.settings import Settings, SettingsError, from_env
from server.text import clean_name

if TYPE_CHECKING:
    from server.backup.windows import KeyDir
    from server.web.state import Services

T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "demo", False):
        overrides["demo"] = True
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    settings = from_env(**overrides)
    if getattr(args, "port", None):
        settings = settings.with_(port=args.port)
    if getattr(args, "host", None):
        settings = settings.with_(host=args.host)
    return settings


def cmd_migrate(settings: Settings) -> None:
    from server.store.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)


async def _with_app(settings: Settings, fn: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``fn`` with the app's services started (bus, policies) and stopped after."""
    from aiohttp import web

    from server.app import create_app
    from server.web.state import SERVICES

    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        return await fn(app[SERVICES])
    finally:
        await runner.cleanup()


def cmd_demo(settings: Settings) -> bool:
    from server import demo

    return asyncio.run(_with_app(settings, lambda s: demo.load(s.identity, s.cases, s.clock, s.groups, s.scheduling,
                                                                   s.mentoring, s.keyring, s.networks)))


def event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The server's event loop: uvloop by default (libuv), or the standard library's.
    bench/messaging.py runs its bare relay on the same one."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def cmd_serve(settings: Settings) -> None:
    from aiohttp import web

    from server.app import create_app
    from server.web import gc_pauses

    # The event loop shares the GIL with the database and hashing threads; at CPython's
    # default 5 ms switch interval a waiting loop can stall that long (bench/auth.py).
    sys.setswitchinterval(0.001)
    cmd_migrate(settings)
    if settings.demo:
        created = cmd_demo(settings)
        print(
            f"Demo data {'loaded' if created else 'already present'}. Sign in at http://{settings.host}:{settings.port}/"
        )
        print("  users: admin, senior, officer, facilitator, mentor, interpreter, police, social, client1 to client5")
        print("  password: tandem-demo   (demo mode only)", flush=True)
    app = create_app(settings)
    app.cleanup_ctx.append(gc_pauses.keeper())  # no long GC pauses with many connections open
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=lambda m: print(m, flush=True),
                loop=event_loop(settings.event_loop))


def cmd_user_create(settings: Settings, args: argparse.Namespace) -> None:
    from server.identity.model import Role

    password = os.environ.get("TANDEM_NEW_PASSWORD") or getpass.getpass("Password: ")

    async def create(services: Services) -> str:
        return await services.identity.create_user(
            None,
            username=args.username,
            display_name=args.display_name,
            role=Role(args.role),
            office_id=args.office,
            password=password,
        )

    print(asyncio.run(_with_app(settings, create)))


def cmd_audit_verify(settings: Settings) -> int:
    from server.audit.service import verify_database
    from server.store.engine import make_engine

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            report = await verify_database(engine)
        finally:
            await engine.dispose()
        if report.broken is None:
            print(json.dumps({"ok": True, "records": report.records, "head": report.head_hash}))
            return 0
        print(
            json.dumps(
                {
                    "ok": False,
                    "records_verified": report.records,
                    "first_bad_seq": report.broken.seq,
                    "reason": report.broken.reason,
                }
            )
        )
        return 1

    return asyncio.run(run())


def cmd_retention_run(settings: Settings, dry_run: bool, as_of: datetime | None = None) -> int:
    """One sweep now (or, with --dry-run, what it would remove, now or on ``as_of``); prints
    JSON. A run that was killed is finished by the next one."""

    async def run(services: Services) -> dict[str, object]:
        sweeper = services.retention.sweeper
        if dry_run:
            return (await sweeper.dry_run(on=as_of)).to_json()
        done: dict[str, int] = {}
        last = [0.0]

        async def progress(step: str, n: int) -> None:  # at most a line a second, on stderr
            done[step] = done.get(step, 0) + n
            if time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                _progress("retention: " + ", ".join(f"{k} {v}" for k, v in done.items()))

        sweeper.progress = progress
        return await sweeper.run()

    print(json.dumps(asyncio.run(_with_app(settings.with_(retention_sweep_enabled=False), run))), flush=True)
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _backup_keys(settings: Settings) -> KeyDir:
    from server.backup.windows import KeyDir

    return KeyDir(settings.backup_keys, settings.backup_key_lifetime_days)


def cmd_backup(settings: Settings, target: str) -> int:
    """``tandem backup FILE``: prune expired window keys, then write a backup (JSON report on stdout,
    progress on stderr). ``tandem backup prune``: only the prune."""
    from server.backup import service as backup

    async def run(services: Services) -> dict[str, object]:
        keys = _backup_keys(settings)
        now = services.clock.now()
        pruned = backup.prune(keys, services.policy.engine.policies.retention, now)
        if target == "prune":
            return pruned
        for window in pruned["destroyed_windows"]:
            _progress(f"backup: window key {window} destroyed (older than {keys.lifetime_days} days)")
        report = await backup.backup(services.store.engine, Path(target), keys, now, _progress)
        return {**report, "destroyed_windows": pruned["destroyed_windows"]}

    try:
        out = asyncio.run(_with_app(settings.with_(retention_sweep_enabled=False), run))
    except backup.BackupRefused as err:
        print(f"tandem backup: {err}", file=sys.stderr)
        return 1
    print(json.dumps(out), flush=True)
    return 0


def cmd_restore(settings: Settings, source: Path, keys_from: Path | None) -> int:
    """``tandem restore FILE [--keys-from NEWER]`` into the (empty) database of DATABASE_URL."""
    from server.backup import service as backup

    try:
        out = asyncio.run(backup.restore(settings.database_url, source, _backup_keys(settings),
                                         datetime.now(UTC), keys_from=keys_from, progress=_progress))
    except backup.BackupRefused as err:
        print(f"tandem restore: {err}", file=sys.stderr)
        return 1
    print(json.dumps(out), flush=True)
    return 0


def cmd_policy_check(path: Path) -> int:
    from server.policy.loader import check_dir

    errors = check_dir(path)
    for err in errors:
        print(str(err), file=sys.stderr)
    if not errors:
        print(f"{path}: all policies valid")
    return 1 if errors else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tandem", description="Tandem remote supervision server")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("serve", "migrate", "demo"):
        sp = sub.add_parser(name)
        sp.add_argument("--demo", action="store_true", help="demo mode: demo accounts allowed, key file created")
        sp.add_argument("--data-dir", help="where the SQLite file and demo key live (default ./var)")
        if name == "serve":
            sp.add_argument("--port", type=int)
            sp.add_argument("--host")
    user = sub.add_parser("user").add_subparsers(dest="user_cmd", required=True)
    uc = user.add_parser("create", help="create a staff account (password from TANDEM_NEW_PASSWORD or prompt)")
    uc.add_argument("username")
    uc.add_argument("--display-name", required=True, type=_display_name)
    uc.add_argument("--role", required=True)
    uc.add_argument("--office", help="the account's office id; without it the account has no office (an admin "
                                      "with no office acts in none unless named in TANDEM_CROSS_OFFICE_ADMINS)")
    uc.add_argument("--data-dir")
    audit = sub.add_parser("audit").add_subparsers(dest="audit_cmd", required=True)
    av = audit.add_parser("verify", help="verify the audit hash chain; exit 1 at the first tampered record")
    av.add_argument("--data-dir")
    retention = sub.add_parser("retention").add_subparsers(dest="retention_cmd", required=True)
    rr = retention.add_parser("run", help="run the retention sweeper once (JSON receipt); --dry-run changes nothing")
    rr.add_argument("--dry-run", action="store_true")
    rr.add_argument("--as-of", type=_as_of, metavar="DATE",
                    help="with --dry-run: what a sweep on this date (YYYY-MM-DD, UTC, or an ISO time) would remove")
    rr.add_argument("--data-dir")
    bk = sub.add_parser("backup", help="write a backup whose key material dies with its window key; "
                                       "`tandem backup prune` destroys window keys older than their lifetime")
    bk.add_argument("target", metavar="FILE|prune", help="the new backup file (never overwritten), or prune")
    bk.add_argument("--data-dir")
    rs = sub.add_parser("restore", help="restore a backup into the empty database of DATABASE_URL")
    rs.add_argument("file", type=Path)
    rs.add_argument("--keys-from", type=Path, metavar="NEWER",
                    help="take the key material from this newer backup (the file's own window key was pruned)")
    rs.add_argument("--data-dir")
    policy = sub.add_parser("policy").add_subparsers(dest="policy_cmd", required=True)
    pc = policy.add_parser("check", help="validate a folder of policy files")
    pc.add_argument("dir", type=Path)
    return p


def _as_of(value: str) -> datetime:
    """A date (its start, UTC) or a full ISO time; within a century of today, as the admin preview."""
    from server.retention.plan import MAX_DAYS

    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD or an ISO time, got {value!r}") from None
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if abs(at - datetime.now(UTC)) > timedelta(days=MAX_DAYS):
        raise argparse.ArgumentTypeError("must be within a hundred years of today")
    return at


def _display_name(value: str) -> str:
    try:
        return clean_name(value, "display name", max_length=200)
    except InvalidName as err:
        raise argparse.ArgumentTypeError(err.message) from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "policy":
        return cmd_policy_check(args.dir)
    try:
        settings = _settings(args)
    except SettingsError as err:
        print(f"tandem: {err}", file=sys.stderr)
        return 2
    logs.setup(json_logs=settings.log_json)
    if args.cmd == "migrate":
        cmd_migrate(settings)
    elif args.cmd == "demo":
        cmd_migrate(settings)
        print("demo data loaded" if cmd_demo(settings) else "demo data already present")
    elif args.cmd == "serve":
        cmd_serve(settings)
    elif args.cmd == "user":
        cmd_user_create(settings, args)
    elif args.cmd == "audit":
        return cmd_audit_verify(settings)
    elif args.cmd == "retention":
        if args.as_of is not None and not args.dry_run:
            print("tandem: --as-of is for --dry-run only (a real sweep always runs as of now)", file=sys.stderr)
            return 2
        return cmd_retention_run(settings, args.dry_run, args.as_of)
    elif args.cmd == "backup":
        return cmd_backup(settings, args.target)
    elif args.cmd == "restore":
        return cmd_restore(settings, args.file, args.keys_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
