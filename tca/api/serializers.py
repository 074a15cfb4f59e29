"""Input and output shapes of the TCA API.

Sign convention of every figure (``tca.measures``): slippage and markouts in bps are **positive when better
for us** than the benchmark (bought below it, sold above it); so are the implementation-shortfall components
(currency saved against the paper portfolio; a cost is negative). Prices are decimals (strings in JSON), quantities integers.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ems.algos import ALGORITHM_CHOICES
from ems.sim.clock import SESSION_US
from oms.api.schema import NO_CONTROL_CHARACTERS
from oms.error_codes import FieldErrorCode
from oms.models import Urgency
from tca.api.filters import GROUP_BY, VENUE_CODE_REGEX
from tca.models import ImportSet, ReconciliationRun, WhatIf

PX = {"max_digits": 18, "decimal_places": 6}
BPS = {"max_digits": 12, "decimal_places": 4}
CCY = {"max_digits": 24, "decimal_places": 6}
# Algorithms a completed parent can be replayed with (RFQ is the market makers' answer, not a schedule: no replay).
WHAT_IF_STRATEGIES = ALGORITHM_CHOICES
ROUTING_MODES = [("sequential", "Sequential"), ("parallel", "Parallel"), ("liquidity_seeking", "Liquidity seeking")]
IMPORT_NAME_MAX = 200


def _bps(x) -> float | None:
    return None if x is None else round(float(x), 4)


# --- inputs ---------------------------------------------------------------------------------------------


class WhatIfParamsSerializer(serializers.Serializer):
    """Algorithm parameters to change for the replay (``ems.algos`` AlgoParams); the rest are the parent's.

    ``jitter`` is TWAP's, ``rate`` / ``band`` POV's, ``risk_aversion`` / ``fee_per_share`` IS's, ``mode``
    DIRECT's: given with another strategy it is refused (``tca.bad_params``, as is a window or child size
    the algorithm refuses: start after end, min_child over max_child)."""

    start = serializers.IntegerField(min_value=0, max_value=SESSION_US, required=False,
                                     help_text="Window start, µs since the open (default: the parent's first plan)")
    end = serializers.IntegerField(min_value=1, max_value=SESSION_US, required=False, help_text="Window end, µs since the open")
    limit_price = serializers.FloatField(min_value=0.000001, max_value=1e12, required=False, allow_null=True,
                                         help_text="Never buy above / sell below it (null: no limit)")
    finish_uncapped = serializers.BooleanField(required=False, help_text="The finish may exceed max_participation")
    urgency = serializers.ChoiceField(Urgency.choices, required=False)
    max_participation = serializers.FloatField(min_value=0.001, max_value=1.0, required=False,
                                               help_text="Cap on our share of the market volume, (0, 1]")
    interval_s = serializers.FloatField(min_value=0.5, max_value=3600.0, required=False, help_text="Decision period, seconds")
    min_child = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
    max_child = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
    tolerance = serializers.FloatField(min_value=0.0, max_value=1.0, required=False,
                                       help_text="Fraction of the quantity behind / ahead that counts as off schedule")
    sweep_ticks = serializers.IntegerField(min_value=0, max_value=100, required=False)
    dark = serializers.BooleanField(required=False, help_text="Peg each slice in the dark pools too")
    venue = serializers.RegexField(f"^{VENUE_CODE_REGEX}$", required=False, allow_null=True,
                                   help_text="Send everything to this one lit venue (no smart routing)")
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, help_text="Seed of the algorithm's own draws")
    jitter = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, help_text="TWAP only")
    rate = serializers.FloatField(min_value=0.001, max_value=1.0, required=False, help_text="POV only: target participation")
    band = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, help_text="POV only")
    risk_aversion = serializers.FloatField(min_value=0.0, max_value=1e6, required=False, allow_null=True, help_text="IS only")
    fee_per_share = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, help_text="IS only")
    mode = serializers.ChoiceField(ROUTING_MODES, required=False, allow_null=True, help_text="DIRECT only: the routing mode")

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("params must be a JSON object", code=FieldErrorCode.INVALID)
        unknown = sorted(str(k) for k in data if k not in self.fields)
        if unknown:
            raise serializers.ValidationError(f"{unknown[0][:64]}: unknown parameter; expected some of: {', '.join(self.fields)}",
                                              code=FieldErrorCode.UNKNOWN_FIELD)
        for name, field in self.fields.items():
            value = data.get(name)
            # Strict JSON types: "5" is not a number here, 1 / 0 are not booleans, 5.0 is not a whole number.
            if value is None:
                continue
            bad = (
                (isinstance(field, serializers.BooleanField) and not isinstance(value, bool))
                or (isinstance(field, serializers.IntegerField) and (isinstance(value, bool) or not isinstance(value, int)))
                or (isinstance(field, serializers.FloatField) and (isinstance(value, bool) or not isinstance(value, (int, float))))
                or (isinstance(field, serializers.CharField | serializers.ChoiceField) and not isinstance(value, str))
            )
            if bad:
                raise serializers.ValidationError(f"{name}: wrong type", code=FieldErrorCode.INVALID)
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # One message naming the parameter, in the API's flat error shape.
            name, errs = next(iter(exc.detail.items()))
            first = errs[0] if isinstance(errs, list) else errs
            raise serializers.ValidationError(f"{name}: {first}", code=getattr(first, "code", FieldErrorCode.INVALID)) from exc


@extend_schema_field(WhatIfParamsSerializer)
class WhatIfParamsField(serializers.Field):
    """``params``: validated by WhatIfParamsSerializer; an error names the parameter in its detail."""

    def to_internal_value(self, data):
        serializer = WhatIfParamsSerializer(data=data)
        return serializer.to_internal_value(data)

    def to_representation(self, value):
        return value


class WhatIfInputSerializer(serializers.Serializer):
    """A replay of a completed parent with another algorithm or parameters, on the same market path."""

    strategy = serializers.ChoiceField(WHAT_IF_STRATEGIES, help_text="The algorithm to replay the parent with")
    params = WhatIfParamsField(required=False, help_text="Parameters to change (the others are the parent's own)")


class ImportUploadSerializer(serializers.Serializer):
    """A CSV file of outside executions, as a multipart upload."""

    file = serializers.FileField(help_text="CSV, UTF-8: child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price")
    name = serializers.RegexField(NO_CONTROL_CHARACTERS, max_length=IMPORT_NAME_MAX, required=False, allow_blank=True,
                                  help_text="A name to find the set by (default: the file's name); no control characters")


# --- outputs: imports ------------------------------------------------------------------------------------


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line in the file (the header is line 1)")
    child_order_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    venue = serializers.CharField()
    order_type = serializers.CharField()
    side = serializers.CharField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(**PX)
    benchmark_price = serializers.DecimalField(**PX)
    slippage_bps = serializers.DecimalField(**BPS, help_text="s (benchmark - price) / benchmark x 1e4; positive = better than the benchmark")
    slippage_ccy = serializers.DecimalField(**CCY, help_text="s (benchmark - price) x quantity; positive = saved")


class ImportTotalsSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Rows imported")
    quantity = serializers.IntegerField()
    avg_price = serializers.DecimalField(**PX, help_text="Quantity-weighted average price")
    avg_benchmark = serializers.DecimalField(**PX, help_text="Quantity-weighted average benchmark price")
    slippage_bps = serializers.DecimalField(**BPS, help_text="Notional-weighted (quantity x benchmark) bps; positive = better")
    slippage_ccy = serializers.DecimalField(**CCY, help_text="Sum of the rows' currency slippage; positive = saved")


def import_totals(obj: ImportSet) -> dict:
    return {"rows": obj.rows, "quantity": obj.quantity, "avg_price": obj.avg_price, "avg_benchmark": obj.avg_benchmark,
            "slippage_bps": obj.slippage_bps, "slippage_ccy": obj.slippage_ccy}


class ImportSetSerializer(serializers.ModelSerializer):
    """An imported set as a list shows it: its totals, not its rows."""

    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    totals = serializers.SerializerMethodField()

    class Meta:
        model = ImportSet
        fields = ["id", "name", "source", "uploaded_by", "created_at", "totals"]
        read_only_fields = fields

    @extend_schema_field(ImportTotalsSerializer)
    def get_totals(self, obj) -> dict:
        return ImportTotalsSerializer(import_totals(obj)).data


class ImportSetDetailSerializer(serializers.Serializer):
    """One imported set (``tca.reports.import_set_report``): its totals and a page of its rows' slippage, in file
    order (``?page=`` / ``?page_size=`` up to 500, as every list; ``count`` rows in all, ``next`` / ``previous``
    the neighbouring pages). The whole set is its CSV export (``?format=csv``, streamed)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField(help_text="api:<user> | browser:<user>")
    uploaded_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    rows = ImportRowSerializer(many=True, help_text="This page's rows")
    count = serializers.IntegerField(help_text="Rows in the set")
    next = serializers.URLField(allow_null=True, help_text="The next page of rows (null: the last)")
    previous = serializers.URLField(allow_null=True, help_text="The previous page of rows (null: the first)")
    totals = ImportTotalsSerializer()


