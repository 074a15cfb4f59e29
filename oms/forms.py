"""Browser forms of the OMS. Orders are validated by ``oms.services.intake.parse_order``, not here: these
forms only parse the query strings of the search pages."""

from __future__ import annotations

import re

from django import forms

from oms.audit_events import LABELS
from oms.models import OrderType

# The order fields as a person reads them: the ticket's labels, and the words that replace the API's field
# names in error messages shown in the browser (the API keeps the field names, in ``field``).
ORDER_FIELD_LABELS = {
    "client_order_id": "Client order id",
    "portfolio": "Portfolio",
    "instrument": "Instrument",
    "side": "Side",
    "quantity": "Quantity",
    "order_type": "Order type",
    "limit_price": "Limit price",
    "time_in_force": "Time in force",
    "urgency": "Urgency",
    "strategy": "Strategy",
    "start_time": "Start time",
    "end_time": "End time",
    "max_participation": "Max participation",
}
TICKET_FIELDS = (
    "portfolio", "instrument", "side", "quantity", "order_type", "limit_price", "time_in_force", "urgency", "strategy",
)


def ticket_symbol(raw: str) -> str:
    """The symbol typed in the instrument box ("AAPL", or the datalist's "AAPL — Apple Inc.")."""
    return raw.strip().split(" ", 1)[0].upper() if raw.strip() else ""


def ticket_order_data(values: dict, client_order_id: str) -> dict:
    """The ticket's fields as an intake payload (the send and the pre-trade estimate read the ticket alike)."""
    data = {k: v for k, v in values.items() if v}
    data["client_order_id"] = client_order_id
    if "instrument" in data:
        data["instrument"] = ticket_symbol(data["instrument"])
    if "quantity" in data:
        data["quantity"] = data["quantity"].replace(",", "").replace("_", "").replace(" ", "")
    if data.get("order_type") != OrderType.LIMIT:
        data.pop("limit_price", None)  # greyed out on the ticket for market orders
    return data


_FIELD_NAME_RE = re.compile(r"\b(" + "|".join(ORDER_FIELD_LABELS) + r")\b")


def with_field_labels(text: str) -> str:
    """Say "Limit price is required", not "limit_price is required": a label opens the sentence, lower case inside it."""

    def label(match: re.Match) -> str:
        human = ORDER_FIELD_LABELS[match.group(1)]
        return human if match.start() == 0 else human.lower()

    return _FIELD_NAME_RE.sub(label, text)

# datetime-local inputs send "YYYY-MM-DDTHH:MM[:SS]"; the site runs in UTC, so naive values are UTC.
_DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S")


EVENT_CHOICES = [(e.value, text) for e, text in LABELS.items()]  # the catalogue's order: grouped by object


class AuditFilterForm(forms.Form):
    """The compliance audit search: the filters of ``oms.selectors.audit_event_list``."""

    q = forms.CharField(required=False, max_length=80, label="Words", widget=forms.TextInput(attrs={"placeholder": "denied, kill switch, fill…"}),
                        help_text="Any part of an event's name or code")
    event_type = forms.ChoiceField(required=False, label="Event", choices=[("", "Any event"), *EVENT_CHOICES])
    object_type = forms.CharField(required=False, max_length=48, widget=forms.TextInput(attrs={"placeholder": "order"}))
    object_id = forms.CharField(required=False, max_length=64, widget=forms.TextInput(attrs={"placeholder": "id"}))
    actor = forms.CharField(required=False, max_length=150, widget=forms.TextInput(attrs={"placeholder": "username"}))
    since = forms.DateTimeField(required=False, label="Since (UTC)", widget=_DATETIME_WIDGET)
    until = forms.DateTimeField(required=False, label="Until (UTC)", widget=_DATETIME_WIDGET)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until <= since:
            self.add_error("until", "Until must be after since")
        return cleaned
