"""OpenAPI 3.1, generated from the same msgspec schemas that validate requests."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from server.web.routing import RouteSpec
from server.web.schemas import ErrorBody

_PARAM = re.compile(r"\{(\w+)\}")


def document(specs: list[RouteSpec], *, version: str = "0.1.0") -> dict[str, Any]:
    types: list[Any] = [ErrorBody]
    for spec in specs:
        for t in (spec.body, spec.query, spec.response):
            if t is not None and t not in types:
                types.append(t)
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    by_type = dict(zip(types, schemas, strict=True))
    error_ref = {"content": {"application/json": {"schema": by_type[ErrorBody]}}}
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        slug = _PARAM.sub(r"by_\1", spec.path).strip("/").replace("/", "_").replace("-", "_")
        op: dict[str, Any] = {
            "operationId": f"{spec.method.lower()}_{slug}",
            "summary": spec.summary,
            "tags": [spec.tag],
            "x-permission": spec.permission.name,
            "responses": {},
        }
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
                  for n in _PARAM.findall(spec.path)]
        if spec.query is not None:
            qschema = components[spec.query.__name__]
            for name, prop in qschema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in qschema.get("required", []),
                               "schema": prop})
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": by_type[spec.body]}}}
        binary = {"schema": {"type": "string", "format": "binary"}}
        if spec.raw_body:
            op["requestBody"] = {"required": True, "content": dict.fromkeys(spec.raw_body, binary)}
        if spec.raw_response:
            # A JSON document built by the handler (an export) is an object; anything else is bytes.
            content = {media: {"schema": {"type": "object"}} if media == "application/json" else binary
                       for media in spec.raw_response}
            op["responses"][str(spec.status)] = {"description": "OK", "content": content}
        elif spec.response is not None:
            op["responses"][str(spec.status)] = {"description": "OK",
                                                 "content": {"application/json": {"schema": by_type[spec.response]}}}
        else:
            op["responses"]["204" if spec.status == 200 else str(spec.status)] = {"description": "Done"}
        for status, why in ((400, "Malformed JSON, a date outside the supported years or a refused name"),
                            (401, "Not signed in"), (403, "Refused; carries rule_id"),
                            (404, "Not found"), (409, "Conflict"), (413, "Body too large"),
                            (415, "Body of a media type the route does not take"),
                            (422, "Invalid request"),
                            (429, "Rate limited")):
            op["responses"][str(status)] = {"description": why, **error_ref}
        if not spec.permission.public:
            op["security"] = [{"bearer": []}, {"cookie": []}]
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tandem API", "version": version,
                 "description": "Remote supervision for probation services. Refusals carry the policy rule_id."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "tandem_session"},
            },
        },
    }