_FIELD_PROBLEMS = {"type": "object", "additionalProperties": {"type": "array", "items": {
    "type": "object", "properties": {"code": {"type": "string"}, "detail": {"type": "string"}}, "required": ["code", "detail"]}}}
_ROW_PROBLEM = {"type": "object", "required": ["line", "field", "code", "detail"], "properties": {
    "line": {"type": "integer", "description": "Line in the file (the header is line 1)"},
    "field": {"type": "string", "nullable": True, "description": "The column at fault (null: the line as a whole)"},
    "code": {"type": "string", "description": "Stable: required, invalid, invalid_choice, min_value, ..."},
    "detail": {"type": "string"}}}


@extend_schema_field({"oneOf": [
    {"type": "array", "items": _ROW_PROBLEM, "description": "tca.import_invalid: every bad row's problems"},
    {**_FIELD_PROBLEMS, "description": "validation_error: the fields at fault"},
]})
class _ImportErrorsField(serializers.JSONField):
    pass


class ImportErrorResponseSerializer(serializers.Serializer):
    """A refused import: nothing was stored. ``tca.import_invalid`` lists every bad row."""

    code = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(required=False)
    errors = _ImportErrorsField(required=False)
    errors_total = serializers.IntegerField(required=False, help_text="tca.import_invalid: problems in all (at most 1,000 are listed)")
    expected = serializers.ListField(child=serializers.CharField(), required=False, help_text="tca.import_bad_header: the header expected")
    found = serializers.ListField(child=serializers.CharField(), required=False, help_text="tca.import_bad_header: the header found")


