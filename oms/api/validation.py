"""Validating a JSON request body at the edge, shared by every app's ``api/``: control characters and
invalid Unicode refused before the serializer sees them, errors by field with stable codes, and (for a
"closed" body) unknown fields refused too."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from oms.error_codes import FieldErrorCode
from oms.errors import ValidationFailed
from oms.services.order_parse import has_invalid_characters


def validated_body(serializer_class, request, *, closed: bool = False) -> dict:
    """The validated data of ``request``'s JSON object, or ValidationFailed naming the field at fault.

    ``closed``: a field the serializer does not declare is refused (``unknown_field``): where a misspelt
    optional field would silently change what happens (an RFQ's ``treshold_bps`` ignored would execute
    without the threshold the trader meant)."""
    if not isinstance(request.data, dict):
        raise ValidationFailed({"non_field_errors": [{"code": FieldErrorCode.INVALID, "detail": "Send a JSON object"}]})
    for field, value in request.data.items():
        # Checked before the serializer, whose messages echo the value: a lone surrogate could not even be
        # encoded in the answer, and a NUL must never reach SQL.
        if has_invalid_characters(str(field)) or (isinstance(value, str) and has_invalid_characters(value)):
            name = field if isinstance(field, str) and not has_invalid_characters(field) else "non_field_errors"
            raise ValidationFailed({name: [{"code": FieldErrorCode.INVALID_CHARACTERS, "detail": "must not contain control characters or invalid Unicode"}]})
    if closed:
        known = set(serializer_class().fields)
        unknown = sorted(str(f) for f in request.data if f not in known)
        if unknown:
            name = unknown[0] if len(unknown[0]) <= 64 else "non_field_errors"
            raise ValidationFailed({name: [{"code": FieldErrorCode.UNKNOWN_FIELD, "detail": f"Unknown field; expected some of: {', '.join(sorted(known))}"}]})
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        errors = {
            field: [{"code": getattr(e, "code", FieldErrorCode.INVALID), "detail": str(e)} for e in (errs if isinstance(errs, list) else [errs])]
            for field, errs in serializer.errors.items()
        }
        raise ValidationFailed(errors)
    return serializer.validated_data


class ClosedBodySchema(AutoSchema):
    """For views whose bodies are validated ``closed``: their request schemas allow no other property."""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
