"""RFQ reads: scorecards from hand-made history, the ladder, the window, visibility, eligibility."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import rfq.selectors as sel
from ems.models import Venue
from ems.selectors import market_for, market_prices
from ems.sim import US
from oms.models import MarketPrice
from rfq.models import RFQ, Dissemination, LiquidityProvider, Quote
from rfq.scoring import select_providers
from rfq.states import QuoteStatus, RfqStatus
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DAY = 2


def lp(code: str, **kw) -> LiquidityProvider:
    return LiquidityProvider.objects.create(code=code, name=f"{code} Markets", **kw)


def make_parent(instrument, *, side="buy", orders=()):
    return f.parent(instrument=instrument, orders=orders, side=side, quantity=100_000, market_day=DAY)


def make_rfq(parent, *, status=RfqStatus.QUOTING, window_s: float = 5.0, ends_in: float = 5.0, **kw) -> RFQ:
    now = datetime.now(UTC)
    return RFQ.objects.create(
        parent=parent, instrument=parent.instrument, side=parent.side, direction="two_way", quantity=kw.pop("quantity", 10_000),
        status=status, window_s=Decimal(str(window_s)), mid_at_request=Decimal("100.00"), market_day=parent.market_day,
        market_time_us=0, source="desk", sent_at=now, window_ends_at=now + timedelta(seconds=ends_in), **kw,
    )


def disseminate(rfq: RFQ, provider: LiquidityProvider, response: str = "") -> Dissemination:
    return Dissemination.objects.create(
        rfq=rfq, provider=provider, reference=uuid.uuid4().hex, rank=1, score=Decimal("0"), reason="test",
        payload={}, sent_at=datetime.now(UTC), response=response,
    )


def make_quote(rfq: RFQ, provider: LiquidityProvider, price: str, *, status=QuoteStatus.LIVE, bps: str = "5",
               life_s: float = 3.0, size: int = 10_000, response: str = "quoted") -> Quote:
    d = disseminate(rfq, provider, response)
    now = datetime.now(UTC)
    p = Decimal(price)
    return Quote.objects.create(
        rfq=rfq, provider=provider, dissemination=d, price=p, size=size, bps_from_mid=Decimal(bps),
        ask_price=p if rfq.side == "buy" else None, ask_size=size if rfq.side == "buy" else None,
        bid_price=p if rfq.side == "sell" else None, bid_size=size if rfq.side == "sell" else None,
        mid_at_quote=Decimal("100.00"), status=status, received_at=now, valid_until=now + timedelta(seconds=life_s),
    )


def execute(parent, provider, *, quantity: int, price: str, t_us: int) -> RFQ:
    """An RFQ executed on ``provider``'s quote, with its child and EMS fill at market time ``t_us``."""
    r = make_rfq(parent, quantity=quantity)
    q = make_quote(r, provider, price, status=QuoteStatus.ACCEPTED, size=quantity)
    child = f.child(parent=parent, quantity=quantity, price=price, kind="rfq")
    f.fill(parent=parent, child=child, quantity=quantity, price=price, t_us=t_us, allocate=False)
    RFQ.objects.filter(pk=r.pk).update(status=RfqStatus.EXECUTED, executed_quote=q, child=child,
                                       executed_quantity=quantity, executed_price=Decimal(price))
    return r


def mid_move_bps(instrument, t_us: int) -> float:
    m = market_for(instrument, DAY)
    return (m.mid(t_us + 60 * US) - m.mid(t_us)) / m.mid(t_us) * 10_000


# --- scorecards -----------------------------------------------------------------------------------