# --- outputs: what-if, reconciliation -------------------------------------------------------------------


class WhatIfExecutionSerializer(serializers.Serializer):
    t = serializers.FloatField(help_text="Seconds since the open (market time)")
    clock = serializers.CharField()
    venue = serializers.CharField()
    liquidity = serializers.CharField()
    qty = serializers.IntegerField()
    price = serializers.FloatField()
    fee = serializers.FloatField()


class SlippagePairSerializer(serializers.Serializer):
    bps = serializers.FloatField(allow_null=True, help_text="Positive = better than the benchmark")
    ccy = serializers.FloatField(allow_null=True, help_text="Currency saved (negative = lost)")


class WhatIfVenueSerializer(serializers.Serializer):
    venue = serializers.CharField()
    fills = serializers.IntegerField()
    quantity = serializers.IntegerField()
    notional = serializers.FloatField()
    avg_price = serializers.FloatField(allow_null=True)
    fees = serializers.FloatField()


class WhatIfSideSerializer(serializers.Serializer):
    """One of the two executions (the actual one, or the replay), measured on its own market
    (``tca.services.execution_summary``)."""

    strategy = serializers.CharField()
    quantity = serializers.IntegerField(help_text="The parent's quantity")
    filled = serializers.IntegerField()
    avg_price = serializers.FloatField(allow_null=True)
    notional = serializers.FloatField()
    fees = serializers.FloatField()
    fills = serializers.IntegerField(help_text="How many fills")
    start_us = serializers.IntegerField()
    end_us = serializers.IntegerField()
    participation = serializers.FloatField(allow_null=True)
    benchmarks = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                       help_text="arrival, decision, interval_vwap, interval_twap, open, close, prev_close: price or null")
    slippage = serializers.DictField(child=SlippagePairSerializer(), help_text="Per benchmark")
    shortfall = serializers.JSONField(help_text="delay, timing, impact, opportunity, fees, total (currency, positive = better, a cost negative) and bps {same keys}")
    venues = WhatIfVenueSerializer(many=True)
    markout_60s_bps = serializers.FloatField(allow_null=True)
    executions = WhatIfExecutionSerializer(many=True, help_text="Fills in time order")


