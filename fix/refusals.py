"""How a refusal reads where FIX and the command line can carry only text: its stable code first."""

from __future__ import annotations

from oms.errors import DomainError, ValidationFailed

TEXT_MAX = 400  # characters of Text (58): our code first, then as much of the detail as fits


def refusal_text(exc: DomainError) -> str:
    """``risk.max_notional: ...``; for a validation failure its first field and that field's code too
    (``validation_error instrument=unknown: Unknown instrument 'ZZZ'``)."""
    if isinstance(exc, ValidationFailed):
        field, problems = next(iter(exc.errors.items()))
        head = f"{exc.code} {field}={problems[0]['code']}"
    else:
        head = str(exc.code)
    return f"{head}: {exc.detail}"[:TEXT_MAX]
