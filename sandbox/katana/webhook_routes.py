"""``/v1/webhooks`` (register, list, get, patch, delete) and ``/_admin/webhook_deliveries``.

Registrations follow the gateway DTOs (spec §3): POST ``{url, subscribed_events, description?}``,
PATCH ``{url?, enabled?, subscribed_events?, description?}``; unknown fields, unknown event names
and non-https URLs (loopback http excepted, see ``webhooks.url_problem``) get Katana's 422.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from sandbox.katana.query import Filter, Query, paginate, pagination_header, select
from sandbox.katana.validation import unprocessable, validation_errors
from sandbox.katana.web import error_response, json_response
from sandbox.katana.webhooks import events_problem, url_problem

if TYPE_CHECKING:
    from sandbox.katana.simulator import Simulator

FILTERS = (Filter("url", "url", "str"), Filter("enabled", "enabled", "bool"))


def _problems(method: str, body: Any) -> list[dict[str, Any]]:
    details = validation_errors("webhooks", method, body)
    if details or not isinstance(body, dict):
        return details
    checks = [("url", url_problem), ("subscribed_events", events_problem)]
    for name, check in checks:
        if name in body and (problem := check(body[name])):
            details.append({"path": f".{name}", "code": "invalid", "message": problem, "info": {}})
    if "enabled" in body and not isinstance(body["enabled"], bool):
        details.append({"path": ".enabled", "code": "type", "message": "should be boolean", "info": {}})
    return details


def register(app: Flask, sim: Simulator) -> None:
    hub = sim.webhooks

    @app.get("/v1/webhooks")
    def list_webhooks() -> Response:
        q = Query(request.args)
        with hub.lock:
            matched = select([dict(h) for h in hub.hooks.values()], q, FILTERS)
        page, meta = paginate(matched, q)
        return json_response({"data": page}, headers={"X-Pagination": pagination_header(meta)})

    @app.post("/v1/webhooks")
    def create_webhook() -> Response:
        body = request.get_json(silent=True)
        details = _problems("POST", body)
        if details:
            return json_response(unprocessable(details), 422)
        assert isinstance(body, dict)
        return json_response(hub.create(body))

    @app.get("/v1/webhooks/<int:hook_id>")
    def get_webhook(hook_id: int) -> Response:
        with hub.lock:
            hook = hub.hooks.get(hook_id)
            return json_response(dict(hook)) if hook is not None else error_response(404)

    @app.patch("/v1/webhooks/<int:hook_id>")
    def patch_webhook(hook_id: int) -> Response:
        if hook_id not in hub.hooks:
            return error_response(404)
        body = request.get_json(silent=True)
        details = _problems("PATCH", body)
        if details:
            return json_response(unprocessable(details), 422)
        assert isinstance(body, dict)
        hook = hub.patch(hook_id, body)
        return json_response(dict(hook)) if hook is not None else error_response(404)

    @app.delete("/v1/webhooks/<int:hook_id>")
    def delete_webhook(hook_id: int) -> Response:
        return Response(status=204) if hub.delete(hook_id) else error_response(404)

    @app.get("/_admin/webhook_deliveries")
    def deliveries() -> Response:
        since = request.args.get("since", "0")
        return json_response(hub.deliveries(int(since) if since.isdigit() else 0))
