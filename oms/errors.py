"""One application error type with a stable machine-readable ``code``; the API turns it into JSON."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user can act on: ``code`` is stable, ``detail`` is for people, ``field`` names the input."""

    status = 400

    def __init__(self, code: str, detail: str, *, field: str | None = None, status: int | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        if status is not None:
            self.status = status
        self.extra = extra or {}

    def as_dict(self) -> dict:
        body = {"code": self.code, "detail": self.detail}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class ValidationFailed(DomainError):
    """Input that does not describe a valid order. ``errors`` maps each field to its problems."""

    status = 400

    def __init__(self, errors: dict[str, list[dict]]):
        first_field = next(iter(errors))
        first = errors[first_field][0]
        super().__init__("validation_error", first["detail"], field=first_field, extra={"errors": errors})
        self.errors = errors


class RiskDenied(DomainError):
    """Pre-trade risk refused the order; the order is stored as DENIED with this code."""

    status = 422


class Conflict(DomainError):
    status = 409


class NotPermitted(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404
