"""Input and output shapes of the RFQ API. The output shapes are reused by the websocket (``/ws/rfq/<id>/``
sends the detail as its "hello") and by the pages.

Inputs are strict about types: an id or a quantity is a JSON integer (not ``"5"``, ``5.0`` or ``true``),
so a client's mistake is a 400 naming the field, never a silent conversion.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ems.models import Fill
from oms import roles
from oms.api.constants import MAX_ID
from rfq import selectors
from rfq.models import RFQ, Dissemination, LiquidityProvider, RfqDirection, RfqExecuteAt, RfqMode
from rfq.states import RfqStatus

MAX_WINDOW_S = Decimal("60")
MAX_PROVIDERS = 20  # far above settings.RFQ_PROVIDERS_PER_REQUEST; the service asks at most the eligible ones


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: strings, floats (even ``5.0``) and booleans are refused (DRF's own field takes all three)."""

    default_error_messages = {"invalid": "A whole number (JSON integer) is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string: numbers and booleans are refused (DRF's own field turns them into text)."""

    default_error_messages = {"invalid": "A string is required."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- inputs ---------------------------------------------------------------------------------------------


class RfqCreateInputSerializer(serializers.Serializer):
    """A request for quote for (part of) a working parent order."""

    parent = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="The parent order the RFQ works (id)")
    quantity = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                  help_text="Shares to request; omitted = what is available on the parent (whole lots)")
    direction = serializers.ChoiceField(RfqDirection.choices, required=False, allow_null=True,
                                        help_text="What the providers are told: the parent's side, or two_way (default) to hide it")
    mode = serializers.ChoiceField(RfqMode.choices, required=False, default=RfqMode.CLICK,
                                   help_text="click: a trader clicks a quote; auto: the platform executes against the threshold")
    execute_at = serializers.ChoiceField(RfqExecuteAt.choices, required=False, default=RfqExecuteAt.QUOTE,
                                         help_text="auto mode: on the first quote within the threshold, or at the window's end on the best")
    threshold_bps = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("-10000"), max_value=Decimal("10000"),
                                             required=False, allow_null=True,
                                             help_text="auto mode: worst acceptable cost vs the mid at request, bps")
    threshold_price = serializers.DecimalField(max_digits=18, decimal_places=6, min_value=Decimal("0.000001"), required=False,
                                               allow_null=True, help_text="auto mode: worst acceptable price (buy: at most, sell: at least)")
    window_s = serializers.DecimalField(max_digits=6, decimal_places=3, min_value=Decimal("0.001"), max_value=MAX_WINDOW_S,
                                        required=False, allow_null=True,
                                        help_text="Response window, seconds (0, 60]; default settings.RFQ_WINDOW_S")
    providers = StrictIntegerField(min_value=1, max_value=MAX_PROVIDERS, required=False, allow_null=True,
                                   help_text="How many providers to ask; default settings.RFQ_PROVIDERS_PER_REQUEST")


class PackageLegInputSerializer(serializers.Serializer):
    """One leg of a package (documentation of the shape; ``rfq.services.packages.package_legs_parse`` checks it,
    with a code per problem)."""

    instrument = serializers.CharField(help_text="Symbol (an equity, or an OCC-style option symbol)")
    side = serializers.ChoiceField([("buy", "buy"), ("sell", "sell")], help_text="Our side of this leg")
    ratio = serializers.IntegerField(min_value=1, help_text="Units of this leg per package (contracts or shares)")


class PackageCreateInputSerializer(serializers.Serializer):
    """A multi-leg package RFQ: 1-4 legs priced by dealers as one net price (what we pay per package, in currency:
    sum of side x ratio x multiplier x leg price; negative: we receive)."""

    portfolio = StrictCharField(max_length=32, help_text="The portfolio the legs' orders are for (code)")
    legs = serializers.JSONField(help_text="1-4 legs: [{instrument, side, ratio}, ...]; checked with a code per problem "
                                           "(rfq.no_legs, rfq.too_many_legs, rfq.leg_unknown_instrument, rfq.leg_bad_ratio, ...)")
    quantity = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="Number of packages")
    direction = serializers.ChoiceField(RfqDirection.choices, required=False, allow_null=True,
                                        help_text="buy: the package as defined (providers quote an offer); two_way (default): a bid and an "
                                                  "offer; sell is refused (rfq.bad_direction: a package is done as its legs say)")
    mode = serializers.ChoiceField(RfqMode.choices, required=False, default=RfqMode.CLICK)
    execute_at = serializers.ChoiceField(RfqExecuteAt.choices, required=False, default=RfqExecuteAt.QUOTE)
    threshold_bps = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("-10000"), max_value=Decimal("10000"),
                                             required=False, allow_null=True,
                                             help_text="auto mode: worst cost vs the package's value at request, bps of its gross premium")
    threshold_price = serializers.DecimalField(max_digits=18, decimal_places=6, required=False, allow_null=True,
                                               help_text="auto mode: the most we pay per package (net; negative = we receive at least)")
    window_s = serializers.DecimalField(max_digits=6, decimal_places=3, min_value=Decimal("0.001"), max_value=MAX_WINDOW_S,
                                        required=False, allow_null=True)
    providers = StrictIntegerField(min_value=1, max_value=MAX_PROVIDERS, required=False, allow_null=True)


