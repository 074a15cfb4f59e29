"""A four-leg package's RFQ ladder in a real browser, on a real ASGI server and a real Celery worker running the
simulated market makers: the legs listed with their model values, net quotes arriving live over /ws/rfq/<id>/
without a reload, one click on the best executes every leg, and the legs show the prices they were booked at,
adding up to the net price."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ems.models import Fill
from rfq.models import RFQ, LiquidityProvider, Quote
from rfq.states import RfqStatus
from tests.browser.conftest import SERVER_CHECKPOINT_FILE, signed_in_at
from tests.ems.live_helpers import MarketClock
from tests.rfq.package_helpers import chain, four_legs, package_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (code, name, median latency ms, base spread bps of the gross premium): answers at clearly different times.
MAKERS = [("NRTH", "Northgate Bank", 2000, "20"), ("BLCK", "Blockhouse Capital", 4500, "40"),
          ("AXEB", "Axe Brothers", 7000, "30"), ("RGNL", "Riverside Regional", 9500, "60")]


@pytest.fixture
def makers(db):
    common = {"response_probability": Decimal("1"), "latency_ms_sigma": Decimal("0.05"), "quote_life_ms": 60_000,
              "last_look_reject_probability": Decimal("0"), "last_look_tolerance_bps": Decimal("10000"),
              "partial_probability": Decimal("0"), "max_size": 1_000_000, "size_coef_bps": Decimal("2"), "vol_coef": Decimal("0.3")}
    return [LiquidityProvider.objects.create(code=code, name=name, latency_ms_median=latency, base_spread_bps=Decimal(spread),
                                             seed=k + 1, **common)
            for k, (code, name, latency, spread) in enumerate(MAKERS)]


@pytest.fixture
def live_stack(settings, venues, instrument):
    from django.db import connection

    from tests.servers import celery_worker, database_url, run_server

    MarketClock(settings)
    queue = f"test-pkg-ui-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue  # the package's tasks, sent from this process, go to this test's worker
    env = {
        "DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL,
        "CHANNELS_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"], "EMS_QUEUE": queue, "EMS_TICK_S": "0.5",
        "SIM_ANCHOR": repr(settings.SIM_ANCHOR), "SIM_SPEED": repr(settings.SIM_SPEED), "DB_POOL_MIN_SIZE": "0",
        "AUDIT_CHECKPOINT_FILE": str(SERVER_CHECKPOINT_FILE),
    }
    with run_server(env) as (url, server_log), celery_worker(env, queue) as worker_log:
        yield url
        logs = server_log.read_text() + worker_log.read_text()
    assert "Traceback" not in logs, logs[-4000:]


def test_a_four_leg_package_ladder_fills_live_and_one_click_books_every_leg(browser, live_stack, trader, makers, instrument,
                                                                            portfolio, screenshot):
    options = chain(instrument)
    context, page = signed_in_at(browser, live_stack, trader, timeout_ms=15_000)
    try:
        rfq = package_for(trader, portfolio, four_legs(instrument, options), quantity=10, window_s="40")
        page.goto(f"/rfq/{rfq.id}/")
        legs = page.locator("#rfq-legs tbody tr")
        expect(legs).to_have_count(4)
        expect(legs.nth(0)).to_contain_text(options["c100"].symbol)
        expect(legs.nth(3)).to_contain_text("SELL")
        expect(legs.nth(3)).to_contain_text("400")
        expect(page.locator("#rfq-head")).to_contain_text("Package of 4 legs")

        page.evaluate("window.__samePage = true")
        rows = page.locator("#rfq-ladder tbody tr[data-quote-id]")
        expect(rows.first).to_be_visible(timeout=15_000)
        first_seen = rows.count()
        expect(rows).to_have_count(4, timeout=25_000)
        assert first_seen < 4 and page.evaluate("window.__samePage") is True  # pushed one after another, no reload
        expect(page.locator("#rfq-ladder tr.is-best")).to_have_count(1)
        screenshot(page, "package_ladder_quoting")

        best_id = int(page.locator("#rfq-ladder tr.is-best").get_attribute("data-quote-id"))
        page.locator("#rfq-ladder tr.is-best .btn-exec").click()
        expect(page.locator("#rfq-outcome")).to_contain_text("Executed: every leg of 10 packages")
        expect(page.locator("#rfq-head .badge")).to_have_text("EXECUTED")
        expect(page.locator("#rfq-legs tbody tr td.px").nth(1)).not_to_have_text("—")
        screenshot(page, "package_ladder_executed")
    finally:
        context.close()

    rfq = RFQ.objects.get(pk=rfq.pk)
    best = min(Quote.objects.filter(rfq=rfq), key=lambda q: q.price)
    assert (rfq.status, rfq.executed_quote_id, best_id) == (RfqStatus.EXECUTED, best.pk, best.pk)
    assert Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-Q{best.pk}-L").count() == 4
    assert sum((leg.sign * leg.weight * leg.executed_price for leg in rfq.legs.all()), Decimal(0)) == best.price
