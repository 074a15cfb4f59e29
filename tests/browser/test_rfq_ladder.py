"""The RFQ ladder in a real browser, on a real ASGI server and a real Celery worker running the simulated
market makers: a trader opens a parent on the desk, requests quotes (click to trade, a 20 s window),
watches the quotes arrive in the ladder without a reload, clicks Execute on the best one, reads the
result, and the parent page shows the fill (liquidity RFQ).

The session's server (tests/browser/conftest.py) sends Celery tasks to the default queue; this test runs
its own server and worker on a queue of their own (EMS_QUEUE), so that the providers' answers scheduled by
the server are run by this test's worker and nobody else's.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ems.models import Fill
from ems.selectors import live_clock
from rfq.models import RFQ, LiquidityProvider, Quote
from rfq.selectors import market_snapshot
from rfq.states import QuoteStatus, RfqStatus
from tests.browser.conftest import signed_in_at
from tests.browser.live_stack import server_and_worker
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock, working_parent
from tests.servers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Four makers that always answer, at clearly different times (median latency, ms) and prices, whose quotes
# stay firm for the whole window and who never reject on last look; and one that always declines.
MAKERS = [
    ("NRTH", "Northgate Bank", 400, "2.0"),
    ("BLCK", "Blockhouse Capital", 1800, "6.0"),
    ("AXEB", "Axe Brothers", 3200, "4.0"),
    ("RGNL", "Riverside Regional", 4600, "9.0"),
]


@pytest.fixture
def makers(db):
    common = {"response_probability": Decimal("1"), "latency_ms_sigma": Decimal("0.05"), "quote_life_ms": 60_000,
              "last_look_reject_probability": Decimal("0"), "last_look_tolerance_bps": Decimal("10000"),
              "partial_probability": Decimal("0"), "max_size": 1_000_000, "size_coef_bps": Decimal("0.5"), "vol_coef": Decimal("0.1")}
    out = [LiquidityProvider.objects.create(code=code, name=name, latency_ms_median=latency, base_spread_bps=Decimal(spread),
                                            seed=k + 1, **common)
           for k, (code, name, latency, spread) in enumerate(MAKERS)]
    out.append(LiquidityProvider.objects.create(code="FLKY", name="Flakestone Trading", response_probability=Decimal("0"),
                                                latency_ms_median=900, seed=9))
    return out


@pytest.fixture
def live_stack(settings, pooled_parent_started_now):
    """A server and a Celery worker of this test's own (queue, channel-layer prefix), on the test database and
    the market clock the test set; yields the server's base URL."""
    queue = f"test-rfq-ui-{uuid.uuid4().hex[:8]}"
    with server_and_worker(settings, queue=queue, prefix=f"rfq-ui-{uuid.uuid4().hex[:8]}") as url:
        yield url


@pytest.fixture
def pooled_parent_started_now(pm, portfolio, other_pm, other_portfolio, instrument, settings):
    """A TWAP buy parent of 10,000 ACME pooling two PMs' orders, started now (market time at wall speed)."""
    MarketClock(settings)  # market time now: day 2, 10:30, at wall speed (the server and worker get the same)
    now = live_clock().market_time()
    orders = [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=6_000),
              f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=4_000)]
    p = working_parent(instrument=instrument, orders=orders, start_us=now.t_us, day=now.day, window_s=60 * 60)
    # Arrival at the simulated market's mid now, as aggregation would record it (the helper's is a fixed 100).
    p.arrival_price = Decimal(f"{market_snapshot(instrument).mid:.4f}")
    p.save(update_fields=["arrival_price"])
    return p


def test_trader_requests_quotes_watches_the_ladder_fill_and_executes_the_best(browser, live_stack, trader, makers, screenshot,
                                                                             pooled_parent_started_now):
    context, page = signed_in_at(browser, live_stack, trader, timeout_ms=15_000)
    try:
        _run(page, pooled_parent_started_now, screenshot)
    finally:
        context.close()


