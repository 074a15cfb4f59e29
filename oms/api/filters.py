import django_filters
from django import forms

from oms.audit_events import matching
from oms.error_codes import FieldErrorCode
from oms.forms import EVENT_CHOICES
from oms.models import AuditEvent, Instrument, InstrumentKind, OptionType, Order, Side
from oms.states import OrderStatus


class StrictFilterForm(forms.Form):
    """A typed filter given but blank (``created_after=``, ``side=``) is an error, not "no filter".

    The schema types these parameters (date-time, enum), and an empty string is none of them. Text filters
    may be blank. The browser blotter shares the filter set: there a refused filter is simply not applied.
    """

    def clean(self):
        cleaned = super().clean()
        for name, field in self.fields.items():
            if isinstance(field, forms.CharField) or name not in self.data:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if any(v == "" for v in values):
                self.add_error(name, forms.ValidationError(f"{name} must not be blank", code=FieldErrorCode.BLANK))
        return cleaned


class StrictFilterSet(django_filters.FilterSet):
    class Meta:
        form = StrictFilterForm


class OrderFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several")
    instrument = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    portfolio = django_filters.CharFilter(field_name="portfolio__code")
    side = django_filters.ChoiceFilter(choices=Side.choices)
    client_order_id = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta(StrictFilterSet.Meta):
        model = Order
        fields = ["status", "instrument", "portfolio", "side", "client_order_id", "created_after", "created_before"]


class AuditEventFilter(StrictFilterSet):
    """The audit page's search (``oms.forms.AuditFilterForm``): an event type from the catalogue, or words."""

    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter()
    event_type = django_filters.ChoiceFilter(choices=EVENT_CHOICES, help_text="A code of the catalogue, e.g. order.denied")
    q = django_filters.CharFilter(method="filter_words", max_length=80,
                                  help_text="Words: any part of an event type's readable name or code (\"denied by risk\", \"kill switch\")")
    since = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="lt")

    class Meta(StrictFilterSet.Meta):
        model = AuditEvent
        fields = ["object_type", "object_id", "actor", "event_type", "q", "since", "until"]

    def filter_words(self, queryset, name, value):
        return queryset.filter(event_type__in=matching(value))


class InstrumentFilter(StrictFilterSet):
    symbol = django_filters.CharFilter()
    currency = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=InstrumentKind.choices)
    underlying = django_filters.CharFilter(field_name="underlying__symbol", lookup_expr="iexact", help_text="Options on this symbol")
    expiry = django_filters.DateFilter(help_text="Options expiring on this date (YYYY-MM-DD)")
    type = django_filters.ChoiceFilter(field_name="option_type", choices=OptionType.choices, help_text="call or put")

    class Meta(StrictFilterSet.Meta):
        model = Instrument
        fields = ["symbol", "currency", "kind", "underlying", "expiry", "type"]
