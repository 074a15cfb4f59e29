"""A bounded connection pool: 100 concurrent clients against the real server get answers, never a 500,
and the server never holds more PostgreSQL connections than its pool allows."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.servers import database_url, run_server

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 100
POOL_MAX = 4


APP_NAME = f"pool-test-{uuid.uuid4().hex[:8]}"  # libpq's PGAPPNAME: tells this server's backends from any other's


def _server_connections(sampler: psycopg.Connection) -> int:
    return sampler.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]).fetchone()[0]


def test_100_concurrent_clients_get_no_500_and_the_pool_caps_connections(pm, portfolio, instrument, order_payload):
    token = Token.objects.create(user=pm).key
    connection.close()  # the test process holds nothing while the server works
    env = {"DATABASE_URL": database_url(connection.settings_dict), "DB_POOL_MAX_SIZE": str(POOL_MAX),
           "DB_POOL_MIN_SIZE": "1", "DB_POOL_TIMEOUT": "60", "PGAPPNAME": APP_NAME}
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as conn:
            while not stop.is_set():
                peak = max(peak, _server_connections(conn))
                time.sleep(0.02)

    with run_server(env) as (url, log):
        headers = {"Authorization": f"Token {token}"}

        def one_client(i: int) -> list[tuple[int, str]]:
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                posted = client.post("/api/orders/", json=order_payload(client_order_id=f"POOL-{i}"))
                listed = client.get("/api/orders/", params={"page_size": 5})
                return [(posted.status_code, posted.text[:200]), (listed.status_code, listed.text[:200])]

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = [a for result in pool.map(one_client, range(CLIENTS)) for a in result]
        stop.set()
        sampler.join()
        server_log = log.read_text()

    statuses = sorted({status for status, _ in answers})
    assert all(status < 500 for status, _ in answers), [a for a in answers if a[0] >= 500][:3]
    assert statuses == [200, 201], statuses
    assert 0 < peak <= POOL_MAX, f"server held {peak} connections with a pool of {POOL_MAX}"
    assert "too many clients" not in server_log and "Traceback" not in server_log, server_log[-3000:]
    from oms.models import Order

    assert Order.objects.filter(client_order_id__startswith="POOL-").count() == CLIENTS
