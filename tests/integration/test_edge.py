"""The HTTP edge: security headers, metrics, health, OpenAPI, logs without secrets."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from server.logs import JsonFormatter
from tests.helpers.world import PASSWORD, build, login


async def test_security_headers_on_api_and_static(api: Any) -> None:
    client, _ = api
    for path in ("/api/me", "/", "/healthz"):
        r = await client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"


async def test_health_ready_and_metrics(api: Any) -> None:
    client, services = api
    await build(services)
    assert (await client.get("/healthz")).status == 200
    ready = await (await client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["checks"]["policies"] == "version 1"
    await client.post("/api/session", json={"username": "officer", "password": "wrong-wrong-wrong"})
    metrics = await (await client.get("/metrics")).text()
    assert 'tandem_http_requests_total{method="POST",route="/api/session",status="401"}' in metrics
    assert "tandem_transaction_seconds_bucket" in metrics



async def test_out_of_scope_is_answered_as_absent_and_counted_as_a_scope_refusal(api: Any) -> None:
    client, services = api
    w = await build(services)
    officer3 = await login(client, "officer3")
    absent = await client.get("/api/cases/" + "0" * 32, headers=officer3)
    hidden = await client.get(f"/api/cases/{w.cases['own']}", headers=officer3)
    assert (hidden.status, await hidden.json()) == (absent.status, await absent.json()) == (
        404, {"error": {"code": "not_found", "message": "No such case"}})
    metrics = await (await client.get("/metrics")).text()
    assert 'tandem_policy_refusals_total{rule_id="scope"} 1.0' in metrics


async def test_openapi_describes_every_route_with_schemas(api: Any) -> None:
    client, services = api
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    for spec in services.registry.routes:
        op = doc["paths"][spec.path][spec.method.lower()]
        assert op["x-permission"] == spec.permission.name
        if spec.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert schema.get("additionalProperties") is False, spec.path
    assert "LoginRequest" in doc["components"]["schemas"]


async def test_logs_carry_no_secrets(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    client, services = api
    await build(services)
    caplog.set_level(logging.DEBUG)
    headers = await login(client, "officer")
    await client.get("/api/caseload", headers=headers)
    await client.post("/api/session", json={"username": "officer", "password": "a-wrong-password"})
    fmt = JsonFormatter()
    text = "\n".join(fmt.format(r) for r in caplog.records)
    token = headers["Authorization"].split()[1]
    assert PASSWORD not in text and "a-wrong-password" not in text and token not in text
    assert '"route": "/api/caseload"' in text


def test_formatter_redacts_secret_named_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    record.password = "hunter2"
    record.session_token = "abc"
    out = JsonFormatter().format(record)
    assert "hunter2" not in out and "abc" not in out and "[redacted]" in out


async def test_unknown_route_and_method_get_the_error_shape(api: Any) -> None:
    client, _ = api
    r = await client.get("/api/nope")
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
    r = await client.patch("/api/me")
    assert r.status == 405 and (await r.json())["error"]["code"] == "method_not_allowed"
