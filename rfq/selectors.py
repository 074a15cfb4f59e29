"""RFQ reads: provider profiles and scorecards, the market a provider prices from, who may see which
request, the consolidated ladder and the response window.

**Scorecards** (:func:`provider_scorecards`) are computed from history on every call, never typed in, with a
fixed number of grouped queries however many providers there are:

* ``requests``: the requests it was sent (``Dissemination`` rows);
* ``responses``: those it answered in time with a quote (``Dissemination.response == "quoted"``; a late
  quote, refused, does not count);
* ``quotes_accepted``: its quotes we executed (``Quote.status == accepted``);
* ``mean_bps_from_mid``: the mean cost of its quotes against the mid at request (``Quote.bps_from_mid``),
  refused ones left out;
* ``markout_bps``: over its most recent :data:`MARKOUT_MAX_EXECUTIONS` executions (RFQs executed on its quote;
  the fill is the EMS fill on ``RFQ.child``), the simulated market's mid :data:`MARKOUT_HORIZON_US` (60 s
  market time) after the fill minus the mid at the fill, in bps of the latter, signed in the direction of
  our trade (a buy whose mid then rose: positive) and weighted by the fill's quantity. It is a *mid move*
  so that it measures what the market did after we traded with the provider (leakage), not the spread we
  paid, which ``mean_bps_from_mid`` already counts. Executions whose horizon has not yet passed in market
  time are left out (the model could tell the future; a desk cannot).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from ems.models import ChildOrder, Fill, ParentOrder
from ems.option_market import option_quote_now
from ems.selectors import live_clock, market_for, market_prices, venue_profiles
from ems.sim import DEFAULT_VENUES, SESSION_US, US
from ems.states import ExecStatus
from oms import roles
from oms.models import Instrument, MarketPrice, Side
from rfq.models import RFQ, Dissemination, LiquidityProvider, Quote, RfqLeg
from rfq.package_pricing import LegMarket
from rfq.pricing import MarketSnapshot, ProviderProfile
from rfq.scoring import ScorecardStats
from rfq.states import QuoteStatus, RfqStatus

MARKOUT_HORIZON_US = 60 * US
MARKOUT_MAX_EXECUTIONS = 500  # per provider, most recent first: a scorecard follows the provider's current behaviour


def provider_profile(lp: LiquidityProvider) -> ProviderProfile:
    """The pricing model's view of a provider row (floats and ints)."""
    return ProviderProfile(
        code=lp.code, response_probability=float(lp.response_probability),
        latency_ms_median=float(lp.latency_ms_median), latency_ms_sigma=float(lp.latency_ms_sigma),
        base_spread_bps=float(lp.base_spread_bps), size_coef_bps=float(lp.size_coef_bps), vol_coef=float(lp.vol_coef),
        skew_bps=float(lp.skew_bps), max_size=int(lp.max_size), partial_probability=float(lp.partial_probability),
        quote_life_ms=int(lp.quote_life_ms), last_look_reject_probability=float(lp.last_look_reject_probability),
        last_look_tolerance_bps=float(lp.last_look_tolerance_bps), seed=int(lp.seed),
    )


def market_snapshot(instrument: Instrument) -> MarketSnapshot:
    """The market a provider prices ``instrument`` from now: the live simulated mid; else the last stored
    market price (the live book has an empty side); else the reference price."""
    venues = venue_profiles()
    # The market model needs a lit venue; with every lit venue switched off there is no live book.
    ticks = market_prices([instrument], venues=venues) if any(v.is_lit for v in venues) else []
    if ticks:
        mid = float(ticks[0].mid)
    else:
        stored = MarketPrice.objects.filter(instrument=instrument).values_list("mid", flat=True).first()
        mid = float(stored if stored is not None else instrument.reference_price)
    return MarketSnapshot(mid=mid, daily_vol=float(instrument.daily_volatility), adv=int(instrument.adv),
                          tick_size=float(instrument.tick_size), lot_size=int(instrument.lot_size))


def eligible_providers(*instruments: Instrument) -> QuerySet[LiquidityProvider]:
    """Active providers that quote every one of ``instruments`` (a provider with no instruments selected quotes
    all): one instrument, or every leg of a package."""
    through = LiquidityProvider.instruments.through.objects.filter(liquidityprovider_id=OuterRef("pk"))
    qs = LiquidityProvider.objects.filter(is_active=True)
    for instrument in instruments:
        qs = qs.filter(~Exists(through) | Exists(through.filter(instrument_id=instrument.pk)))
    return qs.order_by("code")


def legs_gross(legs) -> Decimal:
    """A package's premium at stake per package at request (``RfqLeg`` rows), in currency: sum weight x |model
    value|, the denominator of its bps (``rfq.package_pricing.package_cost_bps``)."""
    return sum((Decimal(leg.weight) * abs(leg.model_value) for leg in legs), Decimal(0))


