"""The admin: reference data, venues, risk limits, users and roles are editable; the audit trail is not."""

import pytest
from django.contrib import admin
from django.urls import reverse

from oms.models import AuditEvent, Order


def test_every_admin_list_and_add_page_renders(admin_client, pm, portfolio, instrument, order_payload):
    from ems.services import venues_sync_from_sim
    from oms.roles import Actor
    from oms.services import order_submit

    venues_sync_from_sim()
    order_submit(user=pm, actor=Actor.for_user(pm, "api"), data=order_payload())
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert changelist.status_code == 200, meta.label
        if model_admin.has_add_permission(changelist.wsgi_request):
            assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add")).status_code == 200, meta.label


@pytest.mark.parametrize("model", [AuditEvent, Order])
def test_audit_trail_and_orders_are_read_only_in_the_admin(admin_client, model, pm, portfolio, order_payload):
    from oms.roles import Actor
    from oms.services import order_submit

    order = order_submit(user=pm, actor=Actor.for_user(pm, "api"), data=order_payload()).order
    obj = order if model is Order else AuditEvent.objects.first()
    meta = model._meta

    assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add")).status_code == 403
    change = admin_client.post(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]), {})
    assert change.status_code == 403
    delete = admin_client.post(reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_risk_limits_and_venues_are_editable_in_the_admin(admin_client):
    from ems.models import Venue
    from oms.models import RiskLimit

    for model in (RiskLimit, Venue):
        meta = model._meta
        assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add")).status_code == 200