def _run(page, parent, screenshot):
    # The desk, then the parent's page with its "Request quotes" form.
    page.goto("/desk/execution/")
    page.locator(f"#parent-row-{parent.id} a", has_text=f"P{parent.id}").click()
    page.wait_for_url(f"**/desk/parents/{parent.id}/")
    form = page.locator("#rfq-form")
    expect(form).to_be_visible()
    expect(form.locator(".hint").first).to_contain_text("available now: 10,000")
    expect(page.locator("#parent-rfqs")).to_contain_text("No request for quote yet")
    screenshot(page, "rfq_parent_form")

    # Asking for more than is available is refused in the form itself (what was typed stays).
    page.fill("#rq-quantity", "20000")
    page.fill("#rq-window", "20")
    page.click("#rfq-submit")
    expect(page.locator("#rfq-request .rfq-form-error")).to_contain_text("rfq.quantity_unavailable")
    expect(page.locator("#rq-window")).to_have_value("20")
    assert page.url.endswith(f"/desk/parents/{parent.id}/") and not RFQ.objects.exists()

    page.fill("#rq-quantity", "4000")
    expect(page.locator("#rq-direction-two_way")).to_be_checked()
    expect(page.locator("#rq-mode-click")).to_be_checked()
    page.click("#rfq-submit")
    page.wait_for_url("**/rfq/*/")
    rfq = RFQ.objects.get(parent=parent)
    assert page.url.endswith(f"/rfq/{rfq.id}/")
    assert (rfq.quantity, rfq.direction, rfq.mode, rfq.window_s) == (4000, "two_way", "click", Decimal("20.000"))
    assert rfq.disseminations.count() == 4  # RFQ_PROVIDERS_PER_REQUEST of the five

    # The ladder fills as the makers answer, pushed over /ws/rfq/<id>/: no reload (the marker survives).
    page.evaluate("window.__samePage = true")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    expect(page.locator("#rfq-clock.is-open")).to_be_visible()
    rows = page.locator("#rfq-ladder tbody tr[data-quote-id]")
    expect(rows).to_have_count(1, timeout=10_000)
    first_seen = rows.count()
    asked = {d.provider.code for d in rfq.disseminations.select_related("provider")}
    quoting = len(asked - {"FLKY"})
    expect(rows).to_have_count(quoting, timeout=15_000)
    assert first_seen < quoting  # they arrived one after another, not all at once
    assert page.evaluate("window.__samePage") is True
    expect(page.locator("#rfq-ladder tr.is-best")).to_have_count(1)
    countdown = page.locator("#rfq-countdown").inner_text()
    assert countdown.endswith("s") and 0 < float(countdown.split()[0]) <= 20
    if "FLKY" in asked:
        expect(page.locator("#rfq-asked tr[data-provider=FLKY]")).to_contain_text("declined")
    expect(page.locator("#rfq-head .badge")).to_have_text("QUOTING")
    screenshot(page, "rfq_ladder_quoting")

    # One click on the best quote: executed, the result panel says what we did and where the fill is.
    best_id = int(page.locator("#rfq-ladder tr.is-best").get_attribute("data-quote-id"))
    page.locator("#rfq-ladder tr.is-best .btn-exec").click()
    expect(page.locator("#rfq-result")).to_contain_text("Executed")
    expect(page.locator("#rfq-outcome")).to_contain_text("Executed: bought 4,000 ACME")
    expect(page.locator("#rfq-head .badge")).to_have_text("EXECUTED")
    expect(page.locator("#rfq-ladder .btn-exec")).to_have_count(0)
    expect(page.locator(f"#quote-{best_id}")).to_have_attribute("data-status", "accepted")
    screenshot(page, "rfq_ladder_executed")

    rfq.refresh_from_db()
    quotes = list(Quote.objects.filter(rfq=rfq))
    best = min(quotes, key=lambda q: q.price)  # we buy: the lowest offer
    assert (rfq.status, rfq.executed_quote_id, rfq.executed_quantity, rfq.executed_price) == (
        RfqStatus.EXECUTED, best.id, 4000, best.price)
    assert best_id == best.id
    assert all(q.status == QuoteStatus.EXPIRED for q in quotes if q.pk != best.pk)

    # The parent page shows the fill, liquidity RFQ, and the request in its list.
    page.locator("#rfq-result a", has_text="See the fill").click()
    page.wait_for_url(f"**/desk/parents/{parent.id}/**")
    exec_id = f"RFQ{rfq.id}-Q{best.id}"
    fill_row = page.locator("#fills tbody tr", has_text=exec_id)
    expect(fill_row).to_have_count(1)
    expect(fill_row).to_contain_text("rfq")
    expect(fill_row).to_contain_text("4,000")
    expect(page.locator(f"#parent-rfq-{rfq.id}")).to_contain_text("EXECUTED")
    fill = Fill.objects.get(exec_id=exec_id)
    assert (fill.liquidity, fill.quantity, fill.price) == ("rfq", 4000, best.price)

    def allocated() -> bool:
        fill.refresh_from_db()
        return fill.allocated_quantity == 4000

    assert wait_for(allocated, 15, every_s=0.2), fill.allocated_quantity  # shared by the two PMs' orders like any other fill
    screenshot(page, "rfq_parent_fill")

    # And the RFQ list: the request with its best quote and execution.
    page.click("nav.nav a:text-is('RFQ')")
    page.wait_for_url("**/rfq/")
    page.click(".seg-links a:text-is('All')")
    row = page.locator(f"#rfq-row-{rfq.id}")
    expect(row).to_contain_text("EXECUTED")
    expect(row).to_contain_text(f"4,000 @ {best.price:.4f}")
    screenshot(page, "rfq_list")