def test_scorecard_counts_requests_responses_hits_and_cost(instrument, clock):
    parent = make_parent(instrument)
    a, b, c = lp("AAA"), lp("BBB"), lp("CCC")
    r1, r2, r3 = make_rfq(parent), make_rfq(parent), make_rfq(parent)
    make_quote(r1, a, "100.04", status=QuoteStatus.ACCEPTED, bps="4")
    make_quote(r2, a, "100.06", status=QuoteStatus.EXPIRED, bps="6")
    make_quote(r3, a, "100.50", status=QuoteStatus.REFUSED, bps="50", response="late")  # late: neither a response nor a cost
    disseminate(r1, b, "declined")
    disseminate(r2, b, "")

    cards = sel.provider_scorecards()

    ca, cb, cc = cards[a.pk], cards[b.pk], cards[c.pk]
    assert (ca.code, ca.requests, ca.responses, ca.quotes_accepted, ca.mean_bps_from_mid) == ("AAA", 3, 2, 1, 5.0)
    assert (cb.requests, cb.responses, cb.quotes_accepted, cb.mean_bps_from_mid) == (2, 0, 0, None)
    assert (cc.requests, cc.responses, cc.mean_bps_from_mid, cc.markout_bps, cc.executions) == (0, 0, None, None, 0)
    assert ca.markout_bps is None  # accepted quote without an EMS fill: nothing to mark out


def test_a_provider_that_never_answers_ranks_below_one_that_does(instrument, clock):
    parent = make_parent(instrument)
    silent, answering = lp("AAA"), lp("ZZZ")  # the silent one would win a tie on its code
    for _ in range(8):
        r = make_rfq(parent)
        disseminate(r, silent, "declined")
        make_quote(r, answering, "100.05", bps="5")

    chosen = select_providers(list(sel.provider_scorecards().values()), 2)

    assert [s.code for s in chosen] == ["ZZZ", "AAA"]
    assert "response 100% (8/8)" in chosen[0].reason and "response 0% (0/8)" in chosen[1].reason


def _moving_time(instrument) -> int:
    # A fill time whose next minute moved the mid clearly, so a sign error cannot hide in noise.
    return max((t * US for t in range(300, 3000, 30)), key=lambda t: abs(mid_move_bps(instrument, t)))


def test_markout_is_the_mid_move_in_the_direction_of_our_trade(instrument, clock, venues):
    t = _moving_time(instrument)
    move = mid_move_bps(instrument, t)
    assert abs(move) > 0.5
    buyer, seller = lp("BUYS"), lp("SELS")
    execute(make_parent(instrument, side="buy"), buyer, quantity=1_000, price="100.05", t_us=t)
    execute(make_parent(instrument, side="sell"), seller, quantity=1_000, price="99.95", t_us=t)

    cards = sel.provider_scorecards()

    assert cards[buyer.pk].markout_bps == pytest.approx(move, abs=1e-3)  # we bought; the mid rising is positive
    assert cards[seller.pk].markout_bps == pytest.approx(-move, abs=1e-3)  # we sold; the same rise is negative
    assert cards[buyer.pk].executions == cards[seller.pk].executions == 1


def test_markout_is_quantity_weighted(instrument, clock, venues):
    t1, t2 = 600 * US, 1800 * US
    p = lp("PPP")
    parent = make_parent(instrument)
    execute(parent, p, quantity=3_000, price="100.00", t_us=t1)
    execute(parent, p, quantity=1_000, price="100.00", t_us=t2)

    card = sel.provider_scorecards([p])[p.pk]

    expected = (3 * mid_move_bps(instrument, t1) + 1 * mid_move_bps(instrument, t2)) / 4
    assert card.markout_bps == pytest.approx(expected, abs=1e-3) and card.executions == 2


def test_markout_waits_for_its_horizon(instrument, settings, venues):
    MarketClock(settings, day=DAY, t_us=600 * US + 30 * US)  # 30 s after the fill: its minute has not passed
    p = lp("PPP")
    execute(make_parent(instrument), p, quantity=1_000, price="100.00", t_us=600 * US)

    card = sel.provider_scorecards([p])[p.pk]

    assert (card.markout_bps, card.executions, card.quotes_accepted) == (None, 0, 1)


