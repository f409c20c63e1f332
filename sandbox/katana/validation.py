"""Closed request DTOs for ``/v1`` writes, answered Ajv-style like Katana's gateway (spec §1.3, §1.6).

Only the shape is checked (unknown fields, required fields, the SO status enum): enough for a
client that writes by mistake to get the same 422 the real API gives.
"""

from __future__ import annotations

from typing import Any

_PRODUCT_FIELDS = {
    "name", "uom", "category_name", "is_sellable", "is_producible", "is_purchasable", "is_auto_assembly",
    "default_supplier_id", "additional_info", "batch_tracked", "serial_tracked", "operations_in_sequence",
    "purchase_uom", "purchase_uom_conversion_rate", "custom_field_collection_id", "configs", "lead_time",
    "minimum_order_quantity",
}  # fmt: skip
_VARIANT_FIELDS = {
    "sku", "sales_price", "purchase_price", "product_id", "material_id", "internal_barcode",
    "registered_barcode", "supplier_item_codes", "lead_time", "minimum_order_quantity", "config_attributes",
    "custom_fields",
}  # fmt: skip
_CUSTOMER_FIELDS = {
    "name", "first_name", "last_name", "company", "email", "phone", "comment", "currency", "discount_rate",
    "reference_id", "category",
}  # fmt: skip
_SO_CREATE = {
    "customer_id", "sales_order_rows", "order_no", "location_id", "currency", "order_created_date",
    "delivery_date", "status", "addresses", "customer_ref", "additional_info", "ecommerce_order_type",
    "ecommerce_store_name", "ecommerce_order_id", "tracking_number", "tracking_number_url", "custom_fields",
}  # fmt: skip
_SO_PATCH = {
    "order_no", "customer_id", "location_id", "status", "delivery_date", "picked_date", "currency",
    "conversion_rate", "conversion_date", "additional_info", "customer_ref", "tracking_number",
    "tracking_number_url",
}  # fmt: skip

# (collection, method) -> (allowed fields, required fields, enums)
DTOS: dict[tuple[str, str], tuple[set[str], tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    ("products", "POST"): (_PRODUCT_FIELDS | {"variants"}, ("name", "variants"), {}),
    ("products", "PATCH"): (_PRODUCT_FIELDS | {"is_archived"}, (), {}),
    ("materials", "POST"): (_PRODUCT_FIELDS | {"variants"}, ("name", "variants"), {}),
    ("materials", "PATCH"): (_PRODUCT_FIELDS | {"is_archived"}, (), {}),
    ("services", "POST"): ({"name", "uom", "category_name", "is_sellable", "additional_info", "variants"},
                           ("name",), {}),
    ("services", "PATCH"): ({"name", "uom", "category_name", "is_sellable", "additional_info", "is_archived"},
                            (), {}),
    ("variants", "POST"): (_VARIANT_FIELDS, (), {}),
    ("variants", "PATCH"): (_VARIANT_FIELDS, (), {}),
    ("customers", "POST"): (_CUSTOMER_FIELDS | {"addresses"}, ("name",), {}),
    ("customers", "PATCH"): (_CUSTOMER_FIELDS | {"default_shipping_id"}, (), {}),
    ("sales_orders", "POST"): (_SO_CREATE, ("customer_id", "sales_order_rows"),
                               {"status": ("PENDING", "NOT_SHIPPED")}),
    ("sales_orders", "PATCH"): (_SO_PATCH, (), {"status": ("PENDING", "NOT_SHIPPED", "PACKED", "DELIVERED")}),
    ("tax_rates", "POST"): ({"rate", "name"}, ("rate",), {}),
    ("webhooks", "POST"): ({"url", "subscribed_events", "description"}, ("url", "subscribed_events"), {}),
    ("webhooks", "PATCH"): ({"url", "enabled", "subscribed_events", "description"}, (), {}),
}  # fmt: skip


def validation_errors(collection: str, method: str, body: Any) -> list[dict[str, Any]]:
    """Ajv-style ``details`` for ``body`` against the DTO (empty when valid)."""
    allowed, required, enums = DTOS[(collection, method)]
    if not isinstance(body, dict):
        return [{"path": "", "code": "type", "message": "should be object", "info": {"type": "object"}}]
    details: list[dict[str, Any]] = []
    for name in body:
        if name not in allowed:
            details.append(
                {
                    "path": "",
                    "code": "additionalProperties",
                    "message": "should NOT have additional properties",
                    "info": {"additionalProperty": name},
                }
            )
    for name in required:
        if name not in body:
            details.append(
                {
                    "path": "",
                    "code": "required",
                    "message": f"should have required property '{name}'",
                    "info": {"missingProperty": name},
                }
            )
    for name, values in enums.items():
        if name in body and body[name] not in values:
            details.append(
                {
                    "path": f".{name}",
                    "code": "enum",
                    "message": "should be equal to one of the allowed values",
                    "info": {"allowedValues": list(values)},
                }
            )
    return details


def unprocessable(details: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "statusCode": 422,
        "name": "UnprocessableEntityError",
        "message": "The request body is invalid. See error object `details` property for more info.",
        "code": "VALIDATION_FAILED",
        "details": details,
    }
