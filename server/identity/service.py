"""Identity action functions: accounts, login, sessions, TOTP, client enrolment.

Design note. Session tokens are 256-bit CSPRNG values; the store keeps only their
SHA-256, so a copy of the sessions table cannot be replayed. A login always issues a
new token and revokes any token the request presented (no session fixation). Login
throttling is checked before any password hashing. Demo accounts (``is_demo``) are
refused unless the server runs in demo mode. Every change here writes an audit row
in the same transaction.

Administration stays inside the office boundary (``identity/scope.py``, rule ``scope``):
an admin lists, creates and disables the accounts of their own office only, so no
account they create holds more than they do. An account of another office answers as
one that does not exist.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.clock import Clock
from server.crypto import envelope
from server.errors import BadRequest, Conflict, InvalidCredentials, NotFound, RateLimited, Unauthenticated
from server.identity import store, totp
from server.identity.model import CREATABLE_ROLES, STAFF_ROLES, Actor, Role, Session, SessionExpiry
from server.identity.passwords import MAX_LENGTH, MIN_LENGTH, Passwords
from server.identity.ratelimit import LoginLimiter
from server.identity.scope import audit_mark, is_cross_office
from server.ids import new_id, new_token, token_digest
from server.policy.service import PolicyService
from server.settings import Settings
from server.store.tx import Store


@dataclass(frozen=True)
class LoginResult:
    actor: Actor
    token: str
    session: Session


@dataclass(frozen=True)
class Authenticated:
    actor: Actor
    session: Session


def check_password_rules(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise BadRequest(f"A password must be {MIN_LENGTH} to {MAX_LENGTH} characters long",
                         reason="identity.password_length", params={"min": MIN_LENGTH, "max": MAX_LENGTH})


class IdentityService:
    def __init__(
        self, store_: Store, clock: Clock, passwords: Passwords, limiter: LoginLimiter, settings: Settings,
        policy: PolicyService,
    ) -> None:
        self.store = store_
        self.clock = clock
        self.passwords = passwords
        self.limiter = limiter
        self.settings = settings
        self.policy = policy
        self._totp_key = envelope.derive(settings.kek, "totp")
        self._login_gate = asyncio.Semaphore(max(1, settings.hash_workers))

    def expiry_for(self, role: Role) -> SessionExpiry:
        if role in STAFF_ROLES:
            return SessionExpiry(self.settings.session_absolute_s, self.settings.session_idle_s)
        return SessionExpiry(self.settings.client_session_absolute_s, None)

    def actor_of(self, row: Any) -> Actor:
        actor = store.actor_from_row(row)
        return replace(actor, cross_office=is_cross_office(actor, self.settings.cross_office_admins))

    def throttle(self, key: str, address: str, *, account_wide: bool = True) -> None:
        """Refuse before any hashing or write when this key, this address or the pair is blocked."""
        wait = self.limiter.retry_after(key, address, self.clock.monotonic(), account_wide=account_wide)
        if wait > 0:
            raise RateLimited(f"Too many attempts; try again in {int(wait) + 1} s", retry_after=wait)

    # -- accounts -----------------------------------------------------------------

    async def create_office(self, by: Actor | None, name: str) -> str:
        """A new office lies in no office yet: only a cross-office administrator (or the system) opens one."""
        if by is not None:
            self.policy.require_office(by, None)
        office_id = new_id()
        async with self.store.write("office.create") as conn:
            await store.insert_office(conn, id=office_id, name=name, created_at=self.clock.now())
            await audit.append(
                conn,
                at=self.clock.now(),
                actor_id=by.user_id if by else None,
                action="office.create",
                target_type="office",
                target_id=office_id,
                details={"name": name, **audit_mark(by)},
            )
        return office_id

    async def list_offices(self, by: Actor) -> list[Any]:
        """The offices ``by`` administers: their own, or every one for a cross-office administrator."""
        self.policy.require_office(by, by.office_id)
        async with self.store.read("office.list") as conn:
            rows = await store.list_offices(conn)
        return rows if by.cross_office else [r for r in rows if r.id == by.office_id]

    async def create_user(
        self,
        by: Actor | None,
        *,
        username: str,
        display_name: str,
        role: Role,
        office_id: str | None,
        password: str | None,
        locale: str = "en",
        is_demo: bool = False,
    ) -> str:
        """Create an account. ``by`` None means the system (CLI, demo loader); otherwise the
        account's office must be ``by``'s own (an account of no office: a cross-office
        administrator's), whatever its role."""
        if by is not None:
            if role not in CREATABLE_ROLES:
                raise BadRequest("Clients are enrolled through their case, not created directly",
                                 reason="identity.clients_through_case")
            self.policy.require_office(by, office_id)
        hashed = await self.hash_new_password(password)
        async with self.store.write("user.create") as conn:
            return await self.insert_user(conn, by, username=username, display_name=display_name, role=role,
                                          office_id=office_id, password_hash=hashed, locale=locale,
                                          is_demo=is_demo)

    async def hash_new_password(self, password: str | None) -> str | None:
        """Check and hash a new password (off the loop), before any transaction opens."""
        if password is None:
            return None
        check_password_rules(password)
        return await self.passwords.hash(password)

    async def insert_user(
        self,
        conn: AsyncConnection,
        by: Actor | None,
        *,
        username: str,
        display_name: str,
        role: Role,
        office_id: str | None,
        password_hash: str | None,
        locale: str = "en",
        is_demo: bool = False,
    ) -> str:
        """The account row and its audit record, inside the caller's transaction."""
        user_id = new_id()
        now = self.clock.now()
        if office_id is not None and not await store.office_exists(conn, office_id):
            raise NotFound(f"No office {office_id}")
        if await store.user_by_username(conn, username) is not None:
            raise Conflict(f"The username {username!r} is taken",
                           reason="identity.username_taken", params={"username": username})
        await store.insert_user(
            conn, id=user_id, username=username, display_name=display_name, role=role.value, office_id=office_id,
            password_hash=password_hash, totp_enabled=False, locale=locale, is_demo=is_demo, disabled=False,
            created_at=now,
        )
        await audit.append(
            conn, at=now, actor_id=by.user_id if by else None, action="user.create", target_type="user",
            target_id=user_id,
            details={"username": username, "role": role.value, "office_id": office_id, **audit_mark(by)},
        )
        return user_id

    async def audit_cross_office(self, by: Actor, method: str, route: str, path: str) -> None:
        """Every request of a cross-office administrator is audited before it runs, whatever
        its outcome, reads included."""
        async with self.store.write("cross_office.request") as conn:
            await audit.append(conn, at=self.clock.now(), actor_id=by.user_id, action="cross_office.request",
                               target_type="route", target_id=f"{method} {route}",
                               details={"path": path, **audit_mark(by)})

    async def list_users(self, by: Actor, *, limit: int, offset: int) -> list[Any]:
        """The accounts ``by`` administers (a client's office is their case's). The list names
        clients, so reading it is audited."""
        self.policy.require_office(by, by.office_id)
        async with self.store.write("user.list") as conn:
            rows = await store.list_users(conn, office_id=None if by.cross_office else by.office_id, limit=limit,
                                          offset=offset)
            await audit.append(conn, at=self.clock.now(), actor_id=by.user_id, action="user.list",
                               target_type="user", details={"limit": limit, "offset": offset, "count": len(rows),
                                                            **audit_mark(by)})
        return rows

    async def set_disabled(self, by: Actor, user_id: str, disabled: bool) -> None:
        async with self.store.write("user.disable") as conn:
            found = await store.user_with_office(conn, user_id)
            if found is None or not self.policy.in_office(by, found[1]).allowed:
                raise NotFound(f"No user {user_id}")
            await store.update_user(conn, user_id, disabled=disabled)
            if disabled:
                await store.delete_user_sessions(conn, user_id)
            await audit.append(
                conn,
                at=self.clock.now(),
                actor_id=by.user_id,
                action="user.disable",
                target_type="user",
                target_id=user_id,
                details={"disabled": disabled, **audit_mark(by)},
            )

    # -- login ----------------------------------------------------------------------

    async def login(
        self, username: str, password: str, *, address: str, kind: str, previous_token: str | None = None
    ) -> LoginResult:
        self.throttle(username, address)
        # At most as many logins look up and hash as there are hashing threads: the rest wait
        # here, cheaply, instead of all taking connections and loop time at once (bench/auth.py).
        async with self._login_gate:
            async with self.store.read("login.lookup") as conn:
                row = await store.user_by_username(conn, username)
            ok = await self.passwords.verify(row.password_hash if row is not None else None, password)
        refused = row is None or not ok or row.disabled or (row.is_demo and not self.settings.demo)
        now = self.clock.now()
        if refused:
            self.limiter.failed(username, address, self.clock.monotonic())
            async with self.store.write("login.failed") as conn:
                await audit.append(
                    conn,
                    at=now,
                    actor_id=row.id if row is not None else None,
                    action="login.failed",
                    target_type="user",
                    target_id=row.id if row is not None else None,
                    details={"address": address},
                )
            raise InvalidCredentials("Wrong username or password")
        assert row is not None
        self.limiter.succeeded(username, address)
        actor = self.actor_of(row)
        token = new_token()
        expiry = self.expiry_for(actor.role)
        session = Session(
            token_hash=token_digest(token),
            user_id=actor.user_id,
            kind=kind,
            csrf_token=new_token(24),
            mfa_pending=actor.is_staff and actor.mfa_enrolled,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=expiry.absolute_s),
        )
        async with self.store.write("login.session") as conn:
            if previous_token:
                await store.delete_session(conn, token_digest(previous_token))
            await store.insert_session(
                conn,
                token_hash=session.token_hash,
                user_id=session.user_id,
                kind=kind,
                csrf_token=session.csrf_token,
                mfa_pending=session.mfa_pending,
                created_at=now,
                last_seen_at=now,
                expires_at=session.expires_at,
            )
            await audit.append(
                conn,
                at=now,
                actor_id=actor.user_id,
                action="session.create",
                target_type="user",
                target_id=actor.user_id,
                details={"kind": kind, "address": address, "mfa_pending": session.mfa_pending, **audit_mark(actor)},
            )
        if ok and row.password_hash and self.passwords.needs_rehash(row.password_hash):
            await self._rehash(actor.user_id, password)
        return LoginResult(actor, token, session)

    async def insert_session(self, conn: AsyncConnection, actor: Actor, *, kind: str, address: str,
                             expires_at: datetime | None = None, checkin_id: str | None = None,
                             group_session_id: str | None = None,
                             previous_token: str | None = None) -> LoginResult:
        """A new session for ``actor`` inside the caller's transaction, for sign-ins that prove
        something other than a password (a check-in's or a group session's link code, a paired room
        device's secret). The token is always a fresh one the server chose, and any token the request
        presented is revoked, so a session cannot be fixed. No second factor is pending: these are
        never staff. Without ``expires_at`` the session lasts as the role's sessions do; with
        ``checkin_id`` (``group_session_id``) it reaches that check-in (group session) only."""
        now = self.clock.now()
        token = new_token()
        expires_at = expires_at or now + timedelta(seconds=self.expiry_for(actor.role).absolute_s)
        session = Session(token_hash=token_digest(token), user_id=actor.user_id, kind=kind, csrf_token=new_token(24),
                          mfa_pending=False, created_at=now, last_seen_at=now, expires_at=expires_at,
                          checkin_id=checkin_id, group_session_id=group_session_id)
        if previous_token:
            await store.delete_session(conn, token_digest(previous_token))
        await store.insert_session(conn, token_hash=session.token_hash, user_id=actor.user_id, kind=kind,
                                   csrf_token=session.csrf_token, mfa_pending=False, created_at=now,
                                   last_seen_at=now, expires_at=expires_at, checkin_id=checkin_id,
                                   group_session_id=group_session_id)
        details: dict[str, object] = {"kind": kind, "address": address}
        details.update({k: v for k, v in (("checkin_id", checkin_id), ("group_session_id", group_session_id)) if v})
        await audit.append(conn, at=now, actor_id=actor.user_id, action="session.create", target_type="user",
                           target_id=actor.user_id, details=details)
        return LoginResult(actor, token, session)

    async def insert_checkin_session(self, conn: AsyncConnection, actor: Actor, *, checkin_id: str, kind: str,
                                     expires_at: datetime, address: str) -> LoginResult:
        """A session limited to one check-in, inside the caller's transaction (a redeemed link code)."""
        return await self.insert_session(conn, actor, kind=kind, address=address, expires_at=expires_at,
                                         checkin_id=checkin_id)

    async def _rehash(self, user_id: str, password: str) -> None:
        hashed = await self.passwords.hash(password)
        async with self.store.write("password.rehash") as conn:
            await store.update_user(conn, user_id, password_hash=hashed)

    async def authenticate(self, token: str) -> Authenticated:
        """Resolve a presented token to its session, enforcing idle and absolute expiry."""
        if not token or len(token) > 128:
            raise Unauthenticated("Not signed in")
        digest = token_digest(token)
        now = self.clock.now()
        async with self.store.read("session.lookup") as conn:
            found = await store.session_with_user(conn, digest)
        if found is None:
            raise Unauthenticated("Not signed in")
        session, row = found
        actor = self.actor_of(row)
        if (
            row.disabled
            or self.expiry_for(actor.role).expired(session, now)
            or (row.is_demo and not self.settings.demo)
        ):
            async with self.store.write("session.expire") as conn:
                await store.delete_session(conn, digest)
            raise Unauthenticated("Your session has ended; sign in again")
        if (now - session.last_seen_at).total_seconds() >= 60:
            # Idle tracking to the minute: a write per minute per session, not per request.
            async with self.store.write("session.touch") as conn:
                await store.touch_session(conn, digest, now)
        return Authenticated(actor, session)

    async def logout(self, auth: Authenticated) -> None:
        async with self.store.write("session.delete") as conn:
            await store.delete_session(conn, auth.session.token_hash)
            await audit.append(
                conn,
                at=self.clock.now(),
                actor_id=auth.actor.user_id,
                action="session.delete",
                target_type="user",
                target_id=auth.actor.user_id,
            )

    # -- TOTP -----------------------------------------------------------------------

    def _seal(self, user_id: str, secret: str) -> bytes:
        return envelope.encrypt(self._totp_key, secret.encode(), user_id.encode())

    def _unseal(self, user_id: str, sealed: bytes) -> str:
        return envelope.decrypt(self._totp_key, sealed, user_id.encode()).decode()

    async def totp_begin(self, actor: Actor) -> tuple[str, str]:
        secret = totp.new_secret()
        async with self.store.write("totp.begin") as conn:
            row = await store.user_by_id(conn, actor.user_id)
            if row.totp_enabled:
                raise Conflict("A second factor is already enrolled", reason="identity.totp_enrolled")
            await store.update_user(conn, actor.user_id, totp_secret=self._seal(actor.user_id, secret))
            await audit.append(
                conn,
                at=self.clock.now(),
                actor_id=actor.user_id,
                action="totp.begin",
                target_type="user",
                target_id=actor.user_id,
            )
        return secret, totp.provisioning_uri(secret, actor.username)

    async def totp_confirm(self, actor: Actor, code: str) -> list[str]:
        now = self.clock.now()
        codes = totp.new_recovery_codes()
        async with self.store.write("totp.confirm") as conn:
            row = await store.user_by_id(conn, actor.user_id)
            if row.totp_enabled or row.totp_secret is None:
                raise Conflict("Start enrolment first", reason="identity.totp_not_started")
            if totp.verify(self._unseal(actor.user_id, row.totp_secret), code, now.timestamp()) is None:
                raise BadRequest("That code is not valid; check your authenticator's clock",
                                 reason="identity.totp_invalid")
            await store.update_user(conn, actor.user_id, totp_enabled=True)
            await store.replace_recovery_codes(
                conn,
                actor.user_id,
                [
                    {"id": new_id(), "user_id": actor.user_id, "code_hash": token_digest(c), "used_at": None}
                    for c in codes
                ],
            )
            await audit.append(
                conn, at=now, actor_id=actor.user_id, action="totp.enable", target_type="user", target_id=actor.user_id
            )
        return codes

    async def totp_complete(self, auth: Authenticated, code: str, *, address: str) -> Authenticated:
        """Second step of a staff login: a TOTP code or a recovery code."""
        if not auth.session.mfa_pending:
            return auth
        key = f"mfa:{auth.actor.username}"
        self.throttle(key, address)
        now = self.clock.now()
        async with self.store.write("totp.verify") as conn:
            row = await store.user_by_id(conn, auth.actor.user_id)
            ok = (
                row.totp_secret is not None
                and totp.verify(self._unseal(auth.actor.user_id, row.totp_secret), code, now.timestamp()) is not None
            )
            if not ok and "-" in code:
                ok = await store.use_recovery_code(conn, auth.actor.user_id, token_digest(code.strip()), now)
            if ok:
                await store.update_session(conn, auth.session.token_hash, mfa_pending=False)
            await audit.append(
                conn,
                at=now,
                actor_id=auth.actor.user_id,
                action="totp.verify" if ok else "totp.failed",
                target_type="user",
                target_id=auth.actor.user_id,
            )
        if not ok:
            self.limiter.failed(key, address, self.clock.monotonic())
            raise InvalidCredentials("That code is not valid")
        return Authenticated(auth.actor, _replace_session(auth.session, mfa_pending=False))

    # -- client enrolment -----------------------------------------------------------

    async def issue_enrolment_code(self, conn: AsyncConnection, by: Actor, client_id: str) -> str:
        """A one-time code a client uses to set their password; runs in the caller's transaction."""
        code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
        now = self.clock.now()
        await store.insert_enrolment_code(
            conn,
            code_hash=token_digest(code),
            user_id=client_id,
            created_by=by.user_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.enrolment_code_ttl_s),
        )
        await audit.append(
            conn, at=now, actor_id=by.user_id, action="enrolment.issue", target_type="user", target_id=client_id
        )
        return code

    async def redeem_enrolment_code(self, code: str, password: str, *, address: str) -> str:
        check_password_rules(password)
        # Per address only: one shared key would let a few bad codes block everyone's enrolment.
        key = f"enrol:{address}"
        self.throttle(key, address)
        digest = token_digest(code.strip().upper())
        hashed = await self.passwords.hash(password)
        now = self.clock.now()
        async with self.store.write("enrolment.redeem") as conn:
            row = await store.enrolment_code(conn, digest)
            valid = row is not None and row.used_at is None and row.expires_at > now
            if valid:
                valid = await store.use_enrolment_code(conn, digest, now)
            if not valid:
                self.limiter.failed(key, address, self.clock.monotonic())
                raise InvalidCredentials(
                    "That enrolment code is not valid or has expired; ask your officer for a new one"
                )
            await store.update_user(conn, row.user_id, password_hash=hashed)
            user = await store.user_by_id(conn, row.user_id)
            await audit.append(
                conn, at=now, actor_id=row.user_id, action="enrolment.redeem", target_type="user", target_id=row.user_id
            )
        return str(user.username)


def _replace_session(session: Session, **changes: object) -> Session:
    from dataclasses import replace

    return replace(session, **changes)  # type: ignore[arg-type]


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
