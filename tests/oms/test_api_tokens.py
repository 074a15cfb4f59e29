"""API tokens expire, and an admin rotates or revokes them: audited, and effective from the next request."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from oms.models import AuditEvent
from oms.services.tokens import token_fingerprint

TOKEN_URL = "/api/auth/token/"
PASSWORD = "secret-pass-1"  # tests.factories.UserFactory's default


def get_portfolios(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/portfolios/")


def fetch_token(user) -> dict:
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def age(token: Token, by: timedelta) -> None:
    Token.objects.filter(pk=token.pk).update(created=token.created - by)  # an UPDATE: the refdata stamp moves too


def token_events(user) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type__startswith="auth.token_", object_id=str(user.pk)).order_by("id"))


def assert_no_key_in_audit(*keys: str) -> None:
    for event in AuditEvent.objects.all():
        text = f"{event.before} {event.after} {event.reason}"
        assert not any(k in text for k in keys), event.event_type


# --- issue and expiry -----------------------------------------------------------------------------


def test_token_endpoint_returns_the_token_with_its_expiry_and_audits_its_issue(pm, portfolio, settings):
    first = fetch_token(pm)
    again = fetch_token(pm)

    token = Token.objects.get(user=pm)
    assert first == again == {"token": token.key, "expires_at": first["expires_at"]}
    assert parse_datetime(first["expires_at"]) == token.created + settings.API_TOKEN_TTL
    assert settings.API_TOKEN_TTL == timedelta(days=30)  # the default
    [issued] = token_events(pm)  # issued once, then handed out again
    assert issued.event_type == "auth.token_issued"
    assert issued.after["fingerprint"] == token_fingerprint(token.key)
    assert get_portfolios(token.key).status_code == 200
    assert_no_key_in_audit(token.key)


def test_an_expired_token_is_refused_with_auth_token_expired(pm, portfolio, settings):
    key = fetch_token(pm)["token"]
    assert get_portfolios(key).status_code == 200

    age(Token.objects.get(key=key), settings.API_TOKEN_TTL + timedelta(seconds=1))
    response = get_portfolios(key)

    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"
    assert response["WWW-Authenticate"] == "Token"


def test_token_endpoint_replaces_an_expired_token(pm, portfolio, settings):
    old = fetch_token(pm)["token"]
    age(Token.objects.get(key=old), settings.API_TOKEN_TTL)

    new = fetch_token(pm)

    assert new["token"] != old
    assert parse_datetime(new["expires_at"]) > timezone.now() + settings.API_TOKEN_TTL - timedelta(minutes=1)
    assert get_portfolios(old).json()["code"] == "auth.failed"
    assert get_portfolios(new["token"]).status_code == 200
    replaced = token_events(pm)[-1]
    assert (replaced.event_type, replaced.reason) == ("auth.token_issued", "previous token expired")
    assert (replaced.before["fingerprint"], replaced.after["fingerprint"]) == (token_fingerprint(old), token_fingerprint(new["token"]))


def test_a_ttl_of_zero_hours_means_tokens_never_expire(pm, portfolio, settings):
    settings.API_TOKEN_TTL = None  # API_TOKEN_TTL_HOURS=0
    body = fetch_token(pm)
    age(Token.objects.get(key=body["token"]), timedelta(days=3650))

    assert body["expires_at"] is None
    assert get_portfolios(body["token"]).status_code == 200


# --- rotation and revocation ----------------------------------------------------------------------


def test_rotate_command_refuses_the_old_token_at_once_and_the_new_one_works(api_client_user, client_portfolio):
    old = fetch_token(api_client_user)["token"]
    assert get_portfolios(old).status_code == 200  # used: now in this process's token cache

    out = StringIO()
    call_command("api_token", "rotate", api_client_user.username, "--reason", "key seen in a log file", stdout=out)
    new = Token.objects.get(user=api_client_user).key

    assert f"New API token for {api_client_user.username}: {new}" in out.getvalue()
    refused = get_portfolios(old)
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.failed")
    assert get_portfolios(new).json()["results"][0]["code"] == client_portfolio.code
    rotated = token_events(api_client_user)[-1]
    assert (rotated.event_type, rotated.actor_type, rotated.reason) == ("auth.token_rotated", "system", "key seen in a log file")
    assert (rotated.before["fingerprint"], rotated.after["fingerprint"]) == (token_fingerprint(old), token_fingerprint(new))
    assert_no_key_in_audit(old, new)


def test_revoke_command_refuses_the_token_at_once(pm, portfolio):
    key = fetch_token(pm)["token"]
    assert get_portfolios(key).status_code == 200

    call_command("api_token", "revoke", pm.username, stdout=StringIO())

    assert get_portfolios(key).json()["code"] == "auth.failed"
    assert not Token.objects.filter(user=pm).exists()
    revoked = token_events(pm)[-1]
    assert (revoked.event_type, revoked.before["fingerprint"], revoked.after) == ("auth.token_revoked", token_fingerprint(key), None)


def test_revoke_command_without_a_token_says_so(pm):
    with pytest.raises(CommandError, match="has no API token"):
        call_command("api_token", "revoke", pm.username, stdout=StringIO())
    assert not token_events(pm)


def test_a_failed_audit_write_leaves_the_token_in_place(pm, portfolio, monkeypatch):
    # Rotation and its audit row are one transaction: if the row cannot be written, nothing changed.
    key = fetch_token(pm)["token"]

    def broken(**kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr("oms.services.tokens.audit_record", broken)
    with pytest.raises(RuntimeError):
        call_command("api_token", "rotate", pm.username, stdout=StringIO())

    assert Token.objects.get(user=pm).key == key
    assert get_portfolios(key).status_code == 200


# --- the admin ------------------------------------------------------------------------------------


def token_action(admin_client, action: str, *users):
    url = reverse("admin:authtoken_tokenproxy_changelist")
    return admin_client.post(url, {"action": action, "_selected_action": [u.pk for u in users], "index": 0}, follow=True)


def test_admin_rotates_selected_tokens_and_shows_each_new_key_once(admin_client, admin_user, pm, api_client_user, portfolio):
    old_pm, old_client = fetch_token(pm)["token"], fetch_token(api_client_user)["token"]

    response = token_action(admin_client, "rotate_tokens", pm, api_client_user)

    new_pm, new_client = Token.objects.get(user=pm).key, Token.objects.get(user=api_client_user).key
    messages = [str(m) for m in response.context["messages"]]
    assert any(new_pm in m for m in messages) and any(new_client in m for m in messages)
    assert {old_pm, old_client}.isdisjoint({new_pm, new_client})
    assert get_portfolios(old_pm).json()["code"] == "auth.failed"
    assert get_portfolios(new_pm).status_code == 200
    rotated = AuditEvent.objects.filter(event_type="auth.token_rotated")
    assert sorted(rotated.values_list("object_id", flat=True)) == sorted([str(pm.pk), str(api_client_user.pk)])
    assert set(rotated.values_list("actor", "source")) == {(admin_user.username, f"browser:{admin_user.username}")}
    # The list and the token's page show the start of a key only.
    listing = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
    assert new_pm not in listing and f"{new_pm[:4]}…" in listing
    page = admin_client.get(reverse("admin:authtoken_tokenproxy_change", args=[pm.pk]))
    assert page.status_code == 200 and new_pm not in page.content.decode()


def test_admin_revokes_selected_tokens(admin_client, pm, portfolio):
    key = fetch_token(pm)["token"]

    token_action(admin_client, "revoke_tokens", pm)

    assert not Token.objects.filter(user=pm).exists()
    assert get_portfolios(key).json()["code"] == "auth.failed"
    assert AuditEvent.objects.filter(event_type="auth.token_revoked", object_id=str(pm.pk)).count() == 1


def test_admin_issues_a_token_through_the_audited_service(admin_client, pm):
    response = admin_client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": pm.pk}, follow=True)

    token = Token.objects.get(user=pm)
    assert any(token.key in str(m) for m in response.context["messages"])
    assert [e.event_type for e in token_events(pm)] == ["auth.token_issued"]


def test_tokens_cannot_be_deleted_unaudited_in_the_admin(admin_client, pm):
    fetch_token(pm)
    url = reverse("admin:authtoken_tokenproxy_delete", args=[pm.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Token.objects.filter(user=pm).exists()


# --- demo data ------------------------------------------------------------------------------------


def test_seed_demo_prints_a_working_token_even_when_the_old_one_expired(db, settings):
    call_command("seed_demo", stdout=StringIO())
    old = Token.objects.get(user__username="bridge")
    age(old, settings.API_TOKEN_TTL + timedelta(days=1))

    out = StringIO()
    call_command("seed_demo", stdout=out)

    new = Token.objects.get(user__username="bridge")
    assert new.key != old.key and f"token: {new.key}" in out.getvalue()
    assert get_portfolios(new.key).status_code == 200
