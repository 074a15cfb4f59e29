"""Shared arrangements of the package RFQ tests: an underlying with its listed chain, a four-leg package (a vertical
call spread, a put and the delta hedge in shares), and a provider's net quote sent through the real inbound service."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from oms.demo import seed_option_chains
from oms.models import Instrument
from oms.roles import Actor
from rfq.models import RFQ, Quote
from rfq.services import package_create, quote_submit
from tests.rfq.services_helpers import dissemination

PROVIDER_ACTOR = Actor.system("test.provider")


def chain(underlying: Instrument) -> dict[str, Instrument]:
    """List the demo chain of ``underlying`` (strikes around its price, three monthly expiries); return the
    options of the second expiry at strikes 95 / 100 / 105 by name."""
    seed_option_chains(timezone.now().date(), (underlying.symbol,))
    expiry = sorted(set(Instrument.objects.filter(underlying=underlying).values_list("expiry", flat=True)))[1]
    opts = Instrument.objects.filter(underlying=underlying, expiry=expiry)
    pick = {(o.option_type, o.strike): o for o in opts}
    return {"c100": pick[("call", Decimal(100))], "c105": pick[("call", Decimal(105))], "p95": pick[("put", Decimal(95))]}


def four_legs(underlying: Instrument, options: dict[str, Instrument]) -> list[dict]:
    """Buy the 100/105 call spread, buy the 95 put, sell 40 shares per package against the calls' delta."""
    return [
        {"instrument": options["c100"].symbol, "side": "buy", "ratio": 1},
        {"instrument": options["c105"].symbol, "side": "sell", "ratio": 1},
        {"instrument": options["p95"].symbol, "side": "buy", "ratio": 1},
        {"instrument": underlying.symbol, "side": "sell", "ratio": 40},
    ]


def package_for(user, portfolio, legs, *, quantity: int = 10, window_s: str = "30", **kw) -> RFQ:
    return package_create(portfolio=portfolio.code, legs=legs, quantity=quantity, actor=Actor.for_user(user, "api"), user=user,
                          window_s=Decimal(window_s), source="api", **kw)


def net_quote(rfq: RFQ, code: str, offset: str, *, life_ms: int = 30_000) -> Quote:
    """``code`` quotes the package ``offset`` above its value at request (the offer; a bid 0.20 below it), with the
    legs' values at request as the values it priced at."""
    legs = list(rfq.legs.order_by("leg_no"))
    value = rfq.mid_at_request
    ask = (value + Decimal(offset)).quantize(Decimal("0.01"))
    return quote_submit(
        reference=dissemination(rfq, code).reference, bid_price=ask - Decimal("0.20"), bid_size=rfq.quantity, ask_price=ask,
        ask_size=rfq.quantity, life_ms=life_ms, mid_at_quote=value, leg_values=[leg.model_value for leg in legs], actor=PROVIDER_ACTOR,
    )
