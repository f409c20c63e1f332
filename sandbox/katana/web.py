"""Response helpers shared by the API and admin blueprints."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from sandbox.katana.encoding import stringify_numbers

ERRORS: dict[int, tuple[str, str]] = {
    401: ("UnauthorizedError", "Unauthorized"),
    404: ("NotFoundError", "Not found"),
    429: ("TooManyRequests", "Too Many Requests"),
    500: ("InternalServerError", "Internal Server Error"),
}


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None, numbers_as_strings: bool = False
) -> Response:
    if numbers_as_strings:
        obj = stringify_numbers(obj)
    # Katana is a Node service: raw UTF-8 (no \u escapes), compact, field order as built.
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=headers, content_type="application/json; charset=utf-8")


def error_response(status: int) -> Response:
    """The portal's bare error shape, e.g. ``{"statusCode":404,"name":"NotFoundError",...}``."""
    name, message = ERRORS[status]
    return json_response({"statusCode": status, "name": name, "message": message}, status)