# NRTH answers first and best by ticks and keeps its quote firm for the platform's minimum (10 s,
# rfq.models.FIRM_QUOTE_MIN_MS); the others answer within ~1.5 s and stay firm for a minute: the best quote
# lapses while the trader reads the ladder of a 30 s window. (code, name, median latency ms, half-spread bps, life ms)
FADING_MAKERS = [
    ("NRTH", "Northgate Bank", 300, "1.0", 10_000),
    ("AXEB", "Axe Brothers", 600, "12.0", 60_000),
    ("BLCK", "Blockhouse Capital", 900, "20.0", 60_000),
    ("RGNL", "Riverside Regional", 1200, "30.0", 60_000),
]


@pytest.fixture
def makers_best_fades(db):
    common = {"response_probability": Decimal("1"), "latency_ms_sigma": Decimal("0.05"),
              "last_look_reject_probability": Decimal("0"), "last_look_tolerance_bps": Decimal("10000"),
              "partial_probability": Decimal("0"), "max_size": 1_000_000, "size_coef_bps": Decimal("0.5"), "vol_coef": Decimal("0.1")}
    return [LiquidityProvider.objects.create(code=code, name=name, latency_ms_median=latency, base_spread_bps=Decimal(spread),
                                             quote_life_ms=life, seed=k + 1, **common)
            for k, (code, name, latency, spread, life) in enumerate(FADING_MAKERS)]


def test_the_best_quote_lapses_while_the_trader_reads_and_the_next_best_is_executed(browser, live_stack, trader, makers_best_fades,
                                                                                   screenshot, pooled_parent_started_now):
    parent = pooled_parent_started_now
    context, page = signed_in_at(browser, live_stack, trader, timeout_ms=15_000)
    try:
        page.goto(f"/desk/parents/{parent.id}/")
        page.fill("#rq-quantity", "4000")
        page.fill("#rq-window", "30")
        page.click("#rfq-submit")
        page.wait_for_url("**/rfq/*/")
        rfq = RFQ.objects.get(parent=parent)
        page.evaluate("window.__samePage = true")

        # The four quotes arrive; NRTH's is the best and live, with its own countdown of at most 10 s.
        expect(page.locator("#rfq-ladder tbody tr[data-quote-id]")).to_have_count(4, timeout=15_000)
        nrth = Quote.objects.get(rfq=rfq, provider__code="NRTH")
        row = page.locator(f"#quote-{nrth.id}")
        expect(row).to_have_class("is-best")
        expect(row).to_have_attribute("data-status", "live")
        expect(row.locator(".btn-exec")).to_be_enabled()
        firm = float(row.locator(".firm").inner_text().split()[0])
        assert 0 < firm <= 10
        screenshot(page, "rfq_ladder_best_live")

        # The trader reads; NRTH's quote lapses: grey, EXPIRED, no Execute button, without a reload (pushed).
        expect(row).to_have_attribute("data-status", "expired", timeout=firm * 1000 + 5_000)
        expect(row.locator(".badge")).to_have_text("EXPIRED")
        expect(row.locator(".btn-exec")).to_have_count(0)
        expect(row).to_contain_text("lapsed: NRTH held it firm for")
        assert row.evaluate("r => getComputedStyle(r.querySelector('td.px')).textDecorationLine") == "line-through"
        best = page.locator("#rfq-ladder tr.is-best")
        expect(best).to_have_count(1)
        next_best = min(Quote.objects.filter(rfq=rfq).exclude(pk=nrth.pk), key=lambda q: q.price)
        expect(best).to_have_attribute("data-quote-id", str(next_best.id))
        assert page.evaluate("window.__samePage") is True
        screenshot(page, "rfq_ladder_best_lapsed")

        # The next best is executed with one click.
        best.locator(".btn-exec").click()
        expect(page.locator("#rfq-outcome")).to_contain_text(f"Executed: bought 4,000 ACME at {next_best.price:.4f} from {next_best.provider.code}")
        expect(page.locator("#rfq-head .badge")).to_have_text("EXECUTED")
        screenshot(page, "rfq_ladder_next_best_executed")
    finally:
        context.close()

    nrth.refresh_from_db()
    rfq.refresh_from_db()
    assert nrth.status == QuoteStatus.EXPIRED and nrth.status_reason.startswith("lapsed")
    assert (rfq.status, rfq.executed_quote_id, rfq.executed_price) == (RfqStatus.EXECUTED, next_best.id, next_best.price)
