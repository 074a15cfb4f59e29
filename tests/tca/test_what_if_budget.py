"""A what-if replay is bounded: parameters whose estimate passes the budget are refused up front (the API and
the browser form alike), a replay that spends its events or seconds is stopped with a code, one that has lost
its client stops (a real server), and one user runs at most WHAT_IF_MAX_PER_USER at a time (threads against
PostgreSQL and Redis)."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from rest_framework.authtoken.models import Token

from oms.errors import DomainError
from oms.roles import Actor
from tca.models import WhatIf
from tca.services import what_if_run
from tca.services.what_if import running_key
from tests.concurrency import run_together
from tests.servers import database_url, run_server, wait_for

URL = "/api/tca/parent-orders/{}/what-if/"
HEAVY = {"interval_s": 0.5, "min_child": 1, "max_child": 1}  # the reported request: one-share children every half second


def _running(user) -> int:
    return int(redis.Redis.from_url(django_settings.REDIS_URL).get(running_key(user)) or 0)


@pytest.fixture(autouse=True)
def _no_slots_left_over(trader):
    redis.Redis.from_url(django_settings.REDIS_URL).delete(running_key(trader))


# --- refused up front: the same answer from the API and the browser form -------------------------------------


@pytest.mark.django_db
def test_parameters_over_the_budget_are_refused_up_front_by_the_api_and_the_form_alike(settings, api, client, trader, worked_parent):
    parent, _, _ = worked_parent
    settings.WHAT_IF_MAX_EVENTS = 500  # the 10-minute window at interval_s 0.5 is 1,200 wakes

    wakes = api(trader).post(URL.format(parent.pk), {"strategy": "twap", "params": {"interval_s": 0.5}}, format="json")
    assert wakes.status_code == 400
    assert wakes.json()["code"] == "tca.what_if_too_large" and wakes.json()["field"] == "params.interval_s"

    # 20,000 one-share children: the larger part of the estimate is named.
    heavy = api(trader).post(URL.format(parent.pk), {"strategy": "twap", "params": HEAVY}, format="json")
    assert heavy.status_code == 400
    assert heavy.json()["code"] == "tca.what_if_too_large" and heavy.json()["field"] == "params.max_child"

    client.force_login(trader)
    form = client.post(reverse("tca-what-if", args=[parent.pk]), {"strategy": "twap", "urgency": "medium", "interval_s": "0.5"})
    assert form.status_code == 400
    assert "tca.what_if_too_large" in form.content.decode() and wakes.json()["detail"] in form.content.decode()
    assert not WhatIf.objects.exists()
    assert _running(trader) == 0

    # Within the budget the same form runs.
    ok = client.post(reverse("tca-what-if", args=[parent.pk]), {"strategy": "twap", "urgency": "medium", "interval_s": "60"})
    assert ok.status_code == 302 and WhatIf.objects.count() == 1


# --- stopped when its budget is spent ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_replay_that_passes_its_step_budget_is_stopped_with_its_code_and_stores_nothing(settings, api, trader, worked_parent):
    parent, _, _ = worked_parent
    settings.WHAT_IF_MAX_EVENTS = 40  # the estimate (30 wakes, one child: 34) passes; the run with its reports does not

    response = api(trader).post(URL.format(parent.pk), {"strategy": "twap"}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "tca.what_if_over_budget" and "40 events" in response.json()["detail"]
    assert not WhatIf.objects.exists()
    assert _running(trader) == 0  # the slot is given back
    settings.WHAT_IF_MAX_EVENTS = 60_000
    assert api(trader).post(URL.format(parent.pk), {"strategy": "twap"}, format="json").status_code == 201


@pytest.mark.django_db
def test_a_replay_that_passes_its_time_budget_is_stopped_with_its_code(settings, api, trader, worked_parent):
    parent, _, _ = worked_parent
    settings.WHAT_IF_MAX_SECONDS = 0  # spent at the first event

    response = api(trader).post(URL.format(parent.pk), {"strategy": "twap"}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "tca.what_if_over_budget" and "seconds" in response.json()["detail"]
    assert not WhatIf.objects.exists()


# --- at most WHAT_IF_MAX_PER_USER at a time ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_user_runs_one_what_if_at_a_time_the_second_is_429_and_others_are_not_limited(settings, api, trader, compliance,
                                                                                          worked_parent):
    parent, _, _ = worked_parent
    settings.WHAT_IF_MAX_PER_USER = 1
    release = threading.Event()

    def first():
        # Its cancellation check holds the replay at its first event until the test releases it, then cancels it:
        # the slot is taken for as long as the other requests need, however fast the machine.
        try:
            return what_if_run(parent_id=parent.pk, strategy="twap", params={}, user=trader, actor=Actor.for_user(trader, "api"),
                               cancelled=lambda: release.wait(60) or True)
        except DomainError as exc:
            return exc.code

    def second_and_other():
        try:
            assert wait_for(lambda: _running(trader) == 1, 60), "the first replay never started"
            same = api(trader).post(URL.format(parent.pk), {"strategy": "vwap"}, format="json")
            other = api(compliance).post(URL.format(parent.pk), {"strategy": "vwap"}, format="json")
            return same.status_code, same.json().get("code"), other.status_code
        finally:
            release.set()

    results, errors = run_together([first, second_and_other])

    assert not errors, errors
    assert results[0] == "tca.what_if_cancelled"  # the first stopped when told to, storing nothing
    assert results[1] == (429, "tca.what_if_busy", 201)
    assert list(WhatIf.objects.values_list("requested_by_id", flat=True)) == [compliance.pk]
    assert _running(trader) == 0
    assert api(trader).post(URL.format(parent.pk), {"strategy": "vwap"}, format="json").status_code == 201


# --- stopped when the client goes away (a real ASGI server) --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_replay_stops_when_its_client_disconnects_from_the_asgi_server(trader, worked_parent):
    parent, _, _ = worked_parent
    token = Token.objects.create(user=trader).key
    env = {"DATABASE_URL": database_url(connection.settings_dict), "WHAT_IF_MAX_EVENTS": "10000000",
           "WHAT_IF_MAX_SECONDS": "600", "WHAT_IF_MAX_PER_USER": "1"}
    # The whole session, one-share children every half second: far more than a minute of work.
    body = b'{"strategy": "twap", "params": {"start": 0, "end": 23400000000, "interval_s": 0.5, "min_child": 1, "max_child": 1}}'
    with run_server(env) as (url, log):
        host, port = urlsplit(url).hostname, urlsplit(url).port
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(
                f"POST {URL.format(parent.pk)} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Token {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            assert wait_for(lambda: _running(trader) == 1, 60), log.read_text()[-2000:]
        # The client is gone: the replay (600 s of budget) stops and gives its slot back.
        assert wait_for(lambda: _running(trader) == 0, 60), log.read_text()[-2000:]
    assert not WhatIf.objects.exists()
