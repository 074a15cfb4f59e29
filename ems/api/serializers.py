"""Input and output shapes of the EMS API (parents, fills, positions, trader controls, kill switch).

Output serializers are reused by the desk pages; progress and slippage come from ``ems.selectors``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ems import selectors
from ems.algos import ALGORITHM_CHOICES
from ems.models import Allocation, ChildOrder, Constituent, Fill, ParentOrder
from ems.states import Control, ExecStatus
from oms.api.constants import PORTFOLIO_CODE_REGEX, SYMBOL_REGEX
from oms.error_codes import FieldErrorCode
from oms.models import Position, Urgency

# Strategies a trader may switch a working parent to (RFQ is launched from the RFQ ladder, not here).
KILL_SCOPES = [("all", "Every working parent"), ("portfolio", "Parents holding a portfolio's orders"), ("instrument", "Parents in one instrument")]


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Shares filled")
    expected = serializers.IntegerField(allow_null=True, help_text="Shares the schedule expects done by now (null: the parent is closed)")
    quantity = serializers.IntegerField()
    behind = serializers.IntegerField(allow_null=True, help_text="expected - done: shares behind schedule (negative: ahead)")
    done_pct = serializers.FloatField()
    expected_pct = serializers.FloatField(allow_null=True)
    market_time_us = serializers.IntegerField(help_text="Market time of 'now', µs since the 09:30 open")
    market_clock = serializers.CharField()


class ParentOrderSerializer(serializers.ModelSerializer):
    """A parent order as the desk shows it: intent, strategy and reason, arrival, progress vs schedule."""

    instrument = serializers.SlugRelatedField(slug_field="symbol", read_only=True)
    currency = serializers.CharField(source="instrument.currency", read_only=True)
    slippage_bps = serializers.SerializerMethodField(
        help_text="Average fill price vs the arrival price, bps; positive = better than arrival (sells flip the sign)")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ParentOrder
        fields = [
            "id", "instrument", "currency", "side", "quantity", "filled_quantity", "reserved_quantity", "avg_price", "notional", "fees",
            "order_type", "limit_price", "urgency", "requested_strategy", "strategy", "selection_reason",
            "arrival_price", "slippage_bps", "status", "control", "progress", "epoch", "market_day", "start_us",
            "end_us", "last_tick_us", "created_at", "updated_at", "completed_at",
        ]
        read_only_fields = fields

    def get_slippage_bps(self, obj) -> float | None:
        value = selectors.slippage_bps(obj)
        return None if value is None else float(value)

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj) -> dict:
        return selectors.parent_progress(obj).as_dict()

    def _viewer(self):
        request = self.context.get("request")
        return None if request is None else request.user

    def to_representation(self, obj):
        """A PM (or an API client) sees their own share of a shared parent (``ems.selectors.parent_share``):
        sizes, fills, notional and fees are theirs; the schedule's progress is scaled to their quantity."""
        data = super().to_representation(obj)
        user = self._viewer()
        if user is None or selectors.sees_whole_parents(user):
            return data
        share = selectors.parent_share(user=user, parent=obj)

        def scaled(value):
            return None if value is None else (round(value * share.quantity / obj.quantity) if obj.quantity else 0)

        data.update(quantity=share.quantity, filled_quantity=share.filled_quantity, reserved_quantity=scaled(obj.reserved_quantity),
                    avg_price=None if share.avg_price is None else str(share.avg_price), notional=str(share.notional), fees=str(share.fees))
        progress = data["progress"]
        progress.update(done=share.filled_quantity, quantity=share.quantity, expected=scaled(progress["expected"]))
        progress["behind"] = None if progress["expected"] is None else progress["expected"] - share.filled_quantity
        progress["done_pct"] = 100.0 * share.filled_quantity / share.quantity if share.quantity else 0.0
        return data


class ConstituentSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id", read_only=True)
    client_order_id = serializers.CharField(source="order.client_order_id", read_only=True)
    portfolio = serializers.CharField(source="order.portfolio.code", read_only=True)
    order_quantity = serializers.IntegerField(source="order.quantity", read_only=True)
    order_status = serializers.CharField(source="order.status", read_only=True)
    order_filled_quantity = serializers.IntegerField(source="order.filled_quantity", read_only=True)
    order_avg_price = serializers.DecimalField(source="order.avg_price", max_digits=18, decimal_places=6, read_only=True, allow_null=True)

    class Meta:
        model = Constituent
        fields = ["order", "client_order_id", "portfolio", "order_quantity", "quantity", "allocated_quantity",
                  "order_status", "order_filled_quantity", "order_avg_price"]
        read_only_fields = fields


class ChildOrderSerializer(serializers.ModelSerializer):
    venue = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ChildOrder
        fields = ["id", "epoch", "venue", "client_order_id", "venue_order_id", "side", "order_type", "time_in_force",
                  "price", "quantity", "kind", "status", "filled_quantity", "avg_price", "reason", "sent_us", "created_at"]
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    portfolio = serializers.CharField(source="order.portfolio.code", read_only=True)

    class Meta:
        model = Allocation
        fields = ["id", "order", "portfolio", "quantity", "price", "created_at"]
        read_only_fields = fields


class FillSerializer(serializers.ModelSerializer):
    instrument = serializers.SlugRelatedField(slug_field="symbol", read_only=True)
    venue = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Fill
        fields = ["id", "exec_id", "instrument", "parent", "child", "cross", "venue", "side", "quantity", "price",
                  "liquidity", "fee", "allocated_quantity", "market_day", "market_time_us", "executed_at", "booked_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        """A fill read through ``ems.selectors.own_fills`` shows the quantity (and the part of the fee) that is
        the reader's: a PM never sees the size a fill gave another portfolio."""
        data = super().to_representation(instance)
        own = getattr(instance, "own_quantity", None)
        if own is not None and own != instance.quantity:
            data.update(quantity=own, allocated_quantity=own, fee=str(selectors.own_fee(instance)))
        return data


class FillWithAllocationsSerializer(FillSerializer):
    allocations = AllocationSerializer(source="my_allocations", many=True, read_only=True,
                                       help_text="Allocations of this fill to the orders you may see")

    class Meta(FillSerializer.Meta):
        fields = FillSerializer.Meta.fields + ["allocations"]
        read_only_fields = fields


class VenueSummarySerializer(serializers.Serializer):
    venue = serializers.CharField()
    kind = serializers.CharField()
    children = serializers.IntegerField()
    open = serializers.IntegerField()
    quantity = serializers.IntegerField()
    filled = serializers.IntegerField()
    avg_price = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True)


class ParentOrderDetailSerializer(ParentOrderSerializer):
    """One parent with its constituents (those you may see), child orders, per-venue summary and fills."""

    params = serializers.JSONField(read_only=True, help_text="The algorithm's parameters (AlgoParams)")
    constituents = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()
    venues = serializers.SerializerMethodField(help_text="Child orders per venue")
    fills = serializers.SerializerMethodField(help_text=f"Newest {selectors.PARENT_PAGE_FILLS} fills")
    fill_count = serializers.SerializerMethodField()

    class Meta(ParentOrderSerializer.Meta):
        fields = ParentOrderSerializer.Meta.fields + ["params", "constituents", "children", "venues", "fills", "fill_count"]
        read_only_fields = fields

    def _children(self, obj):
        if not hasattr(obj, "_children_cache"):
            obj._children_cache = list(selectors.parent_children(parent=obj))
        return obj._children_cache

    @extend_schema_field(ConstituentSerializer(many=True))
    def get_constituents(self, obj) -> list:
        return ConstituentSerializer(selectors.parent_constituents(user=self.context["request"].user, parent=obj), many=True).data

    def _whole(self) -> bool:
        user = self._viewer()
        return user is None or selectors.sees_whole_parents(user)

    @extend_schema_field(ChildOrderSerializer(many=True))
    def get_children(self, obj) -> list:
        # The parent's child orders carry the whole parent's sizes: the desk's only.
        return ChildOrderSerializer(self._children(obj), many=True).data if self._whole() else []

    @extend_schema_field(VenueSummarySerializer(many=True))
    def get_venues(self, obj) -> list:
        return VenueSummarySerializer(selectors.children_by_venue(self._children(obj)), many=True).data if self._whole() else []

    def _fills(self, obj):
        return selectors.parent_fills(parent=obj) if self._whole() else selectors.own_fills(user=self._viewer(), fills=selectors.parent_fills(parent=obj))

    @extend_schema_field(FillSerializer(many=True))
    def get_fills(self, obj) -> list:
        return FillSerializer(self._fills(obj)[: selectors.PARENT_PAGE_FILLS], many=True).data

    def get_fill_count(self, obj) -> int:
        return self._fills(obj).count()

    def to_representation(self, obj):
        # The algorithm's parameters carry the whole parent's size (AlgoParams.qty): a PM reads their own.
        data = super().to_representation(obj)
        if not self._whole() and isinstance(data.get("params"), dict) and "qty" in data["params"]:
            data["params"] = {**data["params"], "qty": data["quantity"]}
        return data


