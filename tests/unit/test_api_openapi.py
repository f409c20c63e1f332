"""The OpenAPI document describes exactly the /api routes Flask serves, with their methods."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask

from tests.service_fixtures import AUTH, make_app, make_settings


def flask_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api"):
            path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "{}", rule.rule)
            routes |= {(path, m.lower()) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    return routes


def doc_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, ops in doc["paths"].items()
        if path.startswith("/api")
        for method in ops
    }


def walk_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in walk_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in walk_refs(v)]
    return []


def test_document_and_url_map_agree(redis_url: str, tmp_path: Path) -> None:
    app = make_app(make_settings(redis_url, tmp_path))
    resp = app.test_client().get("/api/openapi.json", headers=AUTH)
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"].startswith("3.")
    assert doc_routes(doc) == flask_routes(app)
    assert {"/healthz", "/readyz"} <= set(doc["paths"])


def test_document_is_internally_consistent(redis_url: str, tmp_path: Path) -> None:
    app = make_app(make_settings(redis_url, tmp_path))
    doc = app.test_client().get("/api/openapi.json", headers=AUTH).json
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "SYNC_API_TOKEN",
    }
    assert doc["security"] == [{"bearerAuth": []}]
    schemas = doc["components"]["schemas"]
    for ref in walk_refs(doc["paths"]) + walk_refs(schemas):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for op in ops.values():
            assert op["responses"], path
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path
    start = doc["paths"]["/api/sync/start"]["post"]
    assert set(start["responses"]) >= {"202", "400", "401", "409", "413", "503"}
    assert schemas["StartRequest"]["properties"]["syncType"]["enum"] == ["PRODUCT", "CUSTOMER", "INVOICE"]


def test_app_factory_emits_no_warnings(redis_url: str, tmp_path: Path) -> None:
    # rq-dashboard warns when it finds legacy keys such as REDIS_URL in the Flask config.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = make_app(make_settings(redis_url, tmp_path))
    assert "REDIS_URL" not in app.config and app.config["RQ_DASHBOARD_REDIS_URL"] == (redis_url,)


def test_a_route_without_a_description_is_refused(redis_url: str, tmp_path: Path) -> None:
    import pytest

    from syncsvc.web.spec import openapi_document

    app = make_app(make_settings(redis_url, tmp_path))
    app.add_url_rule("/api/undocumented", "undocumented", lambda: "")
    with pytest.raises(LookupError, match="route /api/undocumented has no OpenAPI description"):
        openapi_document(app, "http://localhost")


def test_phases_and_query_bounds_come_from_the_code(redis_url: str, tmp_path: Path) -> None:
    from syncsvc.domain.model import OUTCOMES, PHASES

    doc = make_app(make_settings(redis_url, tmp_path)).test_client().get("/api/openapi.json", headers=AUTH).json
    phase = doc["components"]["schemas"]["Progress"]["properties"]["phase"]
    assert phase["enum"] == list(PHASES) and "failed" in PHASES and "finishing" not in PHASES
    items = {p["name"]: p["schema"] for p in doc["paths"]["/api/sync/history/{runId}/items"]["get"]["parameters"]}
    assert items["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert items["outcome"]["enum"] == list(OUTCOMES)
