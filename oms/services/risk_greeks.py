"""Pre-trade risk on options' Greeks (issue 22, item 5): a portfolio's net delta and net vega per underlying.

Units (docs/options.md#risk-limits):

* **net delta, in shares of the underlying**: the shares held, plus each option position's delta (per share,
  from the EMS's option model) x its multiplier x its contracts (signed: long positive, short negative);
* **net vega, in currency per volatility point**: each option's vega (per share, per 1 point of implied
  volatility) x multiplier x contracts; shares have none.

Both are limited **per portfolio and underlying** (an AAPL book's delta is not netted against its MSFT one:
that is what a desk hedges and what ``/positions/`` shows), in absolute value, by the ``RiskLimit`` limbs
``max_net_delta_shares`` and ``max_net_vega`` (global row, portfolio override, blank = off, as every limb).

**The reducing rule**: an order (or a package of legs, taken together) is denied only when, in some
underlying, its result passes the limit *and* it grows the exposure there (``|after| > limit`` and
``|after| > |before|``). A trade that brings the exposure closer to zero is always allowed, even with the
book over its limit (limits lowered, the market moved), so that a desk can always hedge back.

**What "before" is**: the portfolio's positions (what it holds, as booked), valued at the model's Greeks now;
orders still working are not counted (reading them would cost every order of a limited portfolio a scan of
its open orders). Within one submission (a bulk, a group commit, a package) the orders admitted before an
order count for it, in submission order. So the limb bounds what the book holds plus any *one* submission;
a PM can still work several orders whose fills together pass the limit (each order's size is bounded by
``max_option_contracts`` and the notional limbs). Like the static limbs it reads committed data without a
lock: two submissions racing into the same book each see the other's fills only once booked.

**The Greeks** come from the EMS's option model (``ems.sim.options`` via ``ems.option_market``), with the
underlying at its stored market mid (else its reference price), as ``/positions/`` shows them. ``oms`` may not
import ``ems``: the EMS registers the function that computes them here (``greeks_provider_register``, from
``EmsConfig.ready``, the pattern by which rfq registers itself as an EMS destination).

Cost: nothing for a portfolio without a Greek limb (two attribute reads per order); else one query for its
positions in the underlyings the orders touch, and the model for the options among them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db.models import Q
from django.utils import timezone

from oms.error_codes import RiskErrorCode
from oms.errors import RiskDenied
from oms.models import Instrument, Portfolio, Position, Side
from oms.refdata import refdata
from oms.services.risk import RISK_CODES, effective_limits


class OptionGreeks(Protocol):
    """Per share of one option: delta per 1 of the underlying, vega per volatility point."""

    delta: float
    vega: float


# options -> {option instrument id: its Greeks per share}; an option it cannot value (expired) is left out
GreeksProvider = Callable[[Sequence[Instrument], datetime], dict[int, OptionGreeks]]

_provider: GreeksProvider | None = None


def greeks_provider_register(fn: GreeksProvider) -> None:
    """Set the function that values options' Greeks (the EMS's model); the last registration wins."""
    global _provider
    _provider = fn


def _option_greeks(options: Sequence[Instrument], now: datetime) -> dict[int, OptionGreeks]:
    if not options:
        return {}
    if _provider is None:
        raise RuntimeError("no options Greeks provider is registered (the ems app registers one in its AppConfig.ready)")
    return _provider(options, now)


@dataclass(frozen=True)
class GreekLeg:
    """One leg as risk sees it: ``instrument`` (an option or a share), ``side`` (buy | sell), ``quantity``
    (contracts for an option, shares for an equity)."""

    instrument: Instrument
    side: str
    quantity: int


def underlying_of(instrument: Instrument) -> int:
    """The id of the underlying whose book ``instrument`` counts in (a share is its own underlying)."""
    return instrument.underlying_id if instrument.is_option else instrument.id


def greek_limbs_apply(instrument: Instrument, limits) -> bool:
    """Whether an order in ``instrument`` under ``limits`` (``risk.EffectiveLimits``) needs the Greek check:
    a delta limb moves with options and shares, a vega limb with options only."""
    return limits.max_net_delta_shares is not None or (limits.max_net_vega is not None and instrument.is_option)


def _greeks_of(instrument: Instrument, signed: int, model: dict[int, OptionGreeks]) -> tuple[float, float]:
    """(delta in shares, vega in currency per point) of ``signed`` contracts or shares of ``instrument``."""
    if not instrument.is_option:
        return float(signed), 0.0
    g = model.get(instrument.id)
    if g is None:  # expired: nothing left to hedge
        return 0.0, 0.0
    size = signed * instrument.multiplier
    return g.delta * size, g.vega * size


def _books(keys: set[tuple[int, int]]) -> list[Position]:
    """The non-flat positions of each (portfolio id, underlying id) book: the underlying's shares and its options."""
    q = Q()
    for pid, uid in keys:
        q |= Q(portfolio_id=pid) & (Q(instrument_id=uid) | Q(instrument__underlying_id=uid))
    return list(Position.objects.filter(q).exclude(quantity=0).select_related("instrument", "instrument__underlying"))


