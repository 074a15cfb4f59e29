"""Demo liquidity providers: at least six, clearly different, idempotent."""

from __future__ import annotations

import pytest

from oms.models import Instrument
from rfq.demo import seed_liquidity_providers
from rfq.models import LiquidityProvider
from rfq.selectors import eligible_providers
from tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db

PROFILE_FIELDS = ("response_probability", "latency_ms_median", "base_spread_bps", "size_coef_bps", "vol_coef", "skew_bps",
                  "max_size", "partial_probability", "last_look_reject_probability", "last_look_tolerance_bps", "quote_life_ms")


def _state() -> dict:
    return {lp.code: ({f: getattr(lp, f) for f in (*PROFILE_FIELDS, "seed", "name", "is_active")},
                      sorted(lp.instruments.values_list("symbol", flat=True)))
            for lp in LiquidityProvider.objects.all()}


@pytest.fixture
def demo_instruments(db):
    return [InstrumentFactory(symbol=s) for s in ("AAPL", "MSFT", "NFLX", "JNJ", "ZZZZ")]


def test_at_least_six_providers_with_distinct_profiles_and_seeds(demo_instruments):
    seed_liquidity_providers()
    lps = list(LiquidityProvider.objects.all())
    assert len(lps) >= 6
    assert len({lp.seed for lp in lps}) == len(lps)
    assert len({tuple(getattr(lp, f) for f in PROFILE_FIELDS) for lp in lps}) == len(lps)
    by = {lp.code: lp for lp in lps}
    # The profiles the demo promises, recognisably: one flaky, one heavy last-looker, one block house, one axe.
    assert min(lps, key=lambda lp: lp.response_probability).response_probability <= 0.5
    assert max(lps, key=lambda lp: lp.last_look_reject_probability).last_look_reject_probability >= 0.25
    assert max(lp.max_size for lp in lps) >= 10 * sorted(lp.max_size for lp in lps)[len(lps) // 2]
    assert any(lp.skew_bps >= 5 for lp in lps)
    assert max(lp.latency_ms_median for lp in lps) >= 10 * min(lp.latency_ms_median for lp in lps)
    assert all(lp.is_active for lp in by.values())


def test_restricted_providers_quote_only_their_symbols(demo_instruments):
    seed_liquidity_providers()
    restricted = [lp for lp in LiquidityProvider.objects.all() if lp.instruments.exists()]
    assert len(restricted) >= 2
    aapl, nflx, other = (Instrument.objects.get(symbol=s) for s in ("AAPL", "NFLX", "ZZZZ"))
    for_aapl = set(eligible_providers(aapl).values_list("code", flat=True))
    for_nflx = set(eligible_providers(nflx).values_list("code", flat=True))
    for_other = set(eligible_providers(other).values_list("code", flat=True))
    assert for_aapl != for_nflx  # a large-cap bank and a specialist in thinner names
    assert for_other < for_aapl | for_nflx and len(for_other) >= 4  # the unrestricted ones quote anything


def test_seeding_twice_changes_nothing(demo_instruments):
    seed_liquidity_providers()
    first = _state()
    history = LiquidityProvider.pgh_event_model.objects.count()
    seed_liquidity_providers()
    assert _state() == first
    assert LiquidityProvider.pgh_event_model.objects.count() == history  # no spurious profile versions


def test_seeding_restores_an_edited_profile(demo_instruments):
    seed_liquidity_providers()
    first = _state()
    lp = LiquidityProvider.objects.order_by("code").first()
    lp.response_probability = 0
    lp.is_active = False
    lp.save()
    lp.instruments.clear()
    seed_liquidity_providers()
    assert _state() == first


def test_without_instruments_every_provider_quotes_everything(db):
    seed_liquidity_providers()
    assert LiquidityProvider.objects.count() >= 6
    assert not LiquidityProvider.instruments.through.objects.exists()