class QuoteAcceptInputSerializer(serializers.Serializer):
    quote_id = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="The quote to execute against (one of this RFQ's)")


class RfqCancelInputSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="",
                                   help_text="Why (kept in the audit trail)")


# --- outputs --------------------------------------------------------------------------------------------


class RfqSerializer(serializers.ModelSerializer):
    """An RFQ as a list row shows it."""

    instrument = serializers.SlugRelatedField(slug_field="symbol", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RFQ
        fields = [
            "id", "parent", "instrument", "side", "direction", "quantity", "status", "mode", "execute_at", "threshold_bps",
            "threshold_price", "window_s", "mid_at_request", "package", "market_day", "market_time_us", "round", "source", "requested_by",
            "selection_reason", "created_at", "sent_at", "window_ends_at", "closed_at", "close_reason", "executed_quote",
            "executed_quantity", "executed_price",
        ]
        read_only_fields = fields


class LadderQuoteSerializer(serializers.Serializer):
    """One quote in the consolidated ladder (best first for our side)."""

    id = serializers.IntegerField()
    provider = serializers.CharField(help_text="Provider code")
    provider_name = serializers.CharField()
    price = serializers.DecimalField(max_digits=18, decimal_places=6, help_text="The side we would trade: the offer when we buy, the bid when we sell")
    size = serializers.IntegerField()
    bps_from_mid = serializers.DecimalField(max_digits=10, decimal_places=3, help_text="Cost vs the mid at request, bps (positive = we pay away from the mid)")
    bid_price = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True)
    bid_size = serializers.IntegerField(allow_null=True)
    ask_price = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True)
    ask_size = serializers.IntegerField(allow_null=True)
    mid_at_quote = serializers.DecimalField(max_digits=18, decimal_places=6, help_text="Market mid when the provider priced it")
    status = serializers.CharField(help_text="live | accepted | expired | rejected (last look) | refused (late)")
    status_reason = serializers.CharField(allow_blank=True)
    received_at = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    seconds_left = serializers.FloatField(help_text="Until valid_until, seconds (0 once past)")
    is_best = serializers.BooleanField(help_text="The best live quote")


class RfqLegSerializer(serializers.Serializer):
    """One leg of a package: what it is, its parent and its model value at request; after the execution, its price."""

    leg_no = serializers.IntegerField()
    instrument = serializers.CharField()
    kind = serializers.CharField(help_text="equity | option")
    side = serializers.CharField(help_text="Our side of the leg")
    ratio = serializers.IntegerField(help_text="Units per package")
    multiplier = serializers.IntegerField(help_text="Shares per unit (100 for a listed option, 1 for a share): a package's "
                                                    "net price is the sum of side x ratio x multiplier x price over its legs")
    quantity = serializers.IntegerField(help_text="ratio x the number of packages (the leg's order)")
    parent = serializers.IntegerField(help_text="The leg's parent order")
    model_value = serializers.DecimalField(max_digits=18, decimal_places=6, help_text="Model value per unit at request")
    vega = serializers.DecimalField(max_digits=18, decimal_places=6, help_text="Per unit and volatility point, at request")
    child_order = serializers.IntegerField(allow_null=True)
    executed_price = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True,
                                              help_text="The leg's fill price: sum of sign x ratio x price is the net price")


class RfqWindowSerializer(serializers.Serializer):
    ends_at = serializers.DateTimeField(allow_null=True, help_text="Server-enforced end of the response window")
    seconds_left = serializers.FloatField()
    open = serializers.BooleanField(help_text="Quotes are still taken and may be accepted")
    server_time = serializers.DateTimeField(help_text="The server's clock when this was computed (for a countdown)")


class DisseminationSerializer(serializers.ModelSerializer):
    """A provider the request went to: its rank, why it was chosen, and what it answered."""

    provider = serializers.CharField(source="provider.code", read_only=True)
    provider_name = serializers.CharField(source="provider.name", read_only=True)

    class Meta:
        model = Dissemination
        fields = ["provider", "provider_name", "rank", "score", "reason", "response", "sent_at", "responded_at"]
        read_only_fields = fields


class RfqExecutionSerializer(serializers.Serializer):
    quote = serializers.IntegerField(help_text="The quote executed")
    provider = serializers.CharField()
    child_order = serializers.IntegerField(help_text="The EMS child order the fill was booked on")
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=18, decimal_places=6)
    exec_id = serializers.CharField(allow_null=True, help_text="FIX 17 ExecID of the fill")
    fill = serializers.IntegerField(allow_null=True, help_text="The fill's id (GET /api/fills/?parent=<parent>)")


