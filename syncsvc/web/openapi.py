"""The OpenAPI 3.1 description served at ``/api/openapi.json`` (a test keeps it equal to the url_map)."""

from __future__ import annotations

from typing import Any

from syncsvc.domain.model import OUTCOMES, RUN_STATUSES
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES as SYNC_TYPES

JOB_STATES = [
    "QUEUED",
    "STARTED",
    "FINISHED",
    "FAILED",
    "SCHEDULED",
    "DEFERRED",
    "STOPPED",
    "CANCELED",
    "CREATED",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_COMMON = {
    "401": _error("Missing or wrong bearer token"),
    "503": _error("Redis is unavailable"),
}

_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "page size"},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {
        "name": "page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1},
        "description": "1-based; with pageSize",
    },
    {"name": "pageSize", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]

_COUNTS = {k: {"type": "integer"} for k in ("total", *OUTCOMES)}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "description": "one line naming the field and the allowed values"},
            "jobId": {"type": "string", "description": "on 409: the run already queued or running"},
        },
    },
    "StartRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["syncType"],
        "properties": {
            "syncType": {"enum": list(SYNC_TYPES)},
            "limit": {"type": "integer", "minimum": 1, "description": "process at most this many items"},
            "dryRun": {"type": "boolean", "default": False, "description": "compute outcomes, write nothing"},
            "mode": {
                "enum": ["full", "incremental"],
                "description": "incremental reads only what changed since the type's cursor; "
                "default: incremental when the type has a cursor, else full",
            },
            "keys": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "minItems": 1,
                "maxItems": 1000,
                "description": "sync only these records: Katana refs (variant:ID, customer:ID, order:ID) or keys "
                "of failed items waiting in the retry set",
            },
        },
    },
    "StartResponse": {
        "type": "object",
        "required": ["success", "message", "jobId", "syncType", "syncMode", "dashboardUrl"],
        "properties": {
            "success": {"const": True},
            "message": {"type": "string", "examples": ["Sync job queued successfully: PRODUCT"]},
            "jobId": {"type": "string"},
            "syncType": {"enum": list(SYNC_TYPES)},
            "syncMode": {"const": "async"},
            "dryRun": {"type": "boolean"},
            "limit": {"type": ["integer", "null"]},
            "mode": {"enum": ["full", "incremental"], "description": "what this run reads"},
            "dashboardUrl": {"type": "string", "format": "uri"},
            "statusUrl": {"type": "string", "format": "uri"},
        },
    },
    "Progress": {
        "type": ["object", "null"],
        "properties": {
            "phase": {"enum": ["fetching", "warming", "syncing", "finishing", "done"]},
            "processed": {"type": "integer"},
            "updatedAt": {"type": "string", "format": "date-time"},
            **_COUNTS,
        },
    },
    "JobResult": {
        "type": ["object", "null"],
        "properties": {
            "runId": {"type": "string"},
            "syncType": {"enum": list(SYNC_TYPES)},
            "dryRun": {"type": "boolean"},
            "durationSeconds": {"type": "number"},
            **_COUNTS,
            "failures": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "errorClass": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
    "JobStatus": {
        "type": "object",
        "required": ["jobId", "state", "createdAt", "job", "progress", "result", "error", "history"],
        "properties": {
            "jobId": {"type": "string"},
            "state": {"enum": JOB_STATES},
            "createdAt": {"type": ["string", "null"], "format": "date-time"},
            "job": {"type": ["string", "null"], "description": "the job function"},
            "syncType": {"enum": [*SYNC_TYPES, None]},
            "dryRun": {"type": ["boolean", "null"]},
            "progress": _ref("Progress"),
            "result": _ref("JobResult"),
            "error": {"type": ["string", "null"], "description": "last line of the exception (no traceback)"},
            "retriesLeft": {"type": ["integer", "null"], "description": "automatic retries RQ still has"},
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "stateName": {"type": "string"},
                        "createdAt": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
        },
    },
    "Run": {
        "type": "object",
        "properties": {
            "runId": {"type": "string"},
            "syncType": {"enum": list(SYNC_TYPES)},
            "trigger": {"type": ["string", "null"]},
            "params": {"type": ["object", "null"]},
            "dryRun": {"type": "boolean"},
            "status": {"enum": list(RUN_STATUSES)},
            "startedAt": {"type": ["string", "null"]},
            "finishedAt": {"type": ["string", "null"]},
            **_COUNTS,
            "error": {"type": ["string", "null"]},
            "summary": {"type": ["object", "null"]},
        },
    },
    "RunItem": {
        "type": "object",
        "properties": {
            "runId": {"type": "string"},
            "itemKey": {"type": "string"},
            "kind": {"type": ["string", "null"]},
            "outcome": {"enum": list(OUTCOMES)},
            "lucaId": {"type": ["integer", "null"]},
            "attempts": {"type": ["integer", "null"]},
            "errorClass": {"type": ["string", "null"]},
            "message": {"type": ["string", "null"]},
            "finishedAt": {"type": ["string", "null"]},
        },
    },
    "CacheEntry": {
        "type": "object",
        "properties": {
            "entries": {"type": "integer"},
            "warmedAt": {"type": ["string", "null"]},
            "warmedCount": {"type": ["integer", "null"]},
            "healthy": {"type": "boolean"},
            "message": {"type": "string", "examples": ["Healthy: 1234 entries cached"]},
        },
    },
    "Check": {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "detail": {"type": "string"},
            "ms": {"type": "number"},
            "schemaVersion": {"type": "integer", "description": "historyDb only: applied schema migration"},
            "latestSchemaVersion": {"type": "integer", "description": "historyDb only: newest this code knows"},
        },
    },
}


