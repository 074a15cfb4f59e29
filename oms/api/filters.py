import django_filters

from oms.models import AuditEvent, Order, Side
from oms.states import OrderStatus


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several")
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    portfolio = django_filters.CharFilter(field_name="portfolio__code")
    side = django_filters.ChoiceFilter(choices=Side.choices)
    client_order_id = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "instrument", "portfolio", "side", "client_order_id", "created_after", "created_before"]


class AuditEventFilter(django_filters.FilterSet):
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter()
    event_type = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["object_type", "object_id", "actor", "event_type", "since", "until"]