class RfqDetailSerializer(RfqSerializer):
    """One RFQ: the ladder of quotes, the window, the providers asked and the execution."""

    ladder = serializers.SerializerMethodField()
    window = serializers.SerializerMethodField()
    providers = serializers.SerializerMethodField(help_text="Providers asked, best score first, with their scores (the desk's "
                                                  "only: empty for a PM or an API client)")
    execution = serializers.SerializerMethodField()
    legs = serializers.SerializerMethodField(help_text="A package's legs (empty for a one-instrument request); its prices "
                                             "are net: what we pay per package, negative = we receive")

    class Meta(RfqSerializer.Meta):
        fields = RfqSerializer.Meta.fields + ["legs", "ladder", "window", "providers", "execution"]
        read_only_fields = fields

    @extend_schema_field(RfqLegSerializer(many=True))
    def get_legs(self, obj) -> list:
        return RfqLegSerializer(selectors.rfq_legs(obj), many=True).data

    @extend_schema_field(LadderQuoteSerializer(many=True))
    def get_ladder(self, obj) -> list:
        return LadderQuoteSerializer(selectors.rfq_ladder(obj), many=True).data

    @extend_schema_field(RfqWindowSerializer)
    def get_window(self, obj) -> dict:
        return RfqWindowSerializer(selectors.rfq_window(obj)).data

    @extend_schema_field(DisseminationSerializer(many=True))
    def get_providers(self, obj) -> list:
        """The providers asked with their ranks, scores and the reasons (their scorecards): the desk's only
        (trader, compliance, admin), as ``/api/liquidity-providers/``; empty for a PM or an API client. The
        viewer comes from the context (``request`` or ``user``); without one, nobody's scorecards are shown."""
        request = self.context.get("request")
        user = self.context.get("user", None if request is None else request.user)
        if roles.role_of(user) not in roles.DESK_WIDE:
            return []
        rows = Dissemination.objects.filter(rfq=obj).select_related("provider").order_by("rank", "id")
        return DisseminationSerializer(rows, many=True).data

    @extend_schema_field(RfqExecutionSerializer(allow_null=True))
    def get_execution(self, obj) -> dict | None:
        if obj.status != RfqStatus.EXECUTED or obj.executed_quote_id is None:
            return None
        quote = obj.executed_quote
        fill = Fill.objects.filter(child_id=obj.child_id).order_by("id").first() if obj.child_id else None
        return RfqExecutionSerializer({
            "quote": quote.pk, "provider": quote.provider.code, "child_order": obj.child_id,
            "quantity": obj.executed_quantity, "price": obj.executed_price,
            "exec_id": fill.exec_id if fill else None, "fill": fill.pk if fill else None,
        }).data


class ScorecardSerializer(serializers.Serializer):
    """A provider's record, computed from history (rfq.selectors.provider_scorecards), and the score it gives."""

    requests = serializers.IntegerField(help_text="Requests it was sent")
    responses = serializers.IntegerField(help_text="Answered in time with a quote")
    response_rate = serializers.FloatField(allow_null=True)
    quotes_accepted = serializers.IntegerField(help_text="Its quotes we executed")
    hit_ratio = serializers.FloatField(allow_null=True, help_text="quotes_accepted / responses")
    mean_bps_from_mid = serializers.FloatField(allow_null=True, help_text="Mean cost of its quotes vs the mid at request, bps (lower = more competitive)")
    markout_bps = serializers.FloatField(allow_null=True, help_text="Mid move 60 s (market time) after our executions with it, our direction, bps (lower = less leakage)")
    executions = serializers.IntegerField()
    score = serializers.FloatField(help_text="Higher is better; the top ones are asked")
    score_reason = serializers.CharField()


class LiquidityProviderSerializer(serializers.ModelSerializer):
    """A simulated market maker's profile and its scorecard."""

    instruments = serializers.SerializerMethodField(help_text="Symbols it quotes; empty = every instrument")
    scorecard = serializers.SerializerMethodField()

    class Meta:
        model = LiquidityProvider
        fields = [
            "id", "code", "name", "is_active", "instruments", "response_probability", "latency_ms_median", "latency_ms_sigma",
            "base_spread_bps", "size_coef_bps", "vol_coef", "skew_bps", "max_size", "partial_probability", "quote_life_ms",
            "last_look_reject_probability", "last_look_tolerance_bps", "scorecard",
        ]
        read_only_fields = fields

    def get_instruments(self, obj) -> list[str]:
        return sorted(i.symbol for i in obj.instruments.all())  # prefetched by the view

    @extend_schema_field(ScorecardSerializer)
    def get_scorecard(self, obj) -> dict:
        return ScorecardSerializer(self.context["scorecards"][obj.pk]).data
