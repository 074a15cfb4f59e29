"""JSON errors on every ``/api/`` path, whatever fails and wherever; 503 when the database is unavailable.

DRF answers the errors raised inside its views (``oms.api.errors``). What happens outside them is
answered here and by the handlers in ``config.urls``: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413),
JSON nested too deep to parse without recursing (400), a database or connection pool that does not answer (503 with ``Retry-After``), and any unexpected
exception (500, logged by Django). Browser pages keep their HTML pages (``404.html``, ``500.html``, ``503.html``).

``InputRulesMiddleware`` applies the rule JSON bodies follow (``oms.services.order_parse.has_invalid_characters``)
to every query string and URL-encoded form body, API and pages alike, before Django decodes them leniently.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_to_bytes

import psycopg
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
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


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_LINE_BREAKS = str.maketrans("\t\r\n", "   ")


def form_pairs(data: bytes):
    """The (name, value) pairs of a query string or URL-encoded form, decoded as UTF-8 the strict way: a byte
    that is not UTF-8 (raw or percent-encoded, ``%ED%A0%80``, ``%FF``) becomes a lone surrogate, which
    ``has_invalid_characters`` refuses, where Django's own decoding would turn it into U+FFFD silently."""
    for pair in data.split(b"&"):
        if pair:
            name, _, value = pair.replace(b"+", b" ").partition(b"=")
            yield (unquote_to_bytes(name).decode("utf-8", "surrogateescape"),
                   unquote_to_bytes(value).decode("utf-8", "surrogateescape"))


def first_invalid_field(data: bytes, *, line_breaks: bool = False) -> str | None:
    """The (printable) name of the first field whose name or value breaks the input rule, or None.
    ``line_breaks``: tab, CR and LF pass (a form's textarea holds them; the field's own validation decides)."""
    for name, value in form_pairs(data):
        if line_breaks:
            name, value = name.translate(_LINE_BREAKS), value.translate(_LINE_BREAKS)
        if has_invalid_characters(name) or has_invalid_characters(value):
            return printable(name)
    return None


class InputRulesMiddleware:
    """Query strings and URL-encoded form fields follow the rule of JSON bodies: valid UTF-8, no control or
    format characters (in a form value, tab and line breaks are left to the field: a textarea holds them). A request that breaks it is refused before any view: a JSON 400 ``validation_error``
    whose ``errors`` name the field with ``invalid_characters`` on ``/api/``, the 400 page elsewhere.
    (Multipart fields are checked by the views that take them; CSV cells by the TCA import, by row and field.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field = first_invalid_field(request.META.get("QUERY_STRING", "").encode("utf-8", "surrogateescape"))
        if field is None and request.method in BODY_METHODS and request.content_type == FORM_CONTENT_TYPE \
                and (request.encoding or "utf-8").lower().replace("_", "-") in ("utf-8", "utf8"):
            try:
                field = first_invalid_field(request.body, line_breaks=True)
            except RequestDataTooBig:
                pass  # answered by ApiErrorMiddleware on the API, by Django's 400 elsewhere, when the form is read
        if field is None:
            return self.get_response(request)
        detail = f"{field} must be valid UTF-8 without control characters, format characters or invalid Unicode"
        if is_api(request):
            problem = {"code": FieldErrorCode.INVALID_CHARACTERS, "detail": detail}
            return api_error(400, ApiErrorCode.VALIDATION_ERROR, detail, field=field, errors={field: [problem]})
        # Rendered without the request: the session and user are not read yet (this runs before them).
        return HttpResponseBadRequest(render_to_string("400.html", {"detail": f"{detail}; nothing was changed. Go back and try again."}))
