"""The simulated options market seen from the database: each option instrument priced by ``ems.sim.options``
off its underlying's simulated mid (issue 22).

The model is the pure module's; this one only maps rows to its inputs: the time to expiry from the option's
expiry date (the session closes at ``EXPIRY_CLOSE_UTC`` that day), the underlying's seeded surface (its symbol,
daily volatility and ``settings.SIM_SEED``), the rate ``settings.OPTIONS_RATE``, the option's tick. The
options venue (``OPTIONS_VENUE``) displays the quote; its prices are written as the option's market price
beside the equities' (``ems.tasks.market_prices_refresh``), so pre-trade risk measures option orders against
them like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings

from ems.sim.options import OptionQuote, VolSurface, option_quote
from oms.models import Instrument, PriceTick

OPTIONS_VENUE = "XOPT"  # the one simulated listed-options venue
EXPIRY_CLOSE_UTC = time(21, 0)  # 16:00 New York: options stop trading at the close of their expiry day
YEAR_S = 365.0 * 86400


def years_to_expiry(option: Instrument, now: datetime) -> float:
    """Calendar time left to the option's expiry, in years (0 once expired)."""
    close = datetime.combine(option.expiry, EXPIRY_CLOSE_UTC, tzinfo=UTC)
    return max(0.0, (close - now).total_seconds() / YEAR_S)


def surface_of(underlying: Instrument) -> VolSurface:
    return VolSurface.seeded(underlying.symbol, float(underlying.daily_volatility), settings.SIM_SEED)


def option_quote_now(option: Instrument, underlying: Instrument, spot: Decimal | float, now: datetime) -> OptionQuote:
    """The options venue's quote and the model behind it for ``option`` with its underlying at ``spot``."""
    kind = option.option_type
    return option_quote(float(spot), float(option.strike), years_to_expiry(option, now), kind, surface_of(underlying),
                        tick=float(option.tick_size), rate=settings.OPTIONS_RATE)


def option_quotes_held(options, now: datetime) -> dict[int, tuple[Instrument, OptionQuote]]:
    """Per option of ``options`` not expired: its underlying and its model quote with the underlying at its stored
    market mid, else its reference price (how positions are marked and their Greeks valued, for ``/positions/`` and
    pre-trade risk alike)."""
    options = [o for o in options if not is_expired(o, now)]
    underlyings = {o.underlying_id for o in options}
    spots = {i.pk: (i, i.market_price.mid if getattr(i, "market_price", None) else i.reference_price)
             for i in Instrument.objects.filter(pk__in=underlyings).select_related("market_price")} if underlyings else {}
    out = {}
    for option in options:
        if option.underlying_id in spots:
            underlying, spot = spots[option.underlying_id]
            out[option.pk] = (underlying, option_quote_now(option, underlying, spot, now))
    return out


def option_greeks_held(options, now: datetime) -> dict:
    """The Greeks per share of each option (``option_quotes_held``): pre-trade risk's provider
    (``oms.services.risk_greeks``, registered in ``EmsConfig.ready``)."""
    return {pk: quote.greeks for pk, (_, quote) in option_quotes_held(options, now).items()}


def is_expired(option: Instrument, now: datetime) -> bool:
    return years_to_expiry(option, now) == 0.0


def option_ticks(options: list[Instrument], spots: dict[int, Decimal], as_of: datetime) -> list[PriceTick]:
    """A market price per option whose underlying has a price in ``spots`` (instrument id -> mid) and that has
    not expired; stamped ``as_of``, as the equities' ticks."""
    ticks = []
    for option in options:
        spot = spots.get(option.underlying_id)
        if spot is None or is_expired(option, as_of):
            continue
        q = option_quote_now(option, option.underlying, spot, as_of)
        bid, ask = _price(q.bid), _price(q.ask)
        ticks.append(PriceTick(option.pk, bid, ask, (bid + ask) / 2, None, as_of))
    return ticks


def _price(x: float) -> Decimal:
    return Decimal(f"{x:.6f}").normalize()


@dataclass(frozen=True)
class ChainRow:
    """One strike of an expiry on the chain page: the call and the put side by side."""

    strike: Decimal
    call: tuple[Instrument, OptionQuote] | None
    put: tuple[Instrument, OptionQuote] | None


@dataclass(frozen=True)
class ChainExpiry:
    expiry: object  # date
    days: int
    rows: list[ChainRow]


def chain_quotes(underlying: Instrument, options: list[Instrument], spot: Decimal, now: datetime) -> list[ChainExpiry]:
    """The chain of ``underlying`` at ``spot``: per expiry (soonest first) and strike, each side's quote and model."""
    by_expiry: dict = {}
    for option in options:
        if is_expired(option, now):
            continue
        side = by_expiry.setdefault(option.expiry, {}).setdefault(option.strike, {})
        side[option.option_type] = (option, option_quote_now(option, underlying, spot, now))
    out = []
    for expiry in sorted(by_expiry):
        rows = [ChainRow(k, v.get("call"), v.get("put")) for k, v in sorted(by_expiry[expiry].items())]
        close = datetime.combine(expiry, EXPIRY_CLOSE_UTC, tzinfo=UTC)
        out.append(ChainExpiry(expiry, max(0, (close - now) // timedelta(days=1)), rows))
    return out