class WhatIfSerializer(serializers.Serializer):
    """A replay of a parent (``tca.reports.what_if_report``): what it ran with, and the actual execution and
    the replay side by side."""

    id = serializers.IntegerField()
    parent_id = serializers.IntegerField()
    instrument = serializers.CharField()
    side = serializers.CharField()
    strategy = serializers.CharField(help_text="The algorithm the replay ran")
    params = serializers.JSONField(help_text="The AlgoParams the replay ran with")
    created_at = serializers.DateTimeField()
    original = WhatIfSideSerializer(help_text="The execution that happened")
    what_if = WhatIfSideSerializer(help_text="The replay on the same market path")


class WhatIfListSerializer(serializers.ModelSerializer):
    """A replay as a list shows it (GET /api/tca/what-ifs/{id}/ has both executions)."""

    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    params = serializers.JSONField(read_only=True)

    class Meta:
        model = WhatIf
        fields = ["id", "parent", "strategy", "params", "requested_by", "created_at"]
        read_only_fields = fields


class ReconciliationBreakSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Which rule broke, e.g. parent.alloc_qty")
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    detail = serializers.CharField()
    expected = serializers.JSONField(allow_null=True)
    found = serializers.JSONField(allow_null=True)


class ReconciliationRunSerializer(serializers.ModelSerializer):
    breaks = ReconciliationBreakSerializer(many=True, read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = ["id", "ran_at", "ok", "parents_checked", "orders_checked", "crosses_checked", "breaks"]
        read_only_fields = fields


# --- outputs: fills with their metrics ------------------------------------------------------------------


class FillTCASerializer(serializers.Serializer):
    """A fill of ours with its benchmarks at the fill (``tca.models.FillMetrics``)."""

    id = serializers.IntegerField()
    exec_id = serializers.CharField()
    parent = serializers.IntegerField(allow_null=True)
    child = serializers.IntegerField(allow_null=True)
    instrument = serializers.CharField()
    venue = serializers.CharField()
    side = serializers.CharField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(**PX)
    liquidity = serializers.CharField()
    fee = serializers.DecimalField(**PX)
    market_day = serializers.IntegerField()
    market_time_us = serializers.IntegerField()
    executed_at = serializers.DateTimeField()
    mid = serializers.DecimalField(**PX, allow_null=True, help_text="Market mid at the fill (null: not analysed yet)")
    spread_bps = serializers.DecimalField(**BPS, allow_null=True)
    effective_spread_bps = serializers.DecimalField(**BPS, allow_null=True, help_text="2 |price - mid| / mid, bps")
    spread_capture = serializers.DecimalField(max_digits=10, decimal_places=4, allow_null=True,
                                              help_text="1 = at our own touch, 0 = at the mid, -1 = at the far touch")
    slippage_arrival_bps = serializers.DecimalField(**BPS, allow_null=True, help_text="vs the parent's arrival price; positive = better")
    slippage_vwap_bps = serializers.DecimalField(**BPS, allow_null=True, help_text="vs the parent's interval VWAP; positive = better")
    markout_1s_bps = serializers.DecimalField(**BPS, allow_null=True, help_text="s (mid 1 s later - price) / price; positive = good")
    markout_10s_bps = serializers.DecimalField(**BPS, allow_null=True)
    markout_60s_bps = serializers.DecimalField(**BPS, allow_null=True)
    markout_300s_bps = serializers.DecimalField(**BPS, allow_null=True)


# --- outputs: summary and best execution ----------------------------------------------------------------


class SummaryRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The group: venue code, strategy, portfolio code or market day")
    parents = serializers.IntegerField()
    fills = serializers.IntegerField()
    quantity = serializers.IntegerField()
    notional = serializers.DecimalField(**CCY)
    slippage_arrival_bps = serializers.FloatField(allow_null=True, help_text="Quantity-weighted vs arrival; positive = better")
    slippage_vwap_bps = serializers.FloatField(allow_null=True, help_text="Quantity-weighted vs interval VWAP; positive = better")
    is_bps = serializers.FloatField(allow_null=True, help_text="Implementation shortfall, bps of the paper portfolio; positive = better, a cost is negative")
    fees = serializers.DecimalField(**CCY)


class SummarySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(GROUP_BY)
    filters = serializers.DictField(help_text="The filters applied")
    rows = SummaryRowSerializer(many=True)


def summary_row(row: dict) -> dict:
    return {
        "key": str(row["key"]), "parents": row.get("parents") or 0, "fills": row.get("fills") or 0,
        "quantity": row.get("quantity") or 0, "notional": row.get("notional") or 0,
        "slippage_arrival_bps": _bps(row.get("slippage_arrival_bps")), "slippage_vwap_bps": _bps(row.get("slippage_vwap_bps")),
        "is_bps": _bps(row.get("is_bps")), "fees": row.get("fees") or 0,
    }


class BestExecutionRowSerializer(serializers.Serializer):
    venue = serializers.CharField()
    kind = serializers.CharField(help_text="lit | dark | rfq | internal")
    volume = serializers.IntegerField(help_text="Shares executed")
    volume_share = serializers.FloatField(allow_null=True, help_text="Of all the rows' volume")
    notional = serializers.DecimalField(**CCY)
    orders = serializers.IntegerField(help_text="Distinct parent orders executed here")
    children = serializers.IntegerField(allow_null=True, help_text="Distinct child orders filled here (null for a PM: the desk's)")
    fills = serializers.IntegerField()
    passive_share = serializers.FloatField(help_text="Of the venue's volume: maker fills")
    aggressive_share = serializers.FloatField(help_text="Taker fills")
    midpoint_share = serializers.FloatField(help_text="Midpoint (dark) fills")
    rfq_share = serializers.FloatField()
    internal_share = serializers.FloatField()
    effective_spread_bps = serializers.FloatField(allow_null=True, help_text="Quantity-weighted average effective spread")
    cost_arrival_bps = serializers.FloatField(allow_null=True, help_text="Quantity-weighted slippage vs arrival; positive = better")
    markout_60s_bps = serializers.FloatField(allow_null=True, help_text="Quantity-weighted; negative = adverse selection")
    fees = serializers.DecimalField(**CCY)
    child_quantity_sent = serializers.IntegerField(allow_null=True, help_text="Null for a PM: the whole parent's child orders are the desk's")
    fill_rate = serializers.FloatField(allow_null=True, help_text="Filled / sent child quantity (null: no child order here, or a PM)")


class BestExecutionSerializer(serializers.Serializer):
    filters = serializers.DictField(help_text="The filters applied")
    rows = BestExecutionRowSerializer(many=True)


# --- outputs: one parent's report -----------------------------------------------------------------------

WIDE = {"max_digits": 30, "decimal_places": 6}


class ReportParentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instrument = serializers.CharField()
    side = serializers.CharField()
    strategy = serializers.CharField()
    status = serializers.CharField()
    quantity = serializers.IntegerField()
    filled_quantity = serializers.IntegerField()
    multiplier = serializers.IntegerField(help_text="The instrument's contract multiplier (1 for an equity, 100 for a listed option): "
                                          "quantities are contracts, prices per share, currency amounts x this")
    avg_price = serializers.DecimalField(**PX, allow_null=True)
    fees = serializers.DecimalField(**WIDE)
    notional = serializers.DecimalField(**WIDE, help_text="Currency: sum of price x quantity x multiplier")
    market_day = serializers.IntegerField()
    start_us = serializers.IntegerField(help_text="Execution window start, µs since the open")
    end_us = serializers.IntegerField(help_text="Execution window end (its last fill, or where it stopped)")
    start_clock = serializers.CharField()
    end_clock = serializers.CharField()
    participation = serializers.FloatField(allow_null=True, help_text="Our filled quantity / the market's volume over the window")


class BenchmarkSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="arrival | decision | interval_vwap (our prints excluded) | interval_twap | open | close | prev_close")
    price = serializers.DecimalField(**PX, allow_null=True, help_text="null: not available (no previous day, no market print)")
    slippage_bps = serializers.FloatField(allow_null=True, help_text="Average price vs the benchmark; positive = better")
    slippage_ccy = serializers.DecimalField(**WIDE, allow_null=True, help_text="Currency saved against it (negative = lost)")


