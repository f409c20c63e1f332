"""The OpenAPI 3.1 document, generated from the app's url_map and the models each view names.

Every route under ``/api`` plus ``/healthz`` and ``/readyz`` must carry an :func:`documented`
description; a route without one makes :func:`openapi_document` raise (and its test fail), so the
document can't silently miss a route. Shapes come from :mod:`syncsvc.web.schemas`, the same models
that validate the requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

from syncsvc.domain.checks import concrete
from syncsvc.web.schemas import Error

REF = "#/components/schemas/{model}"
Response = tuple[type[BaseModel] | None, str] | str
"""``(model, description)``, or just a description for an :class:`Error` reply."""

AUTH: Mapping[int, Response] = {401: "Missing or wrong bearer token"}
REDIS: Mapping[int, Response] = {503: "Redis is unavailable"}
DOCUMENTED_PREFIXES = ("/api/",)
DOCUMENTED_PATHS = ("/healthz", "/readyz")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, Response]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    public: bool = False  # no bearer token needed
    path_params: Mapping[str, str] = field(default_factory=dict)  # name -> description
    headers: Mapping[str, tuple[bool, str]] = field(default_factory=dict)  # name -> (required, description)
    description: str = ""


def documented(
    summary: str,
    responses: Mapping[int, Response],
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    public: bool = False,
    path_params: Mapping[str, str] | None = None,
    headers: Mapping[str, tuple[bool, str]] | None = None,
    description: str = "",
) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document (put it under the ``@bp.get(...)`` line)."""

    def mark(view: F) -> F:
        op = Operation(summary, responses, body, query, public, path_params or {}, headers or {}, description)
        view.__openapi__ = op  # type: ignore[attr-defined]
        return view

    return mark


def _path(rule: str) -> str:
    """``/sync/job/<job_id>`` -> ``/sync/job/{jobId}`` (the API speaks camelCase)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "{" + to_camel(m.group(1)) + "}", rule)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(op: Operation, path_names: list[str], models: set[type[BaseModel]]) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.public:
        out["security"] = []
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        | ({"description": op.path_params[name]} if name in op.path_params else {})
        for name in path_names
    ]
    params += [
        {"name": name, "in": "header", "required": required, "schema": {"type": "string"}, "description": text}
        for name, (required, text) in op.headers.items()
    ]
    if op.query is not None:
        for name, prop in op.query.model_json_schema(by_alias=True)["properties"].items():
            schema = {k: v for k, v in concrete(prop).items() if k not in ("anyOf", "title", "default", "description")}
            param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
            if prop.get("description"):
                param["description"] = prop["description"]
            params.append(param)
    if params:
        out["parameters"] = params
    if op.body is not None:
        models.add(op.body)
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.body)}}}
    responses: dict[str, Any] = {}
    for status, response in sorted(op.responses.items()):
        model, description = (Error, response) if isinstance(response, str) else response
        responses[str(status)] = {"description": description}
        if model is not None:
            models.add(model)
            responses[str(status)]["content"] = {"application/json": {"schema": _ref(model)}}
    out["responses"] = responses
    return out


def openapi_document(app: Flask, server_url: str) -> dict[str, Any]:
    """The document for every documented route of ``app``.

    Raises:
        LookupError: a route under /api (or a health probe) has no :func:`documented` description.
    """
    models: set[type[BaseModel]] = set()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule.startswith(DOCUMENTED_PREFIXES) or rule.rule in DOCUMENTED_PATHS):
            continue
        op: Operation | None = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if op is None:
            raise LookupError(f"route {rule.rule} has no OpenAPI description: add @documented(...) to its view")
        names = [to_camel(name) for name in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule.rule)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(_path(rule.rule), {})[method.lower()] = _operation(op, names, models)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema([(m, "validation") for m in ordered], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syncsvc",
            "version": "0.1.0",
            "description": "Katana MRP -> Luca Koza sync service. Runs are RQ jobs on queue `sync`; "
            "rq-dashboard is at /rq (same token; browsers may use HTTP Basic with the token as password).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "SYNC_API_TOKEN"}},
            "schemas": top.get("$defs", {}),
        },
    }
