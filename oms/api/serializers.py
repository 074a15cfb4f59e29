"""Input and output shapes of the OMS API. Output serializers are reused by the pages and websockets."""

import copy

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oms import selectors
from oms.models import AuditEvent, Instrument, MarketPrice, Order, OrderType, Portfolio, Side, Strategy, TimeInForce, Urgency


class MarketPriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = MarketPrice
        fields = ["bid", "ask", "mid", "as_of"]


class InstrumentSerializer(serializers.ModelSerializer):
    market_price = MarketPriceSerializer(
        read_only=True, allow_null=True,
        help_text="Latest simulated market price (null before the first refresh). Pre-trade risk measures orders "
                  "against its mid while it is fresher than RISK_PRICE_MAX_AGE_S, else against reference_price.",
    )

    underlying = serializers.SlugRelatedField(slug_field="symbol", read_only=True, allow_null=True,
                                              help_text="Options: the underlying's symbol (null for an equity)")

    class Meta:
        model = Instrument
        fields = [
            "symbol", "name", "currency", "reference_price", "adv", "daily_volatility", "spread_bps", "tick_size", "lot_size",
            "market_price", "kind", "multiplier", "underlying", "option_type", "strike", "expiry", "exercise_style",
        ]


class PortfolioSerializer(serializers.ModelSerializer):
    class Meta:
        model = Portfolio
        fields = ["code", "name", "base_currency"]


class OrderInputSerializer(serializers.Serializer):
    """The order a client submits (documents the contract; ``oms.services.intake.parse_order`` enforces it)."""

    client_order_id = serializers.RegexField(r"^[A-Za-z0-9._:\-]{1,64}$", help_text="Your id, unique per source (FIX 11 ClOrdID)")
    portfolio = serializers.CharField(help_text="Portfolio code")
    instrument = serializers.CharField(help_text="Instrument symbol")
    side = serializers.ChoiceField(Side.choices)
    quantity = serializers.IntegerField(min_value=1, help_text="Shares; a multiple of the lot size")
    order_type = serializers.ChoiceField(OrderType.choices)
    limit_price = serializers.DecimalField(max_digits=18, decimal_places=6, required=False, allow_null=True, help_text="Required for limit orders; on the tick grid")
    time_in_force = serializers.ChoiceField(TimeInForce.choices, required=False, default=TimeInForce.DAY)
    urgency = serializers.ChoiceField(Urgency.choices, required=False, default=Urgency.MEDIUM)
    strategy = serializers.ChoiceField(Strategy.choices, required=False, default=Strategy.AUTO)
    start_time = serializers.DateTimeField(required=False, allow_null=True)
    end_time = serializers.DateTimeField(required=False, allow_null=True)
    max_participation = serializers.DecimalField(max_digits=5, decimal_places=4, required=False, allow_null=True, help_text="Fraction of market volume, 0-1")


class OrderReplaceSerializer(serializers.Serializer):
    """A cancel/replace (documents the contract; ``oms.services.order_parse.parse_replace`` enforces it): one or both."""

    quantity = serializers.IntegerField(min_value=1, required=False, help_text="The new total quantity (filled shares included); a multiple of the lot size")
    limit_price = serializers.DecimalField(max_digits=18, decimal_places=6, required=False, help_text="The new limit (limit orders only); on the tick grid")


class CachedFieldsMixin:
    """Build a ModelSerializer's fields once per class instead of once per instance.

    DRF introspects the model for every serializer it instantiates; for an order's fixed shape that is
    most of the cost of rendering it. Each instance still gets its own (deep-copied) field objects.
    """

    def get_fields(self):
        cls = type(self)
        if "_fields_cache" not in cls.__dict__:
            cls._fields_cache = super().get_fields()
        return copy.deepcopy(cls._fields_cache)


class SharedFieldsMixin:
    """Build and bind a read-only serializer's fields once per class, and share them between instances.

    Even with the model introspection cached, DRF deep-copies and binds every field for every instance:
    for the one order answered to each submission that was a tenth of the request's CPU. Sharing is
    sound only while rendering reads nothing of the serializer instance (no context, no per-instance
    state in method fields); a serializer that does (``OrderDetailSerializer``) must not use this.
    """

    @property
    def fields(self):
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = cls._shared_fields = serializers.Serializer.fields.func(cls())
        return shared


