"""Right of access and portability (GDPR art. 15, 20): everything held about a client.

``collect`` gathers, inside the caller's (audited) transaction, the client's account,
their case, every registered data category (decrypted, so the export is readable
and portable), the plain case records, who accessed the case (from the audit log),
and when each category's data expires. ``render_html`` turns the same dictionary
into a page a person can read; nothing is in one that is not in the other.
"""

from __future__ import annotations

import base64
import html
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.audit.purpose import purpose_of
from server.crypto.keyring import Keyring, KeyShredded
from server.identity import store as identity_store
from server.policy.schema import CATEGORIES, RetentionConfig
from server.retention import plan, store
from server.retention.registry import Holder, holders_of

#: At most this many rows per table and access-log entries; an export says when it was cut.
MAX_ROWS = 10_000
SKIP = frozenset({"body", "key_id"})


def _value(v: Any) -> Any:
    if isinstance(v, date):  # datetimes too; days: a mentoring activity's (issue 16)
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


def _plain(row: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {k: _value(v) for k, v in row._mapping.items() if k not in skip}


async def _holder_items(conn: AsyncConnection, keyring: Keyring, holder: Holder, case_id: str) -> list[dict[str, Any]]:
    out = []
    skip = SKIP | {holder.key_col, holder.body_col}  # the ciphertext is exported decrypted, or not at all
    for row in await store.holder_rows(conn, holder, case_id, limit=MAX_ROWS):
        item = _plain(row, skip)
        key_id = getattr(row, holder.key_col)
        if key_id is None:  # a case record whose sealed value is gone or never was (a face alone)
            out.append(item)
            continue
        try:
            data = await keyring.decrypt(conn, key_id=key_id, blob=getattr(row, holder.body_col), aad=holder.aad(row))
        except KeyShredded:
            if holder.case_record:
                out.append(item)  # the comment is shredded; the answer itself is still held
            continue  # shredded by retention: no longer held
        try:
            item["content"] = data.decode()
        except UnicodeDecodeError:
            item["content_base64"] = base64.b64encode(data).decode()
        out.append(item)
    return out


async def collect(conn: AsyncConnection, keyring: Keyring, config: RetentionConfig, policy_version: int,
                  case: Any, now: datetime) -> dict[str, Any]:
    client = await identity_store.user_by_id(conn, case.client_id)
    expiries: dict[str, datetime] = {}
    for key in await store.case_keys(conn, case.id):
        at = plan.bucket_expiry(config, key.category, key.bucket)
        if key.category not in expiries or at < expiries[key.category]:
            expiries[key.category] = at
    categories: dict[str, Any] = {}
    for category in CATEGORIES:
        items: list[dict[str, Any]] = []
        for holder in holders_of(category):
            items.extend(await _holder_items(conn, keyring, holder, case.id))
        rule = config.categories.of(category)
        nxt = expiries.get(category)
        categories[category] = {
            "period_days": rule.period_days, "action": rule.action, "count": len(items), "items": items,
            "next_expiry_at": None if case.legal_hold or nxt is None else nxt.isoformat(),
            "on_hold": bool(case.legal_hold),
        }
    access = await audit.for_case(conn, case.id, limit=MAX_ROWS)
    who = await store.names(conn, {r.actor_id for r in access if r.actor_id} | {case.officer_id})
    categories["audit_log"]["count"] = len(access)
    return {
        "generated_at": now.isoformat(),
        "policy_version": policy_version,
        "client": {"id": client.id, "username": client.username, "display_name": client.display_name,
                   "locale": client.locale, "created_at": client.created_at.isoformat()},
        "case": {"id": case.id, "officer": who.get(case.officer_id, ("", ""))[0],
                 "officer_since": case.officer_since.isoformat(), "created_at": case.created_at.isoformat(),
                 "domestic_violence": bool(case.domestic_violence), "protected_person": bool(case.protected_person),
                 "low_digital_access": bool(case.low_digital_access),
                 "interpreter_needed": bool(case.interpreter_needed), "language": case.language,
                 "legal_hold": bool(case.legal_hold)},
        "categories": categories,
        "records": {name: [_plain(r) for r in await store.rows_of_case(conn, name, case.id)]
                    for name in ("face_to_face_meetings", "remote_exceptions", "legal_holds", "data_requests")},
        "access_log": [{"at": r.at.isoformat(), "actor": who.get(r.actor_id or "", ("system", "system"))[0],
                        "role": who.get(r.actor_id or "", ("system", "system"))[1], "action": r.action,
                        "purpose": purpose_of(r.action)}
                       for r in access],
    }


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>—</p>"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th scope=\"col\">{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: dict[str, Any]) -> str:
    e = html.escape
    parts = [f"<h1>Data held about {e(data['client']['display_name'])}</h1>",
             f"<p>Generated {e(data['generated_at'])} under policy version {data['policy_version']}.</p>",
             "<h2>Account</h2>", _table([data["client"]]), "<h2>Case</h2>", _table([data["case"]])]
    for name, cat in data["categories"].items():
        expiry = "on legal hold" if cat["on_hold"] else (
            cat["next_expiry_at"] or ("none (kept as counts until erased)" if cat["count"] else "nothing held"))
        parts.append(f"<h2>{e(name)}</h2><p>{cat['count']} items; kept {cat['period_days']} days after the "
                     f"end of each month, then {e(cat['action'])}; next removal: {e(expiry)}</p>")
        parts.append(_table(cat["items"]))
    for name, rows in data["records"].items():
        parts.append(f"<h2>{e(name)}</h2>" + _table(rows))
    parts.append("<h2>Who accessed this data</h2>" + _table(data["access_log"]))
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your data</title>"
            "<style>table{border-collapse:collapse}td,th{border:1px solid #666;padding:2px 6px}</style>"
            "</head><body><main>" + "".join(parts) + "</main></body></html>")
