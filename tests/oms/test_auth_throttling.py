"""Sign-in lockout per username and per address (django-axes) and the API throttles (429 + Retry-After, audited)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher, get_hasher
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from oms.models import AuditEvent

TOKEN_URL = "/api/auth/token/"
PASSWORD = "secret-pass-1"  # tests.factories.UserFactory's default
LIMIT = 5  # settings.AXES_FAILURE_LIMIT's default
ATTACKER = "10.9.8.7"


class CountingHasher(MD5PasswordHasher):
    """MD5 (as the OMS tests use) that counts how often a password is hashed."""

    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


def hashed() -> int:
    return type(get_hasher("md5")).calls


@pytest.fixture(autouse=True)
def _counting_hasher(settings, pm, admin_user):
    # After the users exist: count only the hashing done by the sign-ins under test.
    settings.PASSWORD_HASHERS = [f"{CountingHasher.__module__}.CountingHasher"]
    type(get_hasher("md5")).calls = 0


@pytest.fixture
def token_rate(settings):
    def set_rate(rate: str):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth_token": rate},
        }

    return set_rate


@pytest.fixture(autouse=True)
def _lockout_before_throttle(token_rate):
    # The lockout tests send more than the token endpoint's rate per address; the throttle tests set theirs.
    token_rate("1000/min")


def token_post(username, password, ip=ATTACKER):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)


def login_post(client, username, password, ip=ATTACKER, url="/login/"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def events(*types) -> list[tuple[str, str]]:
    return list(AuditEvent.objects.filter(event_type__in=types).order_by("id").values_list("event_type", "object_id"))


def assert_locked_json(response):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "auth.locked_out"
    assert "locked" in body["detail"]
    assert 0 < int(response["Retry-After"]) <= 15 * 60


# --- the token endpoint ---------------------------------------------------------------------------


def test_token_endpoint_locks_out_after_the_failure_limit_and_refuses_the_right_password_too(pm):
    answers = [token_post(pm.username, f"wrong-{i}") for i in range(LIMIT + 1)]
    right = token_post(pm.username, PASSWORD)

    assert [r.status_code for r in answers[: LIMIT - 1]] == [400] * (LIMIT - 1)
    for response in [*answers[LIMIT - 1:], right]:
        assert_locked_json(response)
    assert int(right["Retry-After"]) > 14 * 60  # the cool-off runs from the last counted failure
    assert not Token.objects.filter(user=pm).exists()
    # Every checked password is recorded, the lock once, and the refusals while locked only once.
    assert Counter(events("auth.login_failed", "auth.locked_out", "auth.lockout_refused")) == {
        ("auth.login_failed", pm.username): LIMIT, ("auth.locked_out", pm.username): 1, ("auth.lockout_refused", pm.username): 1,
    }
    locked = AuditEvent.objects.get(event_type="auth.locked_out")
    assert (locked.after["ip"], locked.after["failures"], locked.source) == (ATTACKER, LIMIT, f"api:{pm.username}")


def test_a_locked_out_sign_in_is_refused_before_the_password_is_hashed(pm):
    for i in range(LIMIT):
        token_post(pm.username, f"wrong-{i}")
    assert hashed() == LIMIT  # each of those was checked

    for _ in range(20):
        assert token_post(pm.username, PASSWORD).status_code == 429

    assert hashed() == LIMIT  # none of these was


# --- the browser sign-in pages --------------------------------------------------------------------


def test_login_page_locks_out_with_the_429_page_and_refuses_the_right_password_too(client, pm):
    answers = [login_post(client, pm.username, f"wrong-{i}") for i in range(LIMIT)]
    right = login_post(client, pm.username, PASSWORD)

    assert [r.status_code for r in answers[:-1]] == [200] * (LIMIT - 1)  # the form again, with its error
    for response in (answers[-1], right):
        assert response.status_code == 429
        assert "registration/locked_out.html" in [t.name for t in response.templates]
        assert 0 < int(response["Retry-After"]) <= 15 * 60
    page = right.content.decode()
    assert "Sign-in locked" in page and pm.username in page and "Try again in 15 minutes" in page
    assert "_auth_user_id" not in client.session
    assert hashed() == LIMIT
    assert [e for e, _ in events("auth.login", "auth.locked_out", "auth.lockout_refused")] == ["auth.locked_out", "auth.lockout_refused"]


def test_admin_login_is_locked_out_too(client, admin_user):
    for i in range(LIMIT):
        login_post(client, admin_user.username, f"wrong-{i}", url="/admin/login/")

    response = login_post(client, admin_user.username, "secret-pass-1", url="/admin/login/")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# --- per address, per username --------------------------------------------------------------------


def test_one_address_guessing_many_usernames_is_locked_out_for_every_username(pm):
    for i in range(LIMIT):
        assert token_post(f"nobody-{i}", "guess").status_code in (400, 429)

    assert_locked_json(token_post(pm.username, PASSWORD))
    assert token_post(pm.username, PASSWORD, ip="10.0.0.1").status_code == 200  # the user, elsewhere, is not locked
    # Five usernames and one address: the address's lock is recorded once, one refusal once.
    assert [e for e, _ in events("auth.locked_out", "auth.lockout_refused")] == ["auth.locked_out", "auth.lockout_refused"]


def test_one_username_guessed_from_many_addresses_is_locked_out_everywhere(pm):
    for i in range(LIMIT):
        token_post(pm.username, "guess", ip=f"10.1.0.{i}")

    assert_locked_json(token_post(pm.username, PASSWORD, ip="10.2.0.1"))
    assert token_post(pm.username, PASSWORD, ip="10.2.0.2").status_code == 429


def test_a_forged_forwarded_for_header_does_not_give_a_fresh_address(pm):
    for i in range(LIMIT):
        APIClient().post(TOKEN_URL, {"username": f"nobody-{i}", "password": "x"}, format="json",
                         REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"172.16.0.{i}")

    response = APIClient().post(TOKEN_URL, {"username": "someone-else", "password": "x"}, format="json",
                                REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="172.16.1.1")

    assert_locked_json(response)


# --- the end of a lock ----------------------------------------------------------------------------


def test_the_lock_lifts_when_the_cool_off_has_passed(pm, settings):
    for i in range(LIMIT):
        token_post(pm.username, f"wrong-{i}")
    assert token_post(pm.username, PASSWORD).status_code == 429

    # The cool-off counts from the last failure: move the recorded failures back past it.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert token_post(pm.username, PASSWORD).status_code == 200


def test_a_short_cool_off_setting_is_honoured(pm, settings):
    settings.AXES_COOLOFF_TIME = timedelta(microseconds=1)
    for i in range(LIMIT):
        token_post(pm.username, f"wrong-{i}")

    # Each failure is already older than the cool-off when the next attempt is checked.
    assert token_post(pm.username, PASSWORD).status_code == 200


def test_an_admin_unlocks_a_username_with_axes_reset_username(pm):
    for i in range(LIMIT):
        token_post(pm.username, f"wrong-{i}")
    assert token_post(pm.username, PASSWORD).status_code == 429

    call_command("axes_reset_username", pm.username, stdout=open("/dev/null", "w"))

    assert token_post(pm.username, PASSWORD).status_code == 200


# --- DRF throttles --------------------------------------------------------------------------------


def test_token_endpoint_throttle_answers_429_json_with_retry_after_and_audits_the_first_refusal(pm, token_rate):
    token_rate("3/day")  # a day-long window: the count does not roll over mid-test (short of UTC midnight)

    answers = [token_post(pm.username, PASSWORD) for _ in range(6)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429, 429]
    for response in answers[3:]:
        assert response.json()["code"] == "throttled"
        assert 1 <= int(response["Retry-After"]) <= 24 * 3600
    assert hashed() == 3  # a throttled request is answered before its password is hashed
    throttled = AuditEvent.objects.get(event_type="auth.throttled")  # one row for three refusals
    assert (throttled.object_id, throttled.after["ip"], throttled.after["limit"]) == (pm.username, ATTACKER, "3/day")
    assert token_post(pm.username, PASSWORD, ip="10.0.0.2").status_code == 200  # per address


@pytest.mark.django_db(transaction=True)
def test_parallel_sign_ins_are_counted_exactly_by_the_shared_throttle(pm, token_rate, run_concurrently):
    # Each thread has its own cache connection, as separate processes would: only Redis holds the count.
    token_rate("4/day")

    answers = run_concurrently([lambda: token_post(pm.username, "wrong").status_code for _ in range(12)])

    assert sorted(answers) == [400] * 4 + [429] * 8
    assert AuditEvent.objects.filter(event_type="auth.throttled").count() == 1


def test_user_throttle_limits_an_api_client(settings, pm, portfolio, api):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "2/day"},
    }
    client = api(pm)

    answers = [client.get("/api/portfolios/") for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "throttled" and int(answers[2]["Retry-After"]) >= 1
