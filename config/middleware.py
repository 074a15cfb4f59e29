"""JSON errors on every ``/api/`` path, whatever fails and wherever; 503 when the database is unavailable.

DRF answers the errors raised inside its views (``oms.api.errors``). What happens outside them is
answered here and by the handlers in ``config.urls``: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413),
JSON nested too deep to parse without recursing (400), control characters in a query string (400), a
database or connection pool that does not answer (503 with ``Retry-After``), and any unexpected
exception (500, logged by Django). Browser pages keep their HTML pages (``404.html``, ``500.html``, ``503.html``).
"""

from __future__ import annotations

import logging
import re

import psycopg
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from oms.error_codes import ApiErrorCode, FieldErrorCode
from oms.services.order_parse import has_invalid_characters, printable

logger = logging.getLogger("config.middleware")

API_PREFIX = "/api/"
# How long a client should wait before retrying when the database is unavailable.
RETRY_AFTER_S = 5
# Deeper than any order or bulk body (a bulk is 3 levels); refused before the JSON parser recurses.
MAX_JSON_DEPTH = 64
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A JSON string literal, so that brackets inside strings are not counted as nesting.
_JSON_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET_RE = re.compile(rb"[^\[\]{}]+")
_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError)  # psycopg_pool.PoolTimeout is one


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def api_error(status: int, code: str, detail: str, **extra) -> JsonResponse:
    """The API's error body (``oms.api.serializers.ErrorResponse``) outside a DRF view."""
    return JsonResponse({"code": code, "detail": detail, **extra}, status=status)


def request_too_large() -> JsonResponse:
    return api_error(413, ApiErrorCode.REQUEST_TOO_LARGE, f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes")


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, _UNAVAILABLE)


def service_unavailable(request) -> HttpResponse:
    """503 with Retry-After: JSON on the API, the plain 503 page elsewhere (rendered without the database)."""
    if is_api(request):
        response = api_error(503, ApiErrorCode.SERVICE_UNAVAILABLE, "The database is unavailable; retry shortly")
    else:
        try:
            # No request: the context processors would read the session and user from the database.
            body = render_to_string("503.html")
        except Exception:  # the page of last resort must not fail on a template problem
            logger.exception("503.html failed to render")
            body = "<h1>Service unavailable</h1><p>Try again in a minute.</p>"
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in a JSON text nest deeper than ``limit``, found without parsing it."""
    brackets = _NOT_A_BRACKET_RE.sub(b"", _JSON_STRING_RE.sub(b"", body))
    depth = 0
    for b in brackets:
        depth += 1 if b in b"[{" else -1
        if depth > limit:
            return True
    return False


class ApiErrorMiddleware:
    """Refuse what no API view can take before it reaches one, and answer API exceptions as JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            refused = self._refuse(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refuse(self, request):
        for key, values in request.GET.lists():
            bad = has_invalid_characters(key) or any(has_invalid_characters(v) for v in values)
            if bad:
                field = printable(key)
                problem = {"code": FieldErrorCode.INVALID_CHARACTERS, "detail": f"{field} must not contain control characters"}
                return api_error(400, ApiErrorCode.VALIDATION_ERROR, problem["detail"], field=field, errors={field: [problem]})
        # Uploads (multipart) keep Django's own handling: files stream to disk, past the in-memory limit.
        if request.method in BODY_METHODS and not request.content_type.startswith("multipart/"):
            try:
                body = request.body  # Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE here; DRF's parsers do not
            except RequestDataTooBig:
                return request_too_large()
            if body and "json" in request.content_type and json_too_deep(body, MAX_JSON_DEPTH):
                return api_error(400, ApiErrorCode.PARSE_ERROR, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return None

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            logger.warning("database unavailable: %s", exception)
            return service_unavailable(request)
        if not is_api(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return request_too_large()
        if isinstance(exception, RecursionError):
            return api_error(400, ApiErrorCode.PARSE_ERROR, "The request is nested too deeply")
        # Anything else is a bug: Django logs it (django.request, with its traceback), signals it, and
        # answers with config.urls.handler500, JSON `server_error` on the API.
        return None
