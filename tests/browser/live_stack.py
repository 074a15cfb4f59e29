"""A real ASGI server and a real Celery worker of the test's own (its queue, its channel-layer prefix) on the test
database and the market clock the test set, for the RFQ browser tests; and the package tests' four simulated market
makers that quote every leg and answer at clearly different times. Import ``package_makers`` and
``package_live_stack`` into a test module to have its ``makers`` and ``live_stack`` fixtures."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from rfq.models import LiquidityProvider
from tests.browser.conftest import SERVER_CHECKPOINT_FILE
from tests.ems.live_helpers import MarketClock

# (code, name, median latency ms, base spread bps of the gross premium): answers at clearly different times.
MAKERS = [("NRTH", "Northgate Bank", 2000, "20"), ("BLCK", "Blockhouse Capital", 4500, "40"),
          ("AXEB", "Axe Brothers", 7000, "30"), ("RGNL", "Riverside Regional", 9500, "60")]


@contextmanager
def server_and_worker(settings, *, queue: str, prefix: str):
    """Run the server and a worker on ``queue``; yield the server's base URL; fail the test on a traceback in their logs."""
    from django.db import connection

    from tests.servers import celery_worker, database_url, run_server

    env = {
        "DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL,
        "CHANNELS_PREFIX": prefix, "EMS_QUEUE": queue, "EMS_TICK_S": "0.5",
        "SIM_ANCHOR": repr(settings.SIM_ANCHOR), "SIM_SPEED": repr(settings.SIM_SPEED), "DB_POOL_MIN_SIZE": "0",
        "AUDIT_CHECKPOINT_FILE": str(SERVER_CHECKPOINT_FILE),
    }
    with run_server(env) as (url, server_log), celery_worker(env, queue) as worker_log:
        yield url
        logs = server_log.read_text() + worker_log.read_text()
    assert "Traceback" not in logs, logs[-4000:]


@pytest.fixture(name="makers")
def package_makers(db):
    common = {"response_probability": Decimal("1"), "latency_ms_sigma": Decimal("0.05"), "quote_life_ms": 60_000,
              "last_look_reject_probability": Decimal("0"), "last_look_tolerance_bps": Decimal("10000"),
              "partial_probability": Decimal("0"), "max_size": 1_000_000, "size_coef_bps": Decimal("2"), "vol_coef": Decimal("0.3")}
    return [LiquidityProvider.objects.create(code=code, name=name, latency_ms_median=latency, base_spread_bps=Decimal(spread),
                                             seed=k + 1, **common)
            for k, (code, name, latency, spread) in enumerate(MAKERS)]


@pytest.fixture(name="live_stack")
def package_live_stack(settings, venues, instrument):
    MarketClock(settings)
    queue = f"test-pkg-ui-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue  # the package's tasks, sent from this process, go to this test's worker
    with server_and_worker(settings, queue=queue, prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]) as url:
        yield url


def expect_net_quotes_arrive_live(page) -> None:
    """The four makers' net quotes fill the ladder one after another, pushed over the websocket (no reload)."""
    page.evaluate("window.__samePage = true")
    rows = page.locator("#rfq-ladder tbody tr[data-quote-id]")
    expect(rows.first).to_be_visible(timeout=15_000)
    first_seen = rows.count()
    expect(rows).to_have_count(len(MAKERS), timeout=25_000)
    assert first_seen < len(MAKERS) and page.evaluate("window.__samePage") is True
    expect(page.locator("#rfq-ladder tr.is-best")).to_have_count(1)
