"""OpenAPI post-processing: every operation declares the errors it can answer, in one shape (ErrorResponse).

The views declare their own answers (201, 207, 409 ``order.duplicate_client_order_id``, 422 ``risk.*``);
the answers every operation shares (input errors, authentication, limits, an unavailable database) are
added here, so that the schema names every status the API sends and a client can rely on the body.
"""

from __future__ import annotations

from oms.api.constants import MAX_BULK, MAX_ID, PORTFOLIO_CODE_REGEX, SYMBOL_REGEX
from oms.services.order_parse import INVALID_CHARACTERS_RE

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def _allowed_pattern(rule: str) -> str:
    """``^[^...]*$`` from a character class ``[...]``, in the syntax JSON Schema tools share (ECMA-262 without
    the u flag: ``\\uXXXX`` escapes; a class cannot name characters beyond the BMP there, so the rule's few
    astral format characters are refused by the API without being written into the pattern)."""
    out, items, body, i = [], [], rule[1:-1], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            items.append((body[i], body[i + 2]))
            i += 3
        else:
            items.append((body[i], body[i]))
            i += 1
    for lo, hi in items:
        if ord(lo) > 0xFFFF or 0xD800 <= ord(lo) <= 0xDFFF:
            continue  # beyond the BMP, or lone surrogates (no URL or JSON text can carry one)
        out.append(f"\\u{ord(lo):04x}" + (f"-\\u{ord(hi):04x}" if hi != lo else ""))
    return "^[^" + "".join(out) + "]*$"


# What config.middleware lets through in a query string: the one input rule (INVALID_CHARACTERS_RE, no
# control or format character, no lone surrogate), written as a pattern of what is allowed.
NO_CONTROL_CHARACTERS = _allowed_pattern(INVALID_CHARACTERS_RE.pattern)
BODY_METHODS = {"post", "put", "patch"}
BULK_OPERATION_ID = "orders_bulk_create"

_SHARED = {
    "400": "Invalid input: `validation_error` (`field` and `errors` name the fields, e.g. code `invalid_characters`) or `parse_error` (malformed or too deeply nested JSON)",
    "429": "`throttled`: too many requests; see Retry-After",
    "500": "`server_error`: an unexpected failure, logged; nothing was changed",
    "503": "`service_unavailable`: the database is unavailable; retry after Retry-After seconds",
}
_AUTHENTICATED = {
    "401": "`auth.not_authenticated`, `auth.failed` or `auth.token_expired`: no valid credentials",
    "403": "`permission.*`: your role may not do this",
    "404": "`not_found`: no such object among those you may see, or a page past the last",
}
_WITH_BODY = {
    "413": "`request_too_large`: the body is over the size limit (10 MiB)",
    "415": "`unsupported_media_type`: send application/json",
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying"}}


def _authenticated(operation: dict) -> bool:
    # drf-spectacular writes `security: [{}]` (or nothing) for operations that need no credentials.
    return any(requirement for requirement in operation.get("security", []))


def declare_error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOK: add the shared error answers to every operation."""
    if "ErrorResponse" not in result.get("components", {}).get("schemas", {}):
        raise RuntimeError("the ErrorResponse component is missing: no view references oms.api.serializers.ErrorResponseSerializer")
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            shared = dict(_SHARED)
            if _authenticated(operation):
                shared.update(_AUTHENTICATED)
            if method in BODY_METHODS:
                shared.update(_WITH_BODY)
            responses = operation.setdefault("responses", {})
            for status, description in shared.items():
                answer = responses.setdefault(status, {"description": description})
                answer.setdefault("content", {"application/json": {"schema": ERROR_REF}})
                if status in ("429", "503"):
                    answer.setdefault("headers", _RETRY_AFTER)
            if operation.get("operationId") == BULK_OPERATION_ID:
                _bound_bulk(operation)
            _constrain_parameters(operation)
    return result


def _constrain_parameters(operation: dict) -> None:
    """Say in the schema what the API refuses: text query parameters with control characters (400), and
    path keys outside the routes' patterns (404: they match no route)."""
    path_patterns = {"symbol": SYMBOL_REGEX, "code": PORTFOLIO_CODE_REGEX}
    for param in operation.get("parameters", []):
        schema = param.get("schema", {})
        if param["in"] == "query" and schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
            schema.setdefault("pattern", NO_CONTROL_CHARACTERS)
        elif param["in"] == "path" and param["name"] in path_patterns:
            schema.setdefault("pattern", f"^{path_patterns[param['name']]}$")
        elif param["in"] == "path" and param["name"] == "id":
            schema.pop("pattern", None)  # drf-spectacular copies the route's regex onto an integer
            schema.update(type="integer", minimum=0, maximum=MAX_ID)


def _bound_bulk(operation: dict) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        if schema.get("type") == "array":
            schema.update(minItems=1, maxItems=MAX_BULK)
