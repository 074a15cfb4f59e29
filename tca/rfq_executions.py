"""TCA of RFQ executions (issue 22, item 6): each executed request of a parent measured against

* ``model_mid``: the model's mid at request time, per leg: an option's Black-Scholes-Merton value
  (``ems.option_market``, the model the options venue and the providers price from) with its underlying at its
  mid at the instant the request was created, an equity leg's mid then; a package's net of its legs
  (:func:`tca.measures.package_price`). The underlying's mid at that instant is recovered from the
  deterministic market of its instrument-day rebuilt with our fills (``tca.figures.day_market``) at the
  request's market time (``RFQ.market_day``, ``market_time_us``), the option's time to expiry from its
  creation time: nothing has to be stored for it.
* ``best_quote``: the best price quoted on our side among the quotes received (whatever became of them:
  lapsed, withdrawn, executed), and ``cover_quote``: the second best (what the winner had to beat). With one
  quote there is no cover (null).

Each as ``slippage_bps`` (of the benchmark price) and ``slippage_ccy`` (x contracts x the multiplier), one sign
convention with every TCA figure: **positive = better than the benchmark** (bought below it, sold above). Against
the best quote an execution at that quote is 0; against the cover it is the improvement the competition bought.

A package is measured through :func:`rfq_legs`: everything below works on a list of legs (side relative to
buying the package, ratio, weight) and a net price per unit; a single option is the package of one leg. A
package's model mid is its legs' model values recorded at request (what the dealers were asked to price),
netted in currency per package as its quotes are; its bps are left out when that value is not a positive
price (a credit package), its currency amounts never.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from ems.models import ParentOrder
from ems.option_market import option_quote_now
from ems.sim.clock import SESSION_US
from oms.models import Instrument
from oms.money import PRICE_Q
from rfq.models import RFQ
from rfq.services.common import best_first
from rfq.states import RfqStatus
from tca.figures import day_market
from tca.measures import package_price, rfq_slippage

RFQ_BENCHMARKS = ("model_mid", "best_quote", "cover_quote")


@dataclass(frozen=True)
class RfqLeg:
    """One leg of what an RFQ asked for: ``side`` relative to buying one unit of the package, ``ratio`` per unit,
    and ``weight``: what one unit of the leg's per-share price weighs in the unit's price (a package's legs weigh
    ratio x contract multiplier, its net being currency per package: ``rfq.package_pricing``; a one-instrument
    request's leg 1, its price being per share). ``model_value``: the leg's model value recorded at request, if any."""

    instrument: Instrument
    side: str
    ratio: int
    weight: int = 1
    model_value: Decimal | None = None


def rfq_legs(rfq: RFQ) -> list[RfqLeg]:
    """The legs an RFQ asked a price for: a package's legs (``RfqLeg`` rows), else its one instrument."""
    if rfq.package:
        return [RfqLeg(leg.instrument, leg.side, leg.ratio, leg.weight, leg.model_value)
                for leg in rfq.legs.select_related("instrument", "instrument__underlying").order_by("leg_no")]
    return [RfqLeg(rfq.instrument, "buy", 1)]


def mid_at(instrument: Instrument, day: int, t_us: int) -> float:
    """The consolidated mid of an equity at market time ``t_us`` of ``day``, on the market rebuilt with our fills."""
    bbo = day_market(instrument, day).bbo(min(t_us, SESSION_US))
    return (bbo.bid + bbo.ask) / 2


def leg_model_mid(leg: RfqLeg, rfq: RFQ) -> float:
    """The leg's model value at the request's creation: as recorded then (a package's legs), else rebuilt (see the
    module docstring)."""
    if leg.model_value is not None:
        return float(leg.model_value)
    inst = leg.instrument
    if not inst.is_option:
        return mid_at(inst, rfq.market_day, rfq.market_time_us)
    spot = mid_at(inst.underlying, rfq.market_day, rfq.market_time_us)
    return option_quote_now(inst, inst.underlying, spot, rfq.created_at).mid


def _price(x: float | None) -> Decimal | None:
    return None if x is None else Decimal(repr(x)).quantize(PRICE_Q)


def rfq_execution_tca(rfq: RFQ) -> dict:
    """One executed RFQ's figures, JSON-ready (the keys of ``rfq_executions`` in the parent report)."""
    legs = rfq_legs(rfq)
    # A package's net price is currency per package already; one instrument's is per share (x its multiplier).
    multiplier = 1 if rfq.package else rfq.instrument.multiplier
    leg_mids = [(leg, leg_model_mid(leg, rfq)) for leg in legs]
    model = package_price((leg.side, leg.weight, mid) for leg, mid in leg_mids)
    ranked = best_first(rfq.side, list(rfq.quotes.all()))
    best = float(ranked[0].price) if ranked else None
    cover = float(ranked[1].price) if len(ranked) > 1 else None
    price, quantity = float(rfq.executed_price), rfq.executed_quantity
    benchmarks = []
    for name, b in zip(RFQ_BENCHMARKS, (model, best, cover), strict=True):
        bps, ccy = rfq_slippage(rfq.side, price, b, quantity, multiplier)
        benchmarks.append({"name": name, "price": _price(b), "slippage_bps": None if bps is None else round(bps, 4),
                           "slippage_ccy": _price(ccy)})
    executed = rfq.executed_quote
    return {
        "rfq_id": rfq.pk, "instrument": "package" if rfq.package else rfq.instrument.symbol, "package": rfq.package, "side": rfq.side, "quantity": quantity, "multiplier": multiplier,
        "price": rfq.executed_price, "provider": executed.provider.code if executed else None, "quotes_received": len(ranked),
        "requested_at": rfq.created_at, "mid_at_request": rfq.mid_at_request,
        "legs": [{"instrument": leg.instrument.symbol, "side": leg.side, "ratio": leg.ratio, "model_mid": _price(mid)} for leg, mid in leg_mids],
        "benchmarks": benchmarks,
    }


def parent_rfq_executions(parent: ParentOrder) -> list[dict]:
    """The TCA of each executed RFQ of ``parent`` (a package's too, whichever leg the parent works), oldest first."""
    rfqs = (RFQ.objects.filter(Q(parent=parent) | Q(legs__parent=parent), status=RfqStatus.EXECUTED, executed_quantity__gt=0).distinct()
            .select_related("instrument", "instrument__underlying", "executed_quote__provider").order_by("id"))
    return [rfq_execution_tca(rfq) for rfq in rfqs]
