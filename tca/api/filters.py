"""Query parameters of the TCA reports, validated like a body: each one typed and bounded, a bad value a 400
naming the parameter (``field``), never "no filter" and never a database error.

The reports' filters are a plain serializer rather than a django-filter FilterSet: the summary and the
best-execution report are SQL groupings in ``tca.selectors`` that take a dict of filters, not a queryset.
"""

from __future__ import annotations

from rest_framework import serializers

from oms.api.constants import MAX_ID, PORTFOLIO_CODE_REGEX, SYMBOL_REGEX
from oms.error_codes import FieldErrorCode
from oms.errors import ValidationFailed
from oms.models import Side

MAX_DAY = 100_000  # market days since the simulation's day 0; far beyond any run
STRATEGIES = [("twap", "TWAP"), ("vwap", "VWAP"), ("pov", "POV"), ("is", "IS"), ("direct", "DIRECT"), ("rfq", "RFQ")]
GROUP_BY = [("venue", "Venue"), ("algorithm", "Algorithm (strategy)"), ("portfolio", "Portfolio (through allocations)"),
            ("period", "Period (market day)")]
VENUE_CODE_REGEX = r"[A-Za-z0-9._\-]{1,16}"


class QueryIntegerField(serializers.IntegerField):
    """A whole number written in ASCII digits only (DRF's own field also takes ``" 7"``, ``"7.0"`` and ``"+7"``)."""

    default_error_messages = {"invalid": "A whole number (ASCII digits) is required."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.isascii() or not data.isdigit() or len(data) > 18:
            self.fail("invalid")
        return super().to_internal_value(data)


class ReportFiltersSerializer(serializers.Serializer):
    """Filters shared by the summary, the best-execution report and the fills (all optional)."""

    instrument = serializers.RegexField(f"^{SYMBOL_REGEX}$", required=False, help_text="Instrument symbol")
    strategy = serializers.ChoiceField(STRATEGIES, required=False, help_text="The parent's algorithm")
    portfolio = serializers.RegexField(f"^{PORTFOLIO_CODE_REGEX}$", required=False,
                                       help_text="Portfolio code: parents holding an order of it")
    side = serializers.ChoiceField(Side.choices, required=False)
    day_from = QueryIntegerField(min_value=0, max_value=MAX_DAY, required=False, help_text="First market day (inclusive)")
    day_to = QueryIntegerField(min_value=0, max_value=MAX_DAY, required=False,
                               help_text="Last market day (inclusive); before day_from: nothing matches")


class SummaryQuerySerializer(ReportFiltersSerializer):
    group_by = serializers.ChoiceField(GROUP_BY, required=False, default="venue", help_text="How the rows are grouped")


class FillsQuerySerializer(ReportFiltersSerializer):
    parent = QueryIntegerField(min_value=0, max_value=MAX_ID, required=False, help_text="Parent order id")
    venue = serializers.RegexField(f"^{VENUE_CODE_REGEX}$", required=False, help_text="Venue code")


class WhatIfQuerySerializer(serializers.Serializer):
    parent = QueryIntegerField(min_value=0, max_value=MAX_ID, required=False, help_text="Parent order id: its replays")


def validated_query(serializer_class, request) -> dict:
    """The serializer's parameters from the query string (others are ignored, as on every list), or
    ValidationFailed naming the parameter at fault."""
    known = serializer_class().fields
    data = {name: request.query_params[name] for name in known if name in request.query_params}
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed({
            name: [{"code": getattr(e, "code", FieldErrorCode.INVALID), "detail": str(e)} for e in errs]
            for name, errs in serializer.errors.items()
        })
    return dict(serializer.validated_data)


def report_filters(data: dict) -> dict:
    """The reports' ``filters`` (tca.selectors.FILTERS): only those given."""
    keys = ("instrument", "strategy", "portfolio", "side", "day_from", "day_to")
    return {k: data[k] for k in keys if data.get(k) is not None}