def _paths() -> dict[str, Any]:
    run_id = {"name": "runId", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/api/sync/start": {
            "post": {
                "summary": "Queue a sync run of one type",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("StartRequest")}},
                },
                "responses": {
                    "202": _json(_ref("StartResponse"), "Queued on the `sync` queue"),
                    "400": _error("Invalid body; nothing was queued"),
                    "409": _error("A run of this type is already queued or running (its id in jobId)"),
                    "413": _error("Body too large"),
                    **_COMMON,
                },
            }
        },
        "/api/sync/job/{jobId}": {
            "get": {
                "summary": "State, progress, result or error, and state history of one job",
                "parameters": [{"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json(_ref("JobStatus"), "The job"),
                    "404": _error("Unknown or expired job"),
                    **_COMMON,
                },
            }
        },
        "/api/sync/history": {
            "get": {
                "summary": "Recorded runs, newest first",
                "parameters": [
                    {"name": "type", "in": "query", "schema": {"enum": list(SYNC_TYPES)}},
                    {"name": "status", "in": "query", "schema": {"enum": list(RUN_STATUSES)}},
                    *_PAGING,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "runs": {"type": "array", "items": _ref("Run")},
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                            },
                        },
                        "A page of runs and the total matching",
                    ),
                    "400": _error("Bad filter or paging value"),
                    "401": _COMMON["401"],
                },
            }
        },
        "/api/sync/history/{runId}": {
            "get": {
                "summary": "One run with its per-outcome item counts",
                "parameters": [run_id],
                "responses": {
                    "200": _json(
                        {"allOf": [_ref("Run"), {"properties": {"outcomeCounts": {"type": "object"}}}]},
                        "The run",
                    ),
                    "404": _error("Unknown run"),
                    "401": _COMMON["401"],
                },
            }
        },
        "/api/sync/history/{runId}/items": {
            "get": {
                "summary": "The items of one run, by key",
                "parameters": [
                    run_id,
                    {"name": "outcome", "in": "query", "schema": {"enum": list(OUTCOMES)}},
                    *_PAGING,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "runId": {"type": "string"},
                                "items": {"type": "array", "items": _ref("RunItem")},
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                            },
                        },
                        "A page of items",
                    ),
                    "400": _error("Bad filter or paging value"),
                    "404": _error("Unknown run"),
                    "401": _COMMON["401"],
                },
            }
        },
        "/api/cache/status": {
            "get": {
                "summary": "The engine's Luca lookup caches in Redis",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "stockCards": _ref("CacheEntry"),
                                "customers": _ref("CacheEntry"),
                                "invoices": _ref("CacheEntry"),
                            },
                        },
                        "One entry per cache",
                    ),
                    **_COMMON,
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 JSON"}, "401": _COMMON["401"]},
            }
        },
        "/api/webhooks/katana": {
            "post": {
                "summary": "Katana change notification (signed by Katana; no bearer token)",
                "description": "x-sha2-signature = hex HMAC-SHA256 of the raw body with a token from "
                "KATANA_WEBHOOK_TOKEN. Records the changed record in its type's pending set and queues "
                "one drain job; never calls Katana or Luca.",
                "security": [],
                "parameters": [
                    {"name": "x-sha2-signature", "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "X-Katana-Retry-Num", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["action", "object"],
                                "properties": {
                                    "resource_type": {"type": "string"},
                                    "action": {"type": "string", "examples": ["variant.updated"]},
                                    "webhook_id": {"type": ["integer", "string"]},
                                    "object": {
                                        "type": "object",
                                        "required": ["id"],
                                        "properties": {
                                            "id": {"type": ["integer", "string"]},
                                            "status": {"type": ["string", "null"]},
                                            "href": {"type": "string"},
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "success": {"const": True},
                                "queued": {"type": "boolean", "description": "false: ignored or already pending"},
                                "syncType": {"enum": list(SYNC_TYPES)},
                                "ref": {"type": "string"},
                                "drainJob": {"type": ["string", "null"]},
                            },
                        },
                        "Acknowledged",
                    ),
                    "400": _error("Not a Katana webhook payload; nothing recorded"),
                    "401": _error("Bad or missing signature; nothing recorded"),
                    "413": _error("Body over 1 MB"),
                    "503": _error("KATANA_WEBHOOK_TOKEN not set (webhooks off), or Redis unavailable"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness: the process answers (no auth, no dependencies)",
                "security": [],
                "responses": {"200": _json({"type": "object", "properties": {"status": {"const": "ok"}}}, "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: Redis, history DB, Katana and Luca reachable (no auth)",
                "security": [],
                "responses": {
                    "200": _json(_ready_schema(), "Every check passed"),
                    "503": _json(_ready_schema(), "At least one check failed"),
                },
            }
        },
    }


def _ready_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "ready": {"type": "boolean"},
            "checks": {"type": "object", "additionalProperties": _ref("Check")},
        },
    }


def extra_paths() -> dict[str, Any]:
    """Routes documented next to their blueprints (failed-item retry/resolve, reconciliation)."""
    from syncsvc.web import reconcile_api, retry_api

    return {
        **retry_api.openapi_paths(_json, _error, _COMMON),
        **reconcile_api.openapi_paths(_json, _error, _COMMON),
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syncsvc",
            "version": "0.1.0",
            "description": "Katana MRP -> Luca Koza sync service. Runs are RQ jobs on queue `sync`; "
            "rq-dashboard is at /rq and the console at / (browsers sign in at /login with the same token).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": {**_paths(), **extra_paths()},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "SYNC_API_TOKEN"}},
            "schemas": SCHEMAS,
        },
    }
