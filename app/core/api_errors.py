"""What the JSON API answers when it refuses, written into the OpenAPI document.

Every refusal under /api/ has one body, ``{"error": <short title>, "detail": <what is
wrong, in words>}`` (app/core/web.py makes it). ``document_api_errors`` gives every /api/
operation the statuses any of them can answer (400 bad input, 401 no or unknown key, 403
scope or channel, 404 for a path naming something, 413/415 for a JSON body); a route adds
its own (409, 422) with ``responses=api_errors(...)``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.routes import HTTPRoute


class ErrorBody(msgspec.Struct):
    error: str
    detail: str


MEANING: dict[int, tuple[str, str, str]] = {
    400: ("Bad input: a wrong type, a missing or unknown field, a value out of range, "
          "an empty body or a NUL character. Nothing was changed.", "bad request",
          "lines[0].quantity: expected int, got str"),
    401: ("No API key, or one that is unknown or revoked (Authorization: Bearer <key>).",
          "not signed in", "send Authorization: Bearer <API key>"),
    403: ("The key lacks the scope, or belongs to another channel.", "Not allowed",
          "this API key lacks scope orders:write"),
    404: ("Nothing with this id (or not one this key may see).", "Not found",
          "no order 01234567-89ab-7cde-8f01-23456789abcd"),
    409: ("The order is past the point where this can be done.", "Problem",
          "order D2-000123 is already handed over"),
    413: ("The body is larger than the API takes (256 KiB).", "Problem",
          "request body is over 256 KiB"),
    415: ("The body is not sent as JSON.", "Problem",
          "send the body as JSON with Content-Type: application/json (got text/plain)"),
    422: ("Well-formed, but refused by the rules: an unknown or retired SKU, a pincode "
          "no store serves, a scanned code that is not a barcode.", "Problem",
          "unknown or retired sku: NOPE"),
}


def api_errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses for these statuses, each with the error body and an example."""
    out = {}
    for code in codes:
        description, title, detail = MEANING[code]
        out[code] = ResponseSpec(
            data_container=ErrorBody, description=description, generate_examples=False,
            examples=[Example(summary=title, value={"error": title, "detail": detail})])
    return out


def document_api_errors(app: Any) -> None:
    """Give every /api/ operation the refusals any of them can answer (see the module)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            if handler.http_methods == {"OPTIONS"}:
                continue
            codes = [400, 401, 403]
            if route.path_parameters:
                codes.append(404)
            if "data" in handler.parsed_fn_signature.parameters:
                codes += [413, 415]
            handler.responses = {**api_errors(*codes), **(handler.responses or {})}


# POST /api/v1/orders answers 201 for a new order and 200 for a repeat of its channel +
# external_id (the first order, unchanged): the idempotency rule, documented.
ORDER_REPEAT = ResponseSpec(
    data_container=dict[str, Any], generate_examples=False,
    description="A repeat of the same channel + external_id: the first order, unchanged.")

# POST /api/v1/orders/{id}/returns: 201 for a new return, 200 for a repeat of its return_id
# with the same body (the first return, as it is now).
RETURN_REPEAT = ResponseSpec(
    data_container=dict[str, Any], generate_examples=False,
    description="A repeat of the same return_id and body: the first return.")
