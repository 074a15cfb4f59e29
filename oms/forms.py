"""Browser forms of the OMS. Orders are validated by ``oms.services.intake.parse_order``, not here: these
forms only parse the query strings of the search pages."""

from __future__ import annotations

from django import forms

# datetime-local inputs send "YYYY-MM-DDTHH:MM[:SS]"; the site runs in UTC, so naive values are UTC.
_DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S")


class AuditFilterForm(forms.Form):
    """The compliance audit search: the filters of ``oms.selectors.audit_event_list``."""

    object_type = forms.CharField(required=False, max_length=48, widget=forms.TextInput(attrs={"placeholder": "order"}))
    object_id = forms.CharField(required=False, max_length=64, widget=forms.TextInput(attrs={"placeholder": "id"}))
    actor = forms.CharField(required=False, max_length=150, widget=forms.TextInput(attrs={"placeholder": "username"}))
    event_type = forms.CharField(required=False, max_length=48, widget=forms.TextInput(attrs={"placeholder": "order.denied"}))
    since = forms.DateTimeField(required=False, label="Since (UTC)", widget=_DATETIME_WIDGET)
    until = forms.DateTimeField(required=False, label="Until (UTC)", widget=_DATETIME_WIDGET)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until <= since:
            self.add_error("until", "Until must be after since")
        return cleaned
