"""Every operation of the API has a screen (issue 13): the authorisation matrix's rule,
applied to the web client. An operation of the registry (what /api/openapi.json lists)
that no module of client_web/ calls fails here, unless ``API_ONLY`` names it with the
reason it has no screen.

A module calls an operation when it holds the operation's path as a string or template
literal (``/api/cases/${id}/notes``: each ``${…}`` stands for one path parameter; a query
string is ignored) and names its method on the same line or the two before it
(``api.post(``, ``request("PUT"``, ``method: "DELETE"``), or assigns the literal to a
name that a call with a method takes (``const url = `…`; api.post(url, …)``). A literal
with no method named counts as a GET (a link, ``fetch`` or ``api.get``).
"""

from __future__ import annotations

import re
from pathlib import Path

from server.app import build_registry

CLIENT = Path(__file__).resolve().parents[3] / "client_web"

#: Operations with no screen, each with why. The issue's bar: at most 5.
API_ONLY: dict[tuple[str, str], str] = {
    ("GET", "/api/cases/{case_id}"): "a case as integrators read it; the officer's case page reads the fuller "
                                     "/api/cases/{case_id}/file, the client's home /api/my/case",
    ("GET", "/api/mentees"): "a mentor's mentees by name, as integrators read them; the mentor's home reads "
                             "/api/mentoring, the same mentees with their periods (issue 16)",
}

LITERAL = re.compile(r"""[`"'](/(?:api|metrics)[^`"'?#\s]*)""")
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
METHOD = re.compile(r"""api\.(get|post|put|del|patch)\(|request\(\s*["'](GET|POST|PUT|DELETE)["']|"""
                    r"""method:\s*["'](GET|POST|PUT|DELETE)["']|\.open\(\s*["'](GET|POST|PUT|DELETE)["']|"""
                    r"""\b(upload)\(""")
#: api.upload is an XHR POST
SHORT = {"get": "GET", "post": "POST", "put": "PUT", "del": "DELETE", "patch": "PATCH", "upload": "POST"}
ASSIGNED = re.compile(r"(?:const|let)\s+(\w+)\s*=\s*$")


def _shape(path: str) -> str:
    """``/api/cases/{case_id}/notes`` and ``/api/cases/${x}/notes`` -> ``/api/cases/{}/notes``."""
    return re.sub(r"\{[^}]*\}", "{}", PLACEHOLDER.sub("{}", path))


def _methods(text: str) -> list[str]:
    return [SHORT.get(m.group(1) or m.group(5) or "", "") or m.group(2) or m.group(3) or m.group(4)
            for m in METHOD.finditer(text)]


def used_operations() -> set[tuple[str, str]]:
    """(method, shape) for every API path literal in the client's modules."""
    found: set[tuple[str, str]] = set()
    for module in sorted(CLIENT.rglob("*.js")) + sorted(CLIENT.rglob("*.html")):
        text = PLACEHOLDER.sub("${}", module.read_text(encoding="utf-8"))  # ${f("x")} holds quotes
        lines = text.splitlines()
        for i, line in enumerate(lines):
            for literal in LITERAL.finditer(line):
                near = "\n".join([*lines[max(0, i - 2):i], line[:literal.start()]])
                methods = _methods(near)
                named = ASSIGNED.search(line[:literal.start()])
                if named:  # const url = `/api/…`; … api.post(url, …)
                    methods += [SHORT.get(m.group(1) or "", "") or m.group(2) for m in
                                re.finditer(rf"""api\.(get|post|put|del|patch)\(\s*{named.group(1)}\b|"""
                                            rf"""request\(\s*["'](GET|POST|PUT|DELETE)["']\s*,\s*{named.group(1)}\b""",
                                            text)]
                for method in methods or ["GET"]:
                    found.add((method, _shape(literal.group(1))))
    return found


def operations() -> set[tuple[str, str]]:
    return {(r.method, r.path) for r in build_registry().routes}


def test_every_operation_has_a_screen_or_a_reason() -> None:
    used = used_operations()
    missing = sorted((m, p) for m, p in operations()
                     if (m, _shape(p)) not in used and (m, p) not in API_ONLY)
    assert not missing, "operations no page uses (add a screen, or a reason in API_ONLY):\n" + "\n".join(
        f"  {m} {p}" for m, p in missing)


def test_the_api_only_list_names_real_operations_no_page_uses() -> None:
    used, ops = used_operations(), operations()
    stale = [op for op in API_ONLY if op not in ops or (op[0], _shape(op[1])) in used]
    assert not stale, f"API_ONLY lists operations that do not exist or that a page uses: {stale}"
    assert len(API_ONLY) <= 5, "issue 13: at most 5 operations without a screen"

