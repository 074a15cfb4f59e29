"""The EMS keeps the OMS's market prices current from the market model (``ems.tasks.market_prices_refresh``)."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from config.celery import app as celery_app
from ems.models import Venue
from ems.selectors import live_clock, market_for
from ems.services import venues_sync_from_sim
from ems.sim import SESSION_US, US
from ems.tasks import market_prices_refresh
from oms.models import Instrument, MarketPrice
from oms.refdata import current_stamp
from oms.selectors import risk_references
from tests.factories import InstrumentFactory


@pytest.fixture
def market(settings, db):
    """Three lit venues and a live clock pinned to day 12, two hours after the open, at 60x."""
    settings.SIM_SEED, settings.SIM_SPEED = 7, 60.0
    settings.SIM_ANCHOR = time.time() - (12 * SESSION_US + 2 * 3600 * US) / US / settings.SIM_SPEED
    return venues_sync_from_sim()


@pytest.fixture
def instruments(db):
    return [
        InstrumentFactory(symbol="ACME", reference_price="100.00"),
        InstrumentFactory(symbol="BETA", reference_price="52.37", spread_bps="4.0"),
        InstrumentFactory(symbol="GAMMA", reference_price="812.10", daily_volatility="0.0400"),
    ]


def test_refresh_writes_every_active_instrument_as_the_market_model_shows_it_at_that_time(market, instruments):
    InstrumentFactory(symbol="GONE", reference_price="10.00", is_active=False)

    market_prices_refresh()

    stored = {p.instrument.symbol: p for p in MarketPrice.objects.select_related("instrument")}
    assert set(stored) == {"ACME", "BETA", "GAMMA"}
    for instrument in instruments:
        price = stored[instrument.symbol]
        mt = live_clock().market_time(price.as_of.timestamp())
        model = market_for(instrument, mt.day)
        bbo = model.bbo(mt.t_us)
        assert (float(price.bid), float(price.ask)) == (bbo.bid, bbo.ask)
        assert price.mid == (price.bid + price.ask) / 2
        assert price.bid < price.mid < price.ask
        _, n = model.print_range(0, mt.t_us + 1)
        assert float(price.last) == model.prints(0, mt.t_us + 1).price[n - 1]
        assert mt.day == 12 and mt.t_us >= 2 * 3600 * US


def test_refresh_moves_the_prices_forward_with_the_market_clock(market, instruments):
    market_prices_refresh()
    first = {p.instrument_id: p for p in MarketPrice.objects.all()}
    time.sleep(1.1)  # more than one market second at 60x: a later market state

    market_prices_refresh()

    for p in MarketPrice.objects.all():
        assert p.as_of > first[p.instrument_id].as_of


def test_refresh_does_not_bump_the_reference_data_stamp(market, instruments):
    before = current_stamp()

    market_prices_refresh()
    market_prices_refresh()

    assert current_stamp() == before
    assert MarketPrice.objects.count() == 3


def test_refresh_without_a_lit_book_keeps_the_last_price_to_age_into_the_fallback(market, instruments):
    market_prices_refresh()
    before = {p.instrument_id: (p.mid, p.as_of) for p in MarketPrice.objects.all()}
    Venue.objects.filter(kind=Venue.Kind.LIT).update(status=Venue.Status.HALTED)  # no displayed book anywhere

    market_prices_refresh()

    assert {p.instrument_id: (p.mid, p.as_of) for p in MarketPrice.objects.all()} == before


def test_beat_runs_the_registered_refresh_task_every_two_seconds():
    entry = next(e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "ems.tasks.market_prices_refresh")

    assert entry["schedule"] == 2.0
    assert entry["task"] in celery_app.tasks  # a worker knows the name beat sends
    assert entry["options"]["expires"] <= entry["schedule"]  # a backlog of refreshes is dropped, not run


def test_seed_demo_writes_a_fresh_price_for_every_demo_instrument(market):
    call_command("seed_demo", stdout=StringIO())

    references = risk_references(Instrument.objects.filter(is_active=True))
    # The 20 equities and the options listed on three of them, priced off those equities' fresh mids.
    assert len(references) == MarketPrice.objects.count() == 20 + 3 * 54
    assert all(ref.is_live for ref in references.values())  # the first order after start-up meets the market