def leg_markets(legs: Iterable[tuple[Instrument, str, int]], *, now: datetime | None = None) -> list[LegMarket]:
    """Each package leg ``(instrument, side, ratio)`` as a dealer prices it now: an option at its model value
    (Black-Scholes-Merton on the underlying's seeded surface, ``ems.option_market``) with its vega, the
    underlying at the mid a provider sees (:func:`market_snapshot`); an equity at that mid, vega 0."""
    now = now or datetime.now(UTC)
    spots: dict[int, float] = {}

    def spot(instrument: Instrument) -> float:
        if instrument.pk not in spots:
            spots[instrument.pk] = market_snapshot(instrument).mid
        return spots[instrument.pk]

    out = []
    for instrument, side, ratio in legs:
        if instrument.is_option:
            q = option_quote_now(instrument, instrument.underlying, spot(instrument.underlying), now)
            value, vega = q.mid, q.greeks.vega
        else:
            value, vega = spot(instrument), 0.0
        out.append(LegMarket(instrument.symbol, side, int(ratio), value, vega, float(instrument.tick_size), instrument.multiplier))
    return out


def provider_scorecards(providers: Iterable[LiquidityProvider] | QuerySet[LiquidityProvider] | None = None) -> dict[int, ScorecardStats]:
    """Every given provider's scorecard (default: all providers), keyed by provider id; see the module docstring."""
    providers = LiquidityProvider.objects.all() if providers is None else providers
    codes = {lp.pk: lp.code for lp in providers}
    if not codes:
        return {}
    ids = list(codes)

    sent = {r["provider_id"]: r for r in Dissemination.objects.filter(provider_id__in=ids).values("provider_id").order_by()
            .annotate(requests=Count("id"), responses=Count("id", filter=Q(response="quoted")))}
    quoted = {r["provider_id"]: r for r in Quote.objects.filter(provider_id__in=ids).values("provider_id").order_by()
              .annotate(accepted=Count("id", filter=Q(status=QuoteStatus.ACCEPTED)),
                        bps=Avg("bps_from_mid", filter=~Q(status=QuoteStatus.REFUSED)))}
    markouts = _markouts(ids)

    cards = {}
    for pk, code in codes.items():
        s, q = sent.get(pk, {}), quoted.get(pk, {})
        m, n = markouts.get(pk, (None, 0))
        cards[pk] = ScorecardStats(
            provider_id=pk, code=code, requests=s.get("requests", 0), responses=s.get("responses", 0),
            quotes_accepted=q.get("accepted", 0), mean_bps_from_mid=None if q.get("bps") is None else float(q["bps"]),
            markout_bps=m, executions=n,
        )
    return cards


def _markouts(provider_ids: list[int]) -> dict[int, tuple[float | None, int]]:
    """provider id -> (quantity-weighted markout in bps, executions counted)."""
    executed = (RFQ.objects.filter(status=RfqStatus.EXECUTED, executed_quote__provider_id__in=provider_ids, child__isnull=False)
                .annotate(provider_id=F("executed_quote__provider_id"),
                          n=Window(RowNumber(), partition_by=[F("executed_quote__provider_id")], order_by=F("id").desc()))
                .filter(n__lte=MARKOUT_MAX_EXECUTIONS)
                .values_list("provider_id", "child_id", "instrument_id", "side"))
    by_child = {child_id: (provider_id, instrument_id, side) for provider_id, child_id, instrument_id, side in executed}
    if not by_child:
        return {}
    fills = list(Fill.objects.filter(child_id__in=list(by_child)).values_list("child_id", "quantity", "market_day", "market_time_us"))
    instruments = Instrument.objects.in_bulk({by_child[c][1] for c, *_ in fills})
    venues = venue_profiles()
    if not any(v.is_lit for v in venues):  # the mid path does not depend on the venue set; the model needs a lit one
        venues = DEFAULT_VENUES
    now_abs = live_clock().market_time().absolute_us
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # weighted bps, quantity, executions
    counted: dict[int, set[int]] = defaultdict(set)
    for child_id, quantity, day, t_us in fills:
        if day * SESSION_US + t_us + MARKOUT_HORIZON_US > now_abs:
            continue  # its horizon is still in the future
        provider_id, instrument_id, side = by_child[child_id]
        market = market_for(instruments[instrument_id], day, venues)
        mid0, mid1 = market.mid(t_us), market.mid(min(t_us + MARKOUT_HORIZON_US, SESSION_US))
        if not (mid0 > 0 and math.isfinite(mid1)):
            continue
        move = (mid1 - mid0) / mid0 * 10_000 * Side(side).sign
        acc = sums[provider_id]
        acc[0] += move * quantity
        acc[1] += quantity
        counted[provider_id].add(child_id)
    return {pk: (round(w / q, 4) if q else None, len(counted[pk])) for pk, (w, q, _) in sums.items()}