class _OrderShape(serializers.ModelSerializer):
    portfolio = serializers.SlugRelatedField(slug_field="code", read_only=True)
    instrument = serializers.SlugRelatedField(slug_field="symbol", read_only=True)
    parent = serializers.SerializerMethodField(help_text="Parent order id once the EMS has aggregated this order")

    class Meta:
        model = Order
        fields = [
            "id", "client_order_id", "source", "portfolio", "instrument", "side", "quantity", "order_type",
            "limit_price", "time_in_force", "urgency", "strategy", "start_time", "end_time", "max_participation",
            "status", "filled_quantity", "avg_price", "notional", "deny_code", "deny_reason", "parent",
            "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_parent(self, obj) -> int | None:
        # The parent working the order now: read only when the queryset joined it
        # (``selectors.current_parent_annotation``), so a list never costs a query per order.
        return getattr(obj, "current_parent_id", None)


class OrderSerializer(SharedFieldsMixin, _OrderShape):
    """An order as the API, the pages and the websockets show it."""


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "seq", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id",
                  "before", "after", "reason", "prev_hash", "hash"]


class OrderFillSerializer(serializers.Serializer):
    exec_id = serializers.CharField(help_text="FIX 17 ExecID of the execution")
    venue = serializers.CharField()
    liquidity = serializers.CharField(help_text="maker | taker | mid | rfq | internal")
    side = serializers.CharField()
    quantity = serializers.IntegerField(help_text="This order's share of the execution")
    price = serializers.DecimalField(max_digits=18, decimal_places=6)
    market_time_us = serializers.IntegerField(help_text="Market time, µs since the 09:30 open")
    executed_at = serializers.DateTimeField()


class OrderAllocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    fill = serializers.CharField(help_text="ExecID of the fill allocated")
    parent = serializers.IntegerField(allow_null=True)
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=18, decimal_places=6)
    created_at = serializers.DateTimeField()


class OrderDetailSerializer(CachedFieldsMixin, _OrderShape):
    """One order with its executions, allocations and audit events."""

    parents = serializers.SerializerMethodField(help_text="Every parent order that worked it, oldest first (GTC: one per market day)")
    fills = serializers.SerializerMethodField(help_text="Executions allocated to this order (EMS)")
    allocations = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    class Meta(_OrderShape.Meta):
        fields = _OrderShape.Meta.fields + ["parents", "fills", "allocations", "events"]
        read_only_fields = fields

    def get_parent(self, obj) -> int | None:
        parents = self.get_parents(obj)
        return getattr(obj, "current_parent_id", parents[-1] if parents else None)

    def get_parents(self, obj) -> list[int]:
        """Every parent that worked the order, oldest first (a GTC order: one per market day); the last is current."""
        if not hasattr(obj, "_parent_ids"):
            obj._parent_ids = selectors.order_parent_ids(order=obj)
        return obj._parent_ids

    def _allocations(self, obj) -> list:
        if not hasattr(obj, "_allocation_rows"):
            obj._allocation_rows = list(obj.allocations.select_related("fill__venue").order_by("fill__market_time_us", "id"))
        return obj._allocation_rows

    @extend_schema_field(OrderFillSerializer(many=True))
    def get_fills(self, obj) -> list[dict]:
        """This order's share of each execution it received (one row per fill, quantity = its allocation)."""
        return OrderFillSerializer([
            {"exec_id": a.fill.exec_id, "venue": a.fill.venue.code, "liquidity": a.fill.liquidity, "side": a.fill.side,
             "quantity": a.quantity, "price": a.price, "market_time_us": a.fill.market_time_us, "executed_at": a.fill.executed_at}
            for a in self._allocations(obj)
        ], many=True).data

    @extend_schema_field(OrderAllocationSerializer(many=True))
    def get_allocations(self, obj) -> list[dict]:
        return OrderAllocationSerializer(
            [{"id": a.id, "fill": a.fill.exec_id, "parent": a.parent_id, "quantity": a.quantity, "price": a.price,
              "created_at": a.created_at} for a in self._allocations(obj)], many=True).data

    def get_events(self, obj) -> list[dict]:
        return AuditEventSerializer(selectors.order_events(order=obj), many=True).data


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField(help_text="HTTP status this item would have had on its own")
    id = serializers.IntegerField(allow_null=True)
    client_order_id = serializers.CharField(allow_null=True)
    order_status = serializers.CharField(allow_null=True)
    code = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    field = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.DictField()), required=False,
                                   help_text="validation_error: the problems of each field, as in ErrorResponse")


class _FieldProblemSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: required, invalid, invalid_characters, ...")
    detail = serializers.CharField()


class ErrorResponseSerializer(serializers.Serializer):
    """Every API error: a stable ``code``, a human ``detail``, and for input errors the fields at fault."""

    code = serializers.CharField(help_text="Stable, machine-readable (validation_error, not_found, risk.*, ...)")
    detail = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The first field at fault, when one is")
    errors = serializers.DictField(child=_FieldProblemSerializer(many=True), required=False,
                                   help_text="validation_error: every field at fault and its problems")


ErrorSerializer = ErrorResponseSerializer  # the name the views used first