class ShortfallBpsSerializer(serializers.Serializer):
    delay = serializers.FloatField(allow_null=True)
    timing = serializers.FloatField(allow_null=True)
    impact = serializers.FloatField(allow_null=True)
    opportunity = serializers.FloatField(allow_null=True)
    fees = serializers.FloatField(allow_null=True)
    total = serializers.FloatField(allow_null=True)


class ShortfallSerializer(serializers.Serializer):
    """Implementation shortfall against the decision price (Perold), currency: positive = better (saved), a cost is negative."""

    delay = serializers.DecimalField(**WIDE, allow_null=True, help_text="s (arrival - decision) x filled")
    timing = serializers.DecimalField(**WIDE, allow_null=True, help_text="s sum q (mid at fill - arrival)")
    impact = serializers.DecimalField(**WIDE, allow_null=True, help_text="s sum q (price - mid at fill)")
    opportunity = serializers.DecimalField(**WIDE, allow_null=True, help_text="s (quantity - filled) (end price - decision)")
    fees = serializers.DecimalField(**WIDE, allow_null=True)
    total = serializers.DecimalField(**WIDE, allow_null=True, help_text="The sum of the five")
    bps = ShortfallBpsSerializer(help_text="Each component in bps of quantity x decision price")


class WaterfallStepSerializer(serializers.Serializer):
    component = serializers.CharField()
    ccy = serializers.DecimalField(**WIDE, allow_null=True)
    bps = serializers.FloatField(allow_null=True)


class ReportFillSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exec_id = serializers.CharField()
    t_us = serializers.IntegerField(help_text="µs since the open")
    clock = serializers.CharField()
    venue = serializers.CharField()
    liquidity = serializers.CharField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(**PX)
    fee = serializers.DecimalField(**PX)
    slippage_arrival_bps = serializers.FloatField(allow_null=True, help_text="Positive = better than arrival")
    mid = serializers.DecimalField(**PX, allow_null=True)
    spread_bps = serializers.DecimalField(**BPS, allow_null=True)
    effective_spread_bps = serializers.DecimalField(**BPS, allow_null=True)
    spread_capture = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    markout_1s_bps = serializers.DecimalField(**BPS, allow_null=True)
    markout_10s_bps = serializers.DecimalField(**BPS, allow_null=True)
    markout_60s_bps = serializers.DecimalField(**BPS, allow_null=True)
    markout_300s_bps = serializers.DecimalField(**BPS, allow_null=True)


class ReportVenueSerializer(serializers.Serializer):
    venue = serializers.CharField()
    kind = serializers.CharField()
    fills = serializers.IntegerField()
    quantity = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Of the parent's filled quantity")
    notional = serializers.DecimalField(**WIDE)
    avg_price = serializers.DecimalField(**PX)
    fees = serializers.DecimalField(**WIDE)
    slippage_arrival_bps = serializers.FloatField(allow_null=True)
    effective_spread_bps = serializers.FloatField(allow_null=True)
    markout_1s_bps = serializers.FloatField(allow_null=True)
    markout_10s_bps = serializers.FloatField(allow_null=True)
    markout_60s_bps = serializers.FloatField(allow_null=True)
    markout_300s_bps = serializers.FloatField(allow_null=True)


class MarkoutVenueSerializer(serializers.Serializer):
    venue = serializers.CharField()
    bps = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="One per horizon")


class MarkoutCurveSerializer(serializers.Serializer):
    horizons_s = serializers.ListField(child=serializers.IntegerField())
    by_venue = MarkoutVenueSerializer(many=True)
    all = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="Every fill, quantity-weighted")


class ReportOrderSerializer(serializers.Serializer):
    """An original order's part of the parent, through its allocations."""

    order_id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    portfolio = serializers.CharField()
    side = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Its quantity in this parent")
    filled_quantity = serializers.IntegerField(help_text="Allocated to it")
    avg_price = serializers.DecimalField(**PX, allow_null=True)
    slippage_arrival_bps = serializers.FloatField(allow_null=True)
    slippage_arrival_ccy = serializers.DecimalField(**WIDE, allow_null=True)
    slippage_vwap_bps = serializers.FloatField(allow_null=True)