def rfq_list(*, user) -> QuerySet[RFQ]:
    """RFQs the user may see, newest first: the desk (trader, compliance, admin) all; anyone else none.

    An RFQ is the desk's action on a whole parent, which may pool several portfolios' orders: its quantity,
    its ladder's sizes and its execution are whole-parent figures. A PM or an API client reads what came of it
    for them as the fills allocated to their orders (``ems.selectors.own_fills``: ``/api/fills/``), the one
    shared-parent rule (docs/security.md)."""
    qs = RFQ.objects.select_related("instrument", "parent").order_by("-id")
    return qs if roles.role_of(user) in roles.DESK_WIDE else qs.none()


def rfq_get(*, user, rfq_id: int) -> RFQ | None:
    return rfq_list(user=user).filter(pk=rfq_id).first()


def _is_live(quote: Quote, now: datetime) -> bool:
    return quote.status == QuoteStatus.LIVE and quote.valid_until > now


def _state(quote: Quote, now: datetime) -> dict:
    if quote.status == QuoteStatus.LIVE and not _is_live(quote, now):
        return {"status": QuoteStatus.EXPIRED, "status_reason": "lapsed: no longer firm"}
    return {"status": quote.status, "status_reason": quote.status_reason}


def rfq_ladder(rfq: RFQ) -> list[dict]:
    """The RFQ's quotes best first for our side (a buy: lowest price first; a sell: highest), ties by arrival.

    Each row: the quote's fields, the provider's code and name, ``is_best`` (the best quote still live and
    within its life: the one a click would take), ``bps_from_mid`` (cost vs the mid at request) and
    ``seconds_left`` of its life (0 once it is not live). ``status`` is what a click would meet: a quote
    past its life reads ``expired`` even in the instant before its lapse task has stored it so
    (``rfq.services.quotes.quotes_lapse``). Values are Decimal / datetime (a serializer's job).
    """
    now = datetime.now(UTC)
    quotes = list(rfq.quotes.select_related("provider"))
    sign = Side(rfq.side).sign
    quotes.sort(key=lambda q: (sign * q.price, q.received_at, q.pk))
    best = next((q.pk for q in quotes if _is_live(q, now)), None)
    return [
        {
            "id": q.pk, "provider": q.provider.code, "provider_name": q.provider.name, "provider_id": q.provider_id,
            "price": q.price, "size": q.size, "bps_from_mid": q.bps_from_mid,
            "bid_price": q.bid_price, "bid_size": q.bid_size, "ask_price": q.ask_price, "ask_size": q.ask_size,
            "mid_at_quote": q.mid_at_quote, **_state(q, now),
            "received_at": q.received_at, "valid_until": q.valid_until, "is_best": q.pk == best,
            "seconds_left": round(max(0.0, (q.valid_until - now).total_seconds()), 3) if _is_live(q, now) else 0.0,
        }
        for q in quotes
    ]


def rfq_legs(rfq: RFQ) -> list[dict]:
    """A package's legs in order: instrument, our side, ratio, quantity, the leg's parent, its model value and
    vega at request and, once executed, the price it was booked at (empty for a one-instrument request)."""
    if not rfq.package:
        return []
    return [
        {"leg_no": leg.leg_no, "instrument": leg.instrument.symbol, "kind": leg.instrument.kind, "side": leg.side, "ratio": leg.ratio,
         "multiplier": leg.instrument.multiplier, "quantity": leg.quantity, "parent": leg.parent_id, "model_value": leg.model_value, "vega": leg.vega,
         "child_order": leg.child_id, "executed_price": leg.executed_price}
        for leg in RfqLeg.objects.filter(rfq=rfq).select_related("instrument").order_by("leg_no")
    ]


def rfq_window(rfq: RFQ) -> dict:
    """The response window as the server enforces it: its end, seconds left, whether it is open, and the
    server's clock (a page corrects its countdown for its own clock's offset)."""
    now = datetime.now(UTC)
    ends = rfq.window_ends_at
    left = max(0.0, (ends - now).total_seconds()) if ends else 0.0
    return {"ends_at": ends.isoformat() if ends else None, "seconds_left": round(left, 3),
            "open": bool(rfq.is_open and ends and now < ends), "server_time": now.isoformat()}


def quantity_available(parent: ParentOrder) -> int:
    """What an RFQ may hold of ``parent``, in whole lots: its remaining quantity less what other RFQs hold
    and what its algorithm's open child orders still have at the venues."""
    at_venues = (ChildOrder.objects.filter(parent_id=parent.pk, status__in=ExecStatus.open()).exclude(kind="rfq")
                 .aggregate(q=Sum(F("quantity") - F("filled_quantity")))["q"] or 0)
    lot = max(int(parent.instrument.lot_size), 1)
    return max(0, parent.remaining_quantity - parent.reserved_quantity - at_venues) // lot * lot
