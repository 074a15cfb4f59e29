"""Filters of the EMS list endpoints (strict like the OMS's: a typed filter given blank is a 400)."""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from ems.models import Fill, ParentOrder
from ems.states import Control, ExecStatus
from oms.api.constants import MAX_ID
from oms.api.filters import StrictFilterSet
from oms.models import Position, Side, Strategy


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number in the bigint range (anything else is a 400, never a database error)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class ParentOrderFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ExecStatus.choices, help_text="Repeat for several")
    control = django_filters.ChoiceFilter(choices=Control.choices)
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    strategy = django_filters.ChoiceFilter(choices=[c for c in Strategy.choices if c[0] != "auto"])
    side = django_filters.ChoiceFilter(choices=Side.choices)

    class Meta(StrictFilterSet.Meta):
        model = ParentOrder
        fields = ["status", "control", "instrument", "strategy", "side"]


class FillFilter(StrictFilterSet):
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    parent = IdFilter(field_name="parent_id", help_text="Parent order id")
    order = IdFilter(field_name="allocations__order_id", distinct=True, help_text="Original order id: its fills")
    venue = django_filters.CharFilter(field_name="venue__code", lookup_expr="iexact")
    liquidity = django_filters.ChoiceFilter(choices=Fill.Liquidity.choices)
    side = django_filters.ChoiceFilter(choices=Side.choices)
    executed_after = django_filters.IsoDateTimeFilter(field_name="executed_at", lookup_expr="gte")
    executed_before = django_filters.IsoDateTimeFilter(field_name="executed_at", lookup_expr="lt")

    class Meta(StrictFilterSet.Meta):
        model = Fill
        fields = ["instrument", "parent", "order", "venue", "liquidity", "side", "executed_after", "executed_before"]


class PositionFilter(StrictFilterSet):
    portfolio = django_filters.CharFilter(field_name="portfolio__code")
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")

    class Meta(StrictFilterSet.Meta):
        model = Position
        fields = ["portfolio", "instrument"]