def _decide(items: list[tuple[object, int, list[GreekLeg]]], limits: dict, now: datetime) -> dict[object, tuple[str, str]]:
    """Admit each item (key, portfolio id, legs) in order, or deny it as a whole; see the module docstring."""
    keys = {(pid, underlying_of(leg.instrument)) for _, pid, legs in items for leg in legs}
    held = _books(keys)
    options = {p.instrument.id: p.instrument for p in held if p.instrument.is_option}
    options.update({leg.instrument.id: leg.instrument for _, _, legs in items for leg in legs if leg.instrument.is_option})
    model = _option_greeks(list(options.values()), now)
    book: dict[tuple[int, int], list[float]] = {k: [0.0, 0.0] for k in keys}
    for p in held:
        d, v = _greeks_of(p.instrument, p.quantity, model)
        b = book[(p.portfolio_id, underlying_of(p.instrument))]
        b[0] += d
        b[1] += v
    names = {}
    denied = {}
    for key, pid, legs in items:
        adds: dict[int, list[float]] = {}
        for leg in legs:
            d, v = _greeks_of(leg.instrument, Side(leg.side).sign * leg.quantity, model)
            a = adds.setdefault(underlying_of(leg.instrument), [0.0, 0.0])
            a[0] += d
            a[1] += v
            names[underlying_of(leg.instrument)] = leg.instrument.underlying.symbol if leg.instrument.is_option else leg.instrument.symbol
        lim = limits[pid]
        denial = None
        for uid, (d, v) in sorted(adds.items()):
            before = book[(pid, uid)]
            denial = denial or _breach(RiskErrorCode.DELTA_LIMIT, "net delta", names[uid], before[0], before[0] + d,
                                       lim.max_net_delta_shares, "shares")
            denial = denial or _breach(RiskErrorCode.VEGA_LIMIT, "net vega", names[uid], before[1], before[1] + v,
                                       lim.max_net_vega, "per vol point")
        if denial is not None:
            denied[key] = denial
            continue
        for uid, (d, v) in adds.items():
            book[(pid, uid)][0] += d
            book[(pid, uid)][1] += v
    return denied


def _breach(code: str, what: str, underlying: str, before: float, after: float, cap, unit: str) -> tuple[str, str] | None:
    # The reducing rule: over the limit is refused only when the trade makes it worse.
    if cap is None or abs(after) <= float(cap) or abs(after) <= abs(before):
        return None
    return code, (f"The portfolio's {what} in {underlying} would go from {before:,.0f} to {after:,.0f} {unit}; "
                  f"the limit is ±{Decimal(cap).normalize():,f} {unit} (a trade that reduces it is always allowed)")


def orders_greeks_decide(fresh: Iterable[tuple[int, object]], limits: dict, now: datetime | None = None, *,
                         as_one: bool = False) -> dict[int, tuple[str, str]]:
    """The Greek limbs for intake: ``fresh`` (index, parsed order) that still pass, in submission order, each
    one leg; ``limits`` per portfolio id. Return (code, reason) per denied index.

    ``as_one``: the orders are the legs of one package (one portfolio): decided together, every leg denied or
    none, so that a hedged package passes where one of its legs alone would breach (``greeks_check``)."""
    fresh = list(fresh)
    if not fresh:
        return {}
    if as_one:
        (_, first), *_ = fresh
        legs = [GreekLeg(req.instrument, req.side, req.quantity) for _, req in fresh]
        denial = _decide([(0, first.portfolio.id, legs)], limits, now or timezone.now()).get(0)
        return {} if denial is None else {index: denial for index, _ in fresh}
    items = [(index, req.portfolio.id, [GreekLeg(req.instrument, req.side, req.quantity)]) for index, req in fresh]
    return _decide(items, limits, now or timezone.now())


def greeks_check(*, portfolio: Portfolio, legs: Sequence[GreekLeg | tuple[Instrument, str, int]], now: datetime | None = None) -> None:
    """Check a whole package of ``legs`` for ``portfolio`` against the option limbs, as one decision.

    ``legs``: ``GreekLeg(instrument, side, quantity)`` or plain ``(instrument, side, quantity)`` tuples
    (side buy | sell; quantity in contracts for an option, shares for a stock leg, each leg's full quantity
    for the package's size, e.g. 2 x 250 for a 1x2 ratio on 250 packages). Each option leg is checked
    against ``max_option_contracts``; then the legs' delta and vega are summed per underlying and added to
    the portfolio's book, so a delta-hedged package passes where its option leg alone would breach. Raise
    ``RiskDenied`` with ``risk.max_contracts``, ``risk.delta_limit`` or ``risk.vega_limit``; return None when
    it passes. Reads the limits fresh (the cached reference data); takes no lock (see the module docstring).
    """
    legs = [leg if isinstance(leg, GreekLeg) else GreekLeg(*leg) for leg in legs]
    lim = effective_limits({portfolio.id}, refdata().limits)[portfolio.id]
    cap = lim.max_option_contracts
    for leg in legs:
        if cap is not None and leg.instrument.is_option and leg.quantity > cap:
            raise RiskDenied(RiskErrorCode.MAX_CONTRACTS,
                             f"{leg.instrument.symbol}: {leg.quantity:,} contracts exceed the maximum of {cap:,} per leg",
                             field=RISK_CODES[RiskErrorCode.MAX_CONTRACTS])
    legs = [leg for leg in legs if greek_limbs_apply(leg.instrument, lim)]
    if not legs:
        return
    denial = _decide([(0, portfolio.id, legs)], {portfolio.id: lim}, now or timezone.now()).get(0)
    if denial is not None:
        raise RiskDenied(denial[0], denial[1], field=RISK_CODES[denial[0]])