def test_markout_counts_only_the_most_recent_executions(instrument, clock, venues, monkeypatch):
    monkeypatch.setattr(sel, "MARKOUT_MAX_EXECUTIONS", 2)
    p = lp("PPP")
    parent = make_parent(instrument)
    times = [600 * US, 1200 * US, 1800 * US]
    for t in times:
        execute(parent, p, quantity=1_000, price="100.00", t_us=t)

    card = sel.provider_scorecards([p])[p.pk]

    assert card.executions == 2
    assert card.markout_bps == pytest.approx((mid_move_bps(instrument, times[1]) + mid_move_bps(instrument, times[2])) / 2, abs=1e-3)


def _history(instrument, providers):
    parent = make_parent(instrument)
    for i, p in enumerate(providers):
        r = make_rfq(parent)
        make_quote(r, p, "100.05")
        execute(parent, p, quantity=1_000, price="100.00", t_us=(600 + 60 * i) * US)


def test_scorecards_take_the_same_queries_for_two_or_six_providers(instrument, clock, venues):
    two = [lp(f"P{i}") for i in range(2)]
    _history(instrument, two)
    with CaptureQueriesContext(connection) as few:
        sel.provider_scorecards()
    _history(instrument, [lp(f"Q{i}") for i in range(4)])
    with CaptureQueriesContext(connection) as many:
        cards = sel.provider_scorecards()
    assert len(cards) == 6 and all(c.executions == 1 for c in cards.values())
    assert len(many) == len(few) <= 7


# --- eligibility, profile, market ---------------------------------------------------------------


def test_eligible_providers_are_active_and_quote_the_instrument(instrument, other_instrument):
    lp("ALL")
    only_this = lp("THIS")
    only_this.instruments.set([instrument])
    both = lp("BOTH")
    both.instruments.set([instrument, other_instrument])
    lp("OTHR").instruments.set([other_instrument])
    lp("OFF", is_active=False)

    assert list(sel.eligible_providers(instrument).values_list("code", flat=True)) == ["ALL", "BOTH", "THIS"]
    assert list(sel.eligible_providers(other_instrument).values_list("code", flat=True)) == ["ALL", "BOTH", "OTHR"]


def test_provider_profile_is_the_rows_figures_as_numbers():
    row = lp("PRF", response_probability=Decimal("0.7"), latency_ms_sigma=Decimal("0.25"), skew_bps=Decimal("-3.5"),
             max_size=12_345, seed=99)
    p = sel.provider_profile(row)
    assert (p.code, p.response_probability, p.latency_ms_sigma, p.skew_bps, p.max_size, p.seed) == ("PRF", 0.7, 0.25, -3.5, 12_345, 99)
    assert isinstance(p.base_spread_bps, float) and isinstance(p.quote_life_ms, int)


def test_market_snapshot_takes_the_live_mid(instrument, clock, venues):
    snap = sel.market_snapshot(instrument)
    assert snap.mid == float(market_prices([instrument])[0].mid)
    assert (snap.adv, snap.daily_vol, snap.tick_size, snap.lot_size) == (10_000_000, 0.02, 0.01, instrument.lot_size)


def test_market_snapshot_falls_back_to_the_stored_price_then_the_reference(instrument, clock):
    assert not Venue.objects.exists()  # no venue: no live book
    assert sel.market_snapshot(instrument).mid == 100.0
    MarketPrice.objects.create(instrument=instrument, bid=Decimal("101.00"), ask=Decimal("101.10"), mid=Decimal("101.05"),
                               as_of=datetime.now(UTC))
    assert sel.market_snapshot(instrument).mid == 101.05


# --- ladder and window ---------------------------------------------------------------------------