class ReportChildSerializer(serializers.Serializer):
    """A child order that filled: against the arrival price, and against the mid at each fill (spread + impact)."""

    child_id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    venue = serializers.CharField()
    kind = serializers.CharField()
    order_type = serializers.CharField()
    quantity = serializers.IntegerField(help_text="What the child asked for")
    status = serializers.CharField()
    sent_clock = serializers.CharField()
    fills = serializers.IntegerField()
    filled_quantity = serializers.IntegerField()
    avg_price = serializers.DecimalField(**PX)
    slippage_arrival_bps = serializers.FloatField(allow_null=True, help_text="Positive = better than arrival")
    slippage_arrival_ccy = serializers.DecimalField(**WIDE, allow_null=True)
    vs_mid_bps = serializers.FloatField(allow_null=True, help_text="Against the mid at each fill; positive = better")


class ReportWhatIfSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    strategy = serializers.CharField()
    created_at = serializers.DateTimeField()


class RfqLegTcaSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    side = serializers.CharField(help_text="buy | sell, relative to buying one unit of the package")
    ratio = serializers.IntegerField()
    model_mid = serializers.DecimalField(**PX, help_text="The model's value at the request's creation (per share)")


class RfqBenchmarkTcaSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="model_mid | best_quote | cover_quote (the second best quote received)")
    price = serializers.DecimalField(**PX, allow_null=True, help_text="null: not available (one quote: no cover)")
    slippage_bps = serializers.FloatField(allow_null=True, help_text="Execution vs the benchmark; positive = better")
    slippage_ccy = serializers.DecimalField(**WIDE, allow_null=True, help_text="x contracts x multiplier; positive = saved")


class RfqExecutionTcaSerializer(serializers.Serializer):
    rfq_id = serializers.IntegerField()
    instrument = serializers.CharField(help_text="The symbol; 'package' for a multi-leg package (its legs below)")
    package = serializers.BooleanField(help_text="A multi-leg package: quantity is packages, prices are net, currency per package")
    side = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Executed: contracts for an option, packages for a package")
    multiplier = serializers.IntegerField(help_text="Currency per unit of price: the contract multiplier (1 for a package's net price)")
    price = serializers.DecimalField(**PX, help_text="Execution price (per share; a package: its net price per package, in currency)")
    provider = serializers.CharField(allow_null=True)
    quotes_received = serializers.IntegerField()
    requested_at = serializers.DateTimeField()
    mid_at_request = serializers.DecimalField(**PX, help_text="The market mid the RFQ recorded (the venue's quote mid)")
    legs = RfqLegTcaSerializer(many=True)
    benchmarks = RfqBenchmarkTcaSerializer(many=True)


class ParentReportSerializer(serializers.Serializer):
    """One parent's TCA (``tca.reports.parent_report``). Every figure: positive = better (a cost is negative)."""

    parent = ReportParentSerializer()
    provisional = serializers.BooleanField(help_text="Computed now (the parent is still working or not yet analysed), not stored")
    computed_at = serializers.DateTimeField(allow_null=True)
    benchmarks = BenchmarkSerializer(many=True)
    shortfall = ShortfallSerializer()
    waterfall = WaterfallStepSerializer(many=True, help_text="The shortfall's components in order, then the total")
    fills = ReportFillSerializer(many=True, help_text="In time order, at most 1,000 (fills_total counts all; GET /api/tca/fills/?parent=)")
    fills_total = serializers.IntegerField()
    series = serializers.JSONField(help_text=(
        "Chart data, times in seconds since the open: market {t, mid}, vwap {t, price} (interval VWAP, our prints excluded), "
        "fills [{t, price, qty, venue, liquidity}], done {t, qty}, schedule {t, qty}, t0, t1, arrival, limit"))
    venues = ReportVenueSerializer(many=True)
    markouts = MarkoutCurveSerializer()
    children = ReportChildSerializer(many=True, help_text="Each child order that filled, quantity-weighted")
    constituents = ReportOrderSerializer(many=True, help_text="Each original order's slippage (a PM: their own orders only)")
    what_ifs = ReportWhatIfSerializer(many=True)
    rfq_executions = RfqExecutionTcaSerializer(many=True, help_text=(
        "Each executed RFQ against the model mid at request, the best and the cover quote received (docs/tca.md#rfq-executions)"))