class PositionSerializer(serializers.ModelSerializer):
    portfolio = serializers.CharField(source="portfolio.code", read_only=True)
    instrument = serializers.CharField(source="instrument.symbol", read_only=True)
    currency = serializers.CharField(source="instrument.currency", read_only=True)

    class Meta:
        model = Position
        fields = ["portfolio", "instrument", "currency", "quantity", "avg_cost", "realized_pnl", "bought_quantity",
                  "sold_quantity", "updated_at"]
        read_only_fields = fields


# --- inputs ---------------------------------------------------------------------------------------------


class StrategyChangeInputSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(ALGORITHM_CHOICES, help_text="The algorithm to work the rest with")
    urgency = serializers.ChoiceField(Urgency.choices, required=False, allow_null=True,
                                      help_text="Aggressiveness; omitted or null keeps the parent's")


class KillSwitchInputSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(KILL_SCOPES)
    portfolio = serializers.RegexField(f"^{PORTFOLIO_CODE_REGEX}$", required=False, allow_null=True,
                                       help_text="Portfolio code (scope portfolio)")
    instrument = serializers.RegexField(f"^{SYMBOL_REGEX}$", required=False, allow_null=True,
                                        help_text="Instrument symbol (scope instrument)")

    def validate(self, attrs):
        scope = attrs["scope"]
        for name in ("portfolio", "instrument"):
            if scope == name and not attrs.get(name):
                raise serializers.ValidationError({name: serializers.ErrorDetail(f"scope {name} needs a {name}", code=FieldErrorCode.REQUIRED)})
            if scope != name and attrs.get(name):
                raise serializers.ValidationError({name: serializers.ErrorDetail(f"{name} applies only to scope {name}", code=FieldErrorCode.NOT_ALLOWED)})
        return attrs


class KillSwitchResultSerializer(serializers.Serializer):
    scope = serializers.CharField()
    portfolio = serializers.CharField(allow_null=True)
    instrument = serializers.CharField(allow_null=True)
    parent_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Open parents in scope (now halted)")
    parents_halted = serializers.IntegerField(help_text="Parents this call halted (those already halted stay so)")
    children_cancelled = serializers.IntegerField(help_text="Open child orders sent a cancel")


class KillSwitchStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scope = serializers.CharField()
    portfolio = serializers.CharField(source="portfolio.code", allow_null=True, default=None)
    instrument = serializers.CharField(source="instrument.symbol", allow_null=True, default=None)
    engaged_at = serializers.DateTimeField()
    engaged_by = serializers.CharField()
    lifted_at = serializers.DateTimeField(allow_null=True)
    lifted_by = serializers.CharField(help_text="Who lifted it (empty while engaged)")


class KillSwitchListSerializer(serializers.Serializer):
    engaged = KillSwitchStateSerializer(many=True, help_text="Kill switches engaged now: new orders in their scope are denied")


STATUS_CHOICES = ExecStatus.choices
CONTROL_CHOICES = Control.choices
