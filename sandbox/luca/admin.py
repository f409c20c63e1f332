"""``/_admin/*``: reset, inspect and arm the simulator. Loopback callers only, no auth."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from sandbox.luca.config import SwitchError, update_switches
from sandbox.luca.encoding import MalformedBody, store_value
from sandbox.luca.faults import FaultConfigError
from sandbox.luca.simulator import Simulator
from sandbox.luca.validation import Invalid, clean_card, clean_customer
from sandbox.server import reset_connection


def _loopback(addr: str | None) -> bool:
    addr = addr or ""
    return addr.startswith(("127.", "::ffff:127.")) or addr in ("::1", "localhost")


def _body() -> Any:
    return request.get_json(silent=True) if request.get_data() else {}


def _bad(message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), 400


def install(app: Flask, sim: Simulator) -> None:
    @app.before_request
    def only_loopback() -> Any:
        if request.path.startswith("/_admin/") and not _loopback(request.remote_addr):
            return jsonify({"error": "admin endpoints are loopback-only"}), 403
        return None

    @app.post("/_admin/reset")
    def reset() -> Any:
        body = _body()
        if body is None:
            return _bad("body must be JSON")
        try:
            sim.reset(body)
        except (SwitchError, FaultConfigError) as exc:
            return _bad(str(exc))
        return jsonify({"ok": True, "config": sim.switches.to_json(), "faults": sim.faults.snapshot()})

    @app.get("/_admin/state")
    def state() -> Any:
        return jsonify(sim.state())

    @app.get("/_admin/requests")
    def requests_log() -> Any:
        limit = request.args.get("limit", type=int)
        return jsonify(sim.log.entries(action=request.args.get("action") or None, limit=limit))

    @app.get("/_admin/faults")
    def get_faults() -> Any:
        return jsonify(sim.faults.snapshot())

    @app.post("/_admin/faults")
    def set_faults() -> Any:
        try:
            sim.configure_faults(_body())
        except FaultConfigError as exc:
            return _bad(str(exc))
        return jsonify(sim.faults.snapshot())

    @app.get("/_admin/config")
    def get_config() -> Any:
        return jsonify(sim.switches.to_json())

    @app.post("/_admin/config")
    def set_config() -> Any:
        try:
            sim.set_switches(update_switches(sim.switches, _body()))
        except SwitchError as exc:
            return _bad(str(exc))
        return jsonify(sim.switches.to_json())

    @app.get("/_admin/sessions")
    def sessions() -> Any:
        return jsonify(sim.sessions.live())

    @app.post("/_admin/sessions/kill")
    def kill_sessions() -> Any:
        return jsonify({"killed": sim.sessions.kill_all()})

    @app.get("/_admin/stock_cards")
    def stock_cards() -> Any:
        with sim.store.lock:
            records = [dict(c) for _, c in sorted(sim.store.cards.items())]
        return jsonify({"count": len(records), "records": records})

    @app.get("/_admin/customers")
    def customers() -> Any:
        with sim.store.lock:
            records = [dict(c) for _, c in sorted(sim.store.customers.items())]
        return jsonify({"count": len(records), "records": records})

    @app.get("/_admin/invoices")
    def invoices() -> Any:
        with sim.store.lock:
            records = [dict(i) for _, i in sorted(sim.store.invoices.items())]
        return jsonify({"count": len(records), "records": records})

    @app.route("/_admin/stock_cards/<int:card_id>", methods=["PATCH", "DELETE"])
    def mutate_card(card_id: int) -> Any:
        """Change or delete a card behind the service's back (drift and reconciliation tests)."""
        if card_id not in sim.store.cards:
            return jsonify({"error": f"no stock card {card_id}"}), 404
        if request.method == "DELETE":
            sim.store.delete_card(card_id)
            return jsonify({"deleted": card_id})
        body = _body()
        if not isinstance(body, dict):
            return _bad("body must be a JSON object of fields")
        return jsonify(sim.store.update_card(card_id, body))

    @app.delete("/_admin/customers/<int:customer_id>")
    def delete_customer(customer_id: int) -> Any:
        if customer_id not in sim.store.customers:
            return jsonify({"error": f"no customer {customer_id}"}), 404
        sim.store.delete_customer(customer_id)
        return jsonify({"deleted": customer_id})

    @app.delete("/_admin/invoices/<int:invoice_id>")
    def delete_invoice(invoice_id: int) -> Any:
        if invoice_id not in sim.store.invoices:
            return jsonify({"error": f"no invoice {invoice_id}"}), 404
        sim.store.delete_invoice(invoice_id)
        return jsonify({"deleted": invoice_id})

    @app.post("/_admin/seed/stock_cards")
    def seed_cards() -> Any:
        return _seed(sim, "stock_cards")

    @app.post("/_admin/seed/customers")
    def seed_customers() -> Any:
        return _seed(sim, "customers")

    @app.post("/_admin/reset-me")
    def reset_me() -> Any:
        reset_connection(request.environ)
        return ""


def _seed(sim: Simulator, kind: str) -> Any:
    """Bulk insert with the create action's rules (or, with ``"validate": false``, as given —
    e.g. to plant duplicates). All or nothing."""
    body = _body()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        return _bad('body must be {"records": [...]}')
    validate = body.get("validate", True) is not False
    store = sim.store
    inserted: list[int] = []
    with store.lock:
        for index, raw in enumerate(body["records"]):
            try:
                if not isinstance(raw, dict):
                    raise Invalid("record must be an object")
                if kind == "stock_cards":
                    record = clean_card(raw, store, partial=False) if validate else store_value(raw)
                    if "kartKodu" not in record:
                        raise Invalid("[kartKodu] alanı zorunludur.")
                    record["kartKodu"] = str(record["kartKodu"])
                    if validate and store.card_code_taken(record["kartKodu"]):
                        raise Invalid("Kart kodu daha önce kullanılmış")
                    inserted.append(store.add_card(record)["skartId"])
                else:
                    record = clean_customer(raw) if validate else store_value(raw)
                    if "kartKod" not in record:
                        raise Invalid("[kartKod] alanı zorunludur.")
                    record["kartKod"] = str(record["kartKod"])
                    if validate and sim.switches.customer_code_unique and store.customer_code_taken(record["kartKod"]):
                        raise Invalid("Cari kodu daha önce kullanılmış")
                    inserted.append(store.add_customer(record)["finansalNesneId"])
            except (Invalid, MalformedBody) as exc:
                _rollback(sim, kind, inserted)
                message = exc.message if isinstance(exc, Invalid) else "malformed record"
                return _bad(message, index=index)
    return jsonify({"inserted": len(inserted), "ids": inserted})


def _rollback(sim: Simulator, kind: str, ids: list[int]) -> None:
    store = sim.store
    for record_id in ids:
        if kind == "stock_cards":
            store.delete_card(record_id)
        else:
            store.delete_customer(record_id)
