"""Demo liquidity providers (idempotent: created or brought back to the profile below, by code): the RFQ
platform's part of ``manage.py seed_demo``.

Seven simulated market makers with clearly different behaviour, so that the scorecards, the choice of
providers and the ladder have something to show. Each has its own seed (reproducible answers per request).
Instrument restrictions are by symbol and apply to the symbols that exist (none existing = it quotes all).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from oms.models import Instrument
from rfq.models import LiquidityProvider

LARGE_CAPS = ("AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "BAC", "INTC")
SMALLER_NAMES = ("NFLX", "V", "JNJ", "PG", "DIS", "JPM", "CSCO", "KO")

# code, name, instrument symbols (None = all), profile fields. Every dealer keeps a quote firm at least the
# platform's 10 s (rfq.models.FIRM_QUOTE_MIN_MS), most 20-45 s: a trader clicking within a 20-30 s window has
# time to read the ladder. Electra's and Flakestone's lapse first (10 s), greyed on the ladder when they do.
PROVIDERS: list[tuple[str, str, tuple[str, ...] | None, dict]] = [
    ("NRTH", "Northgate Bank (fast, tight, large caps)", LARGE_CAPS, dict(
        response_probability="0.95", latency_ms_median=250, latency_ms_sigma="0.25", quote_life_ms=30_000,
        base_spread_bps="1.5", size_coef_bps="0.8", vol_coef="0.15", skew_bps="0", max_size=300_000,
        partial_probability="0.05", last_look_reject_probability="0.02", last_look_tolerance_bps="8", seed=101)),
    ("RGNL", "Riverside Regional Securities (slow, wide)", None, dict(
        response_probability="0.80", latency_ms_median=2200, latency_ms_sigma="0.45", quote_life_ms=30_000,
        base_spread_bps="9", size_coef_bps="2", vol_coef="0.4", skew_bps="0", max_size=100_000,
        partial_probability="0.15", last_look_reject_probability="0.03", last_look_tolerance_bps="20", seed=202)),
    ("ELMM", "Electra Markets (electronic MM, heavy last look)", None, dict(
        response_probability="0.98", latency_ms_median=120, latency_ms_sigma="0.2", quote_life_ms=10_000,
        base_spread_bps="1.0", size_coef_bps="1.5", vol_coef="0.3", skew_bps="0", max_size=50_000,
        partial_probability="0.30", last_look_reject_probability="0.30", last_look_tolerance_bps="1.5", seed=303)),
    ("BLCK", "Blockhouse Capital (block specialist)", None, dict(
        response_probability="0.85", latency_ms_median=1500, latency_ms_sigma="0.35", quote_life_ms=45_000,
        base_spread_bps="6", size_coef_bps="0.3", vol_coef="0.2", skew_bps="0", max_size=5_000_000,
        partial_probability="0.0", last_look_reject_probability="0.01", last_look_tolerance_bps="25", seed=404)),
    ("AXEB", "Axe Brothers (axed buyer, skewed)", None, dict(
        response_probability="0.90", latency_ms_median=600, latency_ms_sigma="0.3", quote_life_ms=20_000,
        base_spread_bps="4", size_coef_bps="1", vol_coef="0.3", skew_bps="6", max_size=400_000,
        partial_probability="0.10", last_look_reject_probability="0.05", last_look_tolerance_bps="10", seed=505)),
    ("SMCP", "Smallwood Partners (specialist in thinner names)", SMALLER_NAMES, dict(
        response_probability="0.90", latency_ms_median=900, latency_ms_sigma="0.35", quote_life_ms=20_000,
        base_spread_bps="3", size_coef_bps="0.6", vol_coef="0.25", skew_bps="-1", max_size=250_000,
        partial_probability="0.20", last_look_reject_probability="0.04", last_look_tolerance_bps="12", seed=606)),
    ("FLKY", "Flakestone Trading (rarely answers)", None, dict(
        response_probability="0.35", latency_ms_median=1800, latency_ms_sigma="0.8", quote_life_ms=10_000,
        base_spread_bps="3", size_coef_bps="1", vol_coef="0.5", skew_bps="0", max_size=150_000,
        partial_probability="0.40", last_look_reject_probability="0.15", last_look_tolerance_bps="5", seed=707)),
]

_DECIMAL_FIELDS = {"response_probability", "latency_ms_sigma", "base_spread_bps", "size_coef_bps", "vol_coef", "skew_bps",
                   "partial_probability", "last_look_reject_probability", "last_look_tolerance_bps"}


def seed_demo() -> None:
    """The RFQ platform's part of ``manage.py seed_demo`` (after the OMS's instruments)."""
    seed_liquidity_providers()


@transaction.atomic
def seed_liquidity_providers() -> list[LiquidityProvider]:
    """Create or refresh the demo liquidity providers and what they quote; return them."""
    out = []
    for code, name, symbols, profile in PROVIDERS:
        defaults = {"name": name, "is_active": True,
                    **{k: Decimal(v) if k in _DECIMAL_FIELDS else v for k, v in profile.items()}}
        lp, created = LiquidityProvider.objects.get_or_create(code=code, defaults=defaults)
        changed = [k for k, v in defaults.items() if getattr(lp, k) != v]
        if changed and not created:  # save only a real change: each save is a row of the provider's history
            for k in changed:
                setattr(lp, k, defaults[k])
            lp.save(update_fields=[*changed, "updated_at"])
        lp.instruments.set(Instrument.objects.filter(symbol__in=symbols) if symbols else [])
        out.append(lp)
    return out
