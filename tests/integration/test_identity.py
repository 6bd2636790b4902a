"""Sign-in, sessions, CSRF, expiry, TOTP, throttling and enrolment, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from server.errors import InvalidCredentials, RateLimited
from server.identity import totp
from server.identity.model import Role
from server.ids import token_digest
from server.store.schema import audit_log, sessions, users
from tests.helpers.http import from_address
from tests.helpers.world import PASSWORD, build, login


async def test_login_bearer_and_me(api: Any) -> None:
    client, services = api
    await build(services)
    headers = await login(client, "officer")
    resp = await client.get("/api/me", headers=headers)
    assert resp.status == 200
    me = await resp.json()
    assert me["username"] == "officer" and me["role"] == "officer"


async def test_wrong_password_is_refused_with_code_and_audited(api: Any) -> None:
    client, services = api
    await build(services)
    resp = await client.post("/api/session", json={"username": "officer", "password": "nope-nope-nope"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_credentials"
    resp = await client.post("/api/session", json={"username": "nobody", "password": "nope-nope-nope"})
    assert (await resp.json())["error"]["code"] == "invalid_credentials"
    async with services.store.read("t") as conn:
        n = (await conn.execute(select(func.count()).where(audit_log.c.action == "login.failed"))).scalar_one()
    assert n == 2


async def test_tokens_are_stored_hashed_and_rotate_at_login(api: Any) -> None:
    client, services = api
    await build(services)
    r1 = await client.post("/api/session", json={"username": "officer", "password": PASSWORD},
                           headers={"Origin": f"http://{client.host}:{client.port}"})
    assert r1.status == 200
    first = client.session.cookie_jar.filter_cookies(client.make_url("/"))["tandem_session"].value
    # A second login presenting the first cookie gets a new token; the old one is revoked.
    r2 = await client.post("/api/session", json={"username": "officer", "password": PASSWORD},
                           headers={"Origin": f"http://{client.host}:{client.port}"})
    second = client.session.cookie_jar.filter_cookies(client.make_url("/"))["tandem_session"].value
    assert first != second
    async with services.store.read("t") as conn:
        stored = {r.token_hash for r in await conn.execute(select(sessions.c.token_hash))}
    assert token_digest(second) in stored and token_digest(first) not in stored
    assert first not in stored and second not in stored
    assert "HttpOnly" in r2.headers["Set-Cookie"] and "SameSite=Strict" in r2.headers["Set-Cookie"]


async def test_cookie_session_needs_csrf_token_on_writes(api: Any) -> None:
    client, services = api
    await build(services)
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    r = await client.post("/api/session", json={"username": "officer", "password": PASSWORD}, headers=origin)
    csrf = (await r.json())["csrf_token"]
    assert (await r.json())["token"] is None  # browsers never see the token
    resp = await client.delete("/api/session", headers=origin)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "csrf_failed"
    resp = await client.delete("/api/session", headers={**origin, "X-CSRF-Token": "forged"})
    assert resp.status == 403
    resp = await client.delete("/api/session", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert resp.status == 403
    resp = await client.delete("/api/session", headers={**origin, "X-CSRF-Token": csrf})
    assert resp.status == 204
    assert (await client.get("/api/me")).status == 401


async def test_cookie_token_is_not_accepted_as_bearer(api: Any) -> None:
    client, services = api
    await build(services)
    await client.post("/api/session", json={"username": "officer", "password": PASSWORD, "kind": "cookie"})
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))["tandem_session"].value
    client.session.cookie_jar.clear()
    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 401


async def test_forged_and_malformed_tokens(api: Any) -> None:
    client, services = api
    await build(services)
    for header in ("Bearer forged", "Bearer " + "x" * 500, "Basic abc", "Bearer"):
        resp = await client.get("/api/me", headers={"Authorization": header})
        assert resp.status == 401, header
        assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_staff_idle_and_absolute_expiry(api: Any) -> None:
    client, services = api
    await build(services)
    clock = services.clock
    headers = await login(client, "officer")
    clock.advance(timedelta(seconds=services.settings.session_idle_s - 5))
    assert (await client.get("/api/me", headers=headers)).status == 200
    clock.advance(timedelta(seconds=services.settings.session_idle_s + 1))
    resp = await client.get("/api/me", headers=headers)
    assert resp.status == 401
    # Clients have no idle timeout, only the absolute one.
    headers = await login(client, "client")
    clock.advance(timedelta(days=2))
    assert (await client.get("/api/me", headers=headers)).status == 200
    clock.advance(timedelta(seconds=services.settings.client_session_absolute_s))
    assert (await client.get("/api/me", headers=headers)).status == 401
    # Staff sessions that stay active still end at the absolute limit.
    headers = await login(client, "admin")
    for _ in range(int(services.settings.session_absolute_s / services.settings.session_idle_s) + 1):
        clock.advance(timedelta(seconds=services.settings.session_idle_s - 60))
        last = await client.get("/api/me", headers=headers)
    assert last.status == 401


async def test_totp_enrol_login_and_recovery(api: Any) -> None:
    client, services = api
    await build(services)
    headers = await login(client, "officer")
    begin = await (await client.post("/api/me/totp", headers=headers)).json()
    now = services.clock.now().timestamp()
    bad = await client.post("/api/me/totp/confirm", headers=headers, json={"code": "000000"})
    assert bad.status in (400, 422)
    ok = await client.post("/api/me/totp/confirm", headers=headers, json={"code": totp.code_at(begin["secret"], now)})
    codes = (await ok.json())["recovery_codes"]
    assert len(codes) == 10
    # Next login is pending until the second factor.
    r = await client.post("/api/session", json={"username": "officer", "password": PASSWORD, "kind": "bearer"})
    body = await r.json()
    assert body["mfa_required"] is True
    pending = {"Authorization": f"Bearer {body['token']}"}
    resp = await client.get("/api/caseload", headers=pending)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "mfa_required"
    resp = await client.post("/api/session/totp", headers=pending, json={"code": "123456"})
    assert resp.status == 401
    resp = await client.post("/api/session/totp", headers=pending, json={"code": totp.code_at(begin["secret"], now)})
    assert resp.status == 200
    assert (await client.get("/api/caseload", headers=pending)).status == 200
    # A recovery code works once.
    r = await client.post("/api/session", json={"username": "officer", "password": PASSWORD, "kind": "bearer"})
    pending = {"Authorization": f"Bearer {(await r.json())['token']}"}
    assert (await client.post("/api/session/totp", headers=pending, json={"code": codes[0]})).status == 200
    r = await client.post("/api/session", json={"username": "officer", "password": PASSWORD, "kind": "bearer"})
    pending = {"Authorization": f"Bearer {(await r.json())['token']}"}
    assert (await client.post("/api/session/totp", headers=pending, json={"code": codes[0]})).status == 401
    async with services.store.read("t") as conn:
        secret = (await conn.execute(select(users.c.totp_secret).where(users.c.username == "officer"))).scalar_one()
    assert begin["secret"].encode() not in secret  # sealed at rest


async def test_staff_without_second_factor_must_enrol_when_required(app_factory: Any) -> None:
    client, services = await app_factory(require_staff_mfa=True)
    await build(services)
    headers = await login(client, "officer")
    resp = await client.get("/api/caseload", headers=headers)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "mfa_enrolment_required"
    assert (await client.post("/api/me/totp", headers=headers)).status == 200
    client_headers = await login(client, "client")  # clients are not staff
    assert (await client.get("/api/my/case", headers=client_headers)).status == 200


async def test_login_throttle_is_checked_before_hashing_and_expires(api: Any) -> None:
    client, services = api
    await build(services)
    for _ in range(services.settings.login_limit_per_source):
        await client.post("/api/session", json={"username": "officer", "password": "wrong-password-x"})
    resp = await client.post("/api/session", json={"username": "officer", "password": PASSWORD})
    assert resp.status == 429 and "Retry-After" in resp.headers
    services.clock.advance(services.settings.login_max_block_s + 1)
    assert (await client.post("/api/session", json={"username": "officer", "password": PASSWORD})).status == 200


async def test_the_real_users_login_does_not_reset_an_attackers_throttle(api: Any) -> None:
    client, services = api
    await build(services)
    url = client.make_url("/api/session")
    wrong = {"username": "officer", "password": "wrong-password-x"}
    right = {"username": "officer", "password": PASSWORD}
    assert (await client.post("/api/session", json=right)).status == 200
    async with from_address("127.0.0.2") as attacker:
        for _ in range(services.settings.login_limit_per_source):
            assert (await attacker.post(url, json=wrong)).status == 401
        assert (await attacker.post(url, json=wrong)).status == 429
        assert (await client.post("/api/session", json=right)).status == 200
        resp = await attacker.post(url, json=wrong)
        assert resp.status == 429 and "Retry-After" in resp.headers


async def test_behind_a_trusted_proxy_each_client_has_its_own_count(app_factory: Any) -> None:
    client, services = await app_factory(trusted_proxies=("127.0.0.1/32",))
    await build(services)
    wrong = {"username": "officer", "password": "wrong-password-x"}
    right = {"username": "officer", "password": PASSWORD}
    user, attacker = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.5"}
    assert (await client.post("/api/session", json=right, headers=user)).status == 200
    for _ in range(services.settings.login_limit_per_source):
        assert (await client.post("/api/session", json=wrong, headers=attacker)).status == 401
    assert (await client.post("/api/session", json=wrong, headers=attacker)).status == 429
    assert (await client.post("/api/session", json=right, headers=user)).status == 200
    assert (await client.post("/api/session", json=wrong, headers=attacker)).status == 429
    # A client cannot choose its address by writing one in front of what the proxy appended.
    spoofed = {"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}
    assert (await client.post("/api/session", json=wrong, headers=spoofed)).status == 429


async def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(api: Any) -> None:
    client, services = api
    await build(services)
    wrong = {"username": "officer", "password": "wrong-password-x"}
    for i in range(services.settings.login_limit_per_source):
        resp = await client.post("/api/session", json=wrong, headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert resp.status == 401
    resp = await client.post("/api/session", json=wrong, headers={"X-Forwarded-For": "203.0.113.99"})
    assert resp.status == 429


async def test_failures_from_many_addresses_add_up_for_the_account(app_factory: Any) -> None:
    client, services = await app_factory(login_limit_per_source=5, login_limit_per_account=8)
    await build(services)
    url = client.make_url("/api/session")
    wrong = {"username": "officer", "password": "wrong-password-x"}
    right = {"username": "officer", "password": PASSWORD}
    assert (await client.post("/api/session", json=right)).status == 200
    for address in ("127.0.0.2", "127.0.0.3"):
        async with from_address(address) as attacker:
            for _ in range(4):
                assert (await attacker.post(url, json=wrong)).status == 401
    async with from_address("127.0.0.4") as attacker:
        assert (await attacker.post(url, json=right)).status == 429
    # The real user's known address is not held back by the account-wide block, and its success
    # leaves that block in place.
    assert (await client.post("/api/session", json=right)).status == 200
    async with from_address("127.0.0.4") as attacker:
        assert (await attacker.post(url, json=right)).status == 429


async def test_demo_accounts_refused_outside_demo_mode(api: Any) -> None:
    client, services = api
    await services.identity.create_user(None, username="demo_user", display_name="Demo", role=Role.OFFICER,
                                        office_id=None, password=PASSWORD, is_demo=True)
    resp = await client.post("/api/session", json={"username": "demo_user", "password": PASSWORD})
    assert resp.status == 401


async def test_enrolment_code_is_one_time_and_expires(api: Any) -> None:
    client, services = api
    w = await build(services)
    r = await client.post("/api/enrol", json={"code": w.codes["own"], "password": "my new password"})
    assert r.status == 200 and (await r.json())["username"] == "client"
    r = await client.post("/api/enrol", json={"code": w.codes["own"], "password": "another password"})
    assert r.status == 401
    services.clock.advance(timedelta(seconds=services.settings.enrolment_code_ttl_s + 1))
    r = await client.post("/api/enrol", json={"code": w.codes["same_office"], "password": "my new password"})
    assert r.status == 401
    assert (await client.post("/api/session", json={"username": "client", "password": "my new password"})).status == 200


async def test_admin_creates_staff_and_disables(api: Any) -> None:
    client, services = api
    w = await build(services)
    admin = await login(client, "admin")
    r = await client.post("/api/admin/users", headers=admin, json={
        "username": "newbie", "display_name": "New Officer", "role": "officer", "office_id": w.offices["A"],
        "password": "a-long-password"})
    assert r.status == 201
    new_id = (await r.json())["id"]
    h = await login(client, "newbie", "a-long-password")
    r = await client.post(f"/api/admin/users/{new_id}/disabled", headers=admin, json={"disabled": True})
    assert r.status == 204
    assert (await client.get("/api/me", headers=h)).status == 401
    r = await client.post("/api/admin/users", headers=admin, json={
        "username": "c", "display_name": "C", "role": "client", "password": "a-long-password"})
    assert r.status == 422


async def test_me_says_when_a_second_factor_must_be_enrolled(app_factory: Any) -> None:
    client, services = await app_factory(require_staff_mfa=True)
    await build(services)
    me = await (await client.get("/api/me", headers=await login(client, "facilitator"))).json()
    assert me["mfa_enrolment_required"] is True
    me = await (await client.get("/api/me", headers=await login(client, "client"))).json()
    assert me["mfa_enrolment_required"] is False


async def test_bad_enrolment_codes_from_one_address_do_not_block_another(api: Any) -> None:
    _, services = api
    w = await build(services)
    last = ""
    for _ in range(services.settings.login_limit_per_source + 1):
        try:
            await services.identity.redeem_enrolment_code("BAD000-BAD000-BAD000", "long enough pw",
                                                           address="6.6.6.6")
        except (InvalidCredentials, RateLimited) as err:
            last = type(err).__name__
    assert last == "RateLimited"
    assert await services.identity.redeem_enrolment_code(w.codes["own"], "long enough pw",
                                                         address="10.0.0.1") == "client"
