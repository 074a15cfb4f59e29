"""Sign-ins, failed sign-ins and sign-outs are in the audit trail."""

from oms.models import AuditEvent


def test_sign_in_failed_sign_in_and_sign_out_are_audited(client, pm):
    client.post("/login/", {"username": pm.username, "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post("/login/", {"username": pm.username, "password": "secret-pass-1"}, REMOTE_ADDR="10.1.2.3")
    client.post("/logout/")

    events = list(AuditEvent.objects.order_by("id").values_list("event_type", "actor", "object_id"))
    assert events == [
        ("auth.login_failed", pm.username, pm.username),
        ("auth.login", pm.username, str(pm.pk)),
        ("auth.logout", pm.username, str(pm.pk)),
    ]
    assert AuditEvent.objects.get(event_type="auth.login").after["ip"] == "10.1.2.3"