def test_ladder_of_a_buy_is_cheapest_first_and_best_is_the_best_live_quote(instrument):
    r = make_rfq(make_parent(instrument, side="buy"))
    a, b, c, d = lp("AAA"), lp("BBB"), lp("CCC"), lp("DDD")
    make_quote(r, a, "100.08")
    make_quote(r, b, "100.02", status=QuoteStatus.REJECTED)  # cheapest, but rejected on last look
    make_quote(r, c, "100.05")
    make_quote(r, d, "100.03", life_s=-1)  # still marked live, but its life is over

    ladder = sel.rfq_ladder(r)

    assert [row["price"] for row in ladder] == [Decimal("100.02"), Decimal("100.03"), Decimal("100.05"), Decimal("100.08")]
    assert [row["provider"] for row in ladder if row["is_best"]] == ["CCC"]
    assert [row["seconds_left"] > 0 for row in ladder] == [False, False, True, True]
    best = next(row for row in ladder if row["is_best"])
    assert best["provider_name"] == "CCC Markets" and best["bps_from_mid"] == Decimal("5") and best["status"] == "live"


def test_ladder_of_a_sell_is_highest_first(instrument):
    r = make_rfq(make_parent(instrument, side="sell"))
    make_quote(r, lp("AAA"), "99.95")
    make_quote(r, lp("BBB"), "99.97")
    make_quote(r, lp("CCC"), "99.90")

    ladder = sel.rfq_ladder(r)

    assert [row["provider"] for row in ladder] == ["BBB", "AAA", "CCC"]
    assert [row["is_best"] for row in ladder] == [True, False, False]


def test_ladder_ties_go_to_the_earlier_quote(instrument):
    r = make_rfq(make_parent(instrument, side="buy"))
    make_quote(r, lp("ZZZ"), "100.05")
    make_quote(r, lp("AAA"), "100.05")
    assert [row["provider"] for row in sel.rfq_ladder(r)] == ["ZZZ", "AAA"]


def test_window_open_then_closed(instrument):
    parent = make_parent(instrument)
    w = sel.rfq_window(make_rfq(parent, ends_in=4.0))
    assert w["open"] and 0 < w["seconds_left"] <= 4.0 and w["ends_at"] and w["server_time"]
    assert not sel.rfq_window(make_rfq(parent, ends_in=-1.0))["open"]
    closed = sel.rfq_window(make_rfq(parent, status=RfqStatus.EXPIRED, ends_in=3.0))
    assert not closed["open"]
    ended = sel.rfq_window(make_rfq(parent, ends_in=-1.0))
    assert ended["seconds_left"] == 0.0


# --- visibility -----------------------------------------------------------------------------------


def test_rfq_list_is_the_desks_a_pm_reads_none_not_even_of_their_own_parent(instrument, pm, portfolio, other_pm, other_portfolio,
                                                                             trader, compliance):
    mine = make_rfq(make_parent(instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)]))
    theirs = make_rfq(make_parent(instrument, orders=[f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm)]))
    nobody = UserFactory(username="no_role_user")

    assert list(sel.rfq_list(user=pm)) == [] and list(sel.rfq_list(user=other_pm)) == []
    assert list(sel.rfq_list(user=trader)) == [theirs, mine]
    assert list(sel.rfq_list(user=compliance)) == [theirs, mine]
    assert list(sel.rfq_list(user=nobody)) == []
    assert sel.rfq_get(user=pm, rfq_id=mine.pk) is None
    assert sel.rfq_get(user=compliance, rfq_id=theirs.pk) == theirs


def test_markouts_survive_every_lit_venue_switched_off(instrument, clock, venues):
    p = lp("PPP")
    execute(make_parent(instrument), p, quantity=1_000, price="100.00", t_us=600 * US)
    live = sel.provider_scorecards([p])[p.pk].markout_bps
    Venue.objects.update(status=Venue.Status.HALTED)
    assert sel.provider_scorecards([p])[p.pk].markout_bps == live is not None  # the mid path does not depend on venues
    assert sel.market_snapshot(instrument).mid == 100.0  # no live book: the reference price
