"""Shared arrangements of the RFQ tests (the fixtures are in conftest.py): liquidity providers with known behaviour, a block parent
over two PMs' orders, and a provider's answer sent through the real inbound service."""

from __future__ import annotations

from decimal import Decimal

from ems.models import ParentOrder
from ems.services import venues_sync_from_sim
from oms.roles import Actor
from rfq.models import RFQ, Dissemination, LiquidityProvider, Quote
from rfq.services import quote_decline, quote_submit, rfq_create
from tests.ems import factories as f

PROVIDER_ACTOR = Actor.system("test.provider")


def provider(code: str, **overrides) -> LiquidityProvider:
    """A provider that always answers, quotes whole, and honours every acceptance (override per test)."""
    fields = {
        "name": f"{code} Markets", "response_probability": Decimal("1"), "latency_ms_median": 50, "latency_ms_sigma": Decimal("0.1"),
        "base_spread_bps": Decimal("3"), "size_coef_bps": Decimal("1"), "vol_coef": Decimal("0.2"), "max_size": 1_000_000,
        "partial_probability": Decimal("0"), "quote_life_ms": 30_000, "last_look_reject_probability": Decimal("0"),
        "last_look_tolerance_bps": Decimal("5000"), "seed": 7,
    }
    fields.update(overrides)
    return LiquidityProvider.objects.create(code=code, **fields)


def providers(*codes: str, **overrides) -> list[LiquidityProvider]:
    return [provider(c, **overrides) for c in codes]


def block_parent(*, instrument, pm, portfolio, other_pm, other_portfolio, side: str = "buy", quantities=(6_000, 4_000),
                 strategy: str = "twap", limit_price: str | None = None, **extra) -> ParentOrder:
    """A working parent over two orders of two PMs' portfolios (the pooling that makes an RFQ the desk's job),
    with the simulated venues in place (the live mid comes from their book)."""
    venues_sync_from_sim()
    orders = [
        f.order(portfolio=portfolio, instrument=instrument, user=pm, side=side, quantity=quantities[0], limit_price=limit_price),
        f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, side=side, quantity=quantities[1],
                limit_price=limit_price),
    ]
    return f.parent(instrument=instrument, orders=orders, side=side, strategy=strategy,
                    limit_price=Decimal(limit_price) if limit_price else None, order_type="limit" if limit_price else "market",
                    **extra)


def dissemination(rfq: RFQ, code: str) -> Dissemination:
    return Dissemination.objects.get(rfq=rfq, provider__code=code)


def quote(rfq: RFQ, code: str, price: str, size: int | None = None, *, life_ms: int = 30_000, mid: str | None = None) -> Quote:
    """``code`` answers ``rfq`` at ``price`` (our side; the other side of a two-way 10 cents away)."""
    d = dissemination(rfq, code)
    p = Decimal(price)
    size = rfq.quantity if size is None else size
    other = p - Decimal("0.10") if rfq.side == "buy" else p + Decimal("0.10")
    bid, ask = (other, p) if rfq.side == "buy" else (p, other)
    two_way = d.payload["side"] == "two_way"
    return quote_submit(
        reference=d.reference,
        bid_price=bid if two_way or rfq.side == "sell" else None, bid_size=size if two_way or rfq.side == "sell" else None,
        ask_price=ask if two_way or rfq.side == "buy" else None, ask_size=size if two_way or rfq.side == "buy" else None,
        life_ms=life_ms, mid_at_quote=Decimal(mid) if mid else rfq.mid_at_request, actor=PROVIDER_ACTOR,
    )


def decline(rfq: RFQ, code: str) -> None:
    quote_decline(reference=dissemination(rfq, code).reference, actor=PROVIDER_ACTOR)


def mid_price(rfq: RFQ, bps: float) -> str:
    """A price ``bps`` away from the mid at request, on the cent grid, in the direction that costs us."""
    mid = rfq.mid_at_request
    sign = 1 if rfq.side == "buy" else -1
    return str((mid * (1 + Decimal(sign * bps) / Decimal(10_000))).quantize(Decimal("0.01")))


def rfq_for(parent: ParentOrder, user, *, quantity: int = 4000, window_s: str = "30", **kwargs) -> RFQ:
    """An RFQ a trader started for the parent over the API (sent to every eligible provider, up to the default count)."""
    return rfq_create(parent_id=parent.pk, actor=Actor.for_user(user, "api"), quantity=quantity,
                      window_s=Decimal(window_s), source="api", user=user, **kwargs)
