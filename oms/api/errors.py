"""Every API error is JSON with a stable ``code`` and a human ``detail`` (and ``field`` when one is at fault)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from oms.error_codes import ApiErrorCode, AuthErrorCode, FieldErrorCode, PermissionErrorCode
from oms.errors import DomainError
from oms.states import IllegalTransition

_CODES = {
    exceptions.NotAuthenticated: AuthErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: AuthErrorCode.FAILED,
    exceptions.PermissionDenied: PermissionErrorCode.DENIED,
    exceptions.NotFound: ApiErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ApiErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ApiErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.ParseError: ApiErrorCode.PARSE_ERROR,
    exceptions.Throttled: ApiErrorCode.THROTTLED,
}


def field_error(field: str, code: str, detail: str) -> dict:
    """A ValidationError detail naming one field, with a stable code."""
    return {field: [ErrorDetail(detail, code=code)]}


def _flatten(detail) -> dict[str, list[dict]]:
    if isinstance(detail, dict):
        return {
            field: [{"code": getattr(e, "code", FieldErrorCode.INVALID), "detail": str(e)} for e in (errs if isinstance(errs, list) else [errs])]
            for field, errs in detail.items()
        }
    errs = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [{"code": getattr(e, "code", FieldErrorCode.INVALID), "detail": str(e)} for e in errs]}


def exception_handler(exc, context):
    """DRF exception handler: DomainError -> its status and code; IllegalTransition -> 409 and its table's code;
    DRF errors -> a stable code."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, IllegalTransition):  # an order, parent, child, control, RFQ or quote: the table's code
        return Response({"code": exc.code, "detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        field = next(iter(errors))
        body = {"code": ApiErrorCode.VALIDATION_ERROR, "detail": errors[field][0]["detail"], "field": field, "errors": errors}
        return Response(body, status=exc.status_code)
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None)
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            body = {"code": str(exc.detail["code"]), "detail": str(exc.detail.get("detail", ""))}
        else:
            body = {"code": code or ApiErrorCode.ERROR, "detail": str(exc.detail)}
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(body, status=exc.status_code, headers=headers)
    return None
