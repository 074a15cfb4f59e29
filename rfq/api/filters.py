"""Filters of the RFQ list (strict like the OMS's: a typed filter given blank is a 400)."""

import django_filters

from ems.api.filters import IdFilter
from oms.api.filters import StrictFilterSet
from oms.models import Side
from rfq.models import RFQ, RfqDirection, RfqMode
from rfq.states import RfqStatus


class RfqFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=RfqStatus.choices, help_text="Repeat for several")
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact", help_text="Instrument symbol")
    parent = IdFilter(field_name="parent_id", help_text="Parent order id")
    side = django_filters.ChoiceFilter(choices=Side.choices)
    direction = django_filters.ChoiceFilter(choices=RfqDirection.choices)
    mode = django_filters.ChoiceFilter(choices=RfqMode.choices)
    source = django_filters.ChoiceFilter(choices=RFQ._meta.get_field("source").choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta(StrictFilterSet.Meta):
        model = RFQ
        fields = ["status", "instrument", "parent", "side", "direction", "mode", "source", "created_after", "created_before"]
