"""Multi-leg RFQ packages (issue 22, item 3): a vertical spread, a straddle, a risk reversal, an option with
its delta hedge, priced by dealers as one net price and executed all or nothing.

``package_create`` (a trader on the desk, ``POST /api/rfqs/`` with ``legs``), in **one transaction**:

1. **The legs are checked** (:func:`package_legs_parse`, stable codes, each naming ``legs[i].<field>``): 1 to 4
   legs, each ``{instrument, side, ratio}``: a known, active instrument (an option not past its expiry), buy or
   sell, a whole ratio >= 1, no instrument twice.
2. **One OMS order per leg** through the normal intake (``oms.services.orders_submit``: the same parsing,
   permissions, pre-trade risk, audit and idempotency as any order): quantity = ratio x the package quantity,
   a market order asking for ``rfq``, its ``client_order_id`` ``PKG<rfq id>-L<n>``, its source the trader's
   (``browser:<user>`` / ``api:<user>``). A leg refused by the intake (a portfolio the trader may not trade, a
   restricted instrument, a limit) refuses the whole package with that leg's code and field: nothing is
   written (a package is all or nothing from its first step).
3. **The whole package's Greeks**: the intake decides the legs' option limbs on net delta and vega (per
   portfolio and underlying, ``oms.services.risk_greeks``) together, ``orders_submit(..., package=True)``: all
   legs or none, so a delta-hedged package passes where its option leg alone would breach.
4. **A parent per leg, now** (``ems.services.aggregation.parents_for_orders``): never shared with, nor netted
   against, anyone else's orders; the strategy selection matrix sends it to RFQ and its reason names the
   package ("package RFQ 17, leg 2 of 4 (...)").
5. **One RFQ spanning the legs' parents** (``RFQ.package``; its ``parent`` is the first leg's, its
   ``quantity`` the number of packages, its side ``buy``: we do the package as defined), its legs (``RfqLeg``,
   with the model value and vega of each at request), each leg's quantity reserved on its parent, and the
   anonymous dissemination: a provider is sent the legs (instrument, side, ratio), the number of packages,
   ``buy`` or ``two_way`` and the window, never the portfolio or any order id.

Providers that quote every leg are asked (``rfq.selectors.eligible_providers``); nobody: the package is refused
(``rfq.no_providers``) before anything is written. After commit each provider prices the package
(``rfq.tasks.provider_respond`` -> ``rfq.package_pricing.package_respond``) and answers through
``quote_submit`` with a net price.

**Closing.** Executed: every leg booked in one transaction (``rfq.services.execution``). Expired, cancelled or
rejected: what it held is released and the legs' parents are cancelled with their orders (a leg must never
trade alone). Stopping any leg's parent (a trader's cancel, the kill switch) cancels the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ems.broadcast import parents_changed_on_commit
from ems.option_market import is_expired
from ems.selectors import live_clock
from ems.services.aggregation import parents_for_orders
from oms.audit_events import AuditEventType
from oms.db import ids_reserve
from oms.errors import Conflict, DomainError
from oms.models import Instrument
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services import orders_submit
from oms.services.audit import PendingEvent
from oms.services.order_parse import has_invalid_characters
from rfq.error_codes import RfqErrorCode
from rfq.models import RFQ, RfqDirection, RfqLeg
from rfq.package_pricing import MAX_LEGS, LegMarket, package_gross, package_vega, signed_sum
from rfq.selectors import leg_markets
from rfq.services.common import rfq_dict
from rfq.services.requests import ProviderChoice, RfqSpec, providers_choose, reserve, rfq_send, rfq_spec
from rfq.states import RfqStatus

LEG_FIELDS = frozenset({"instrument", "side", "ratio"})
MAX_RATIO = 1_000_000


@dataclass(frozen=True)
class LegSpec:
    """One leg, checked: the instrument, our side, units per package."""

    instrument: Instrument
    side: str
    ratio: int

    @property
    def weight(self) -> int:
        """Shares per package (``rfq.package_pricing``: ratio x the contract multiplier)."""
        return self.ratio * self.instrument.multiplier


def package_legs_parse(legs, *, now: datetime | None = None) -> list[LegSpec]:
    """Check a package's legs (module docstring, step 1); raise a DomainError naming ``legs[i].<field>``."""
    if not isinstance(legs, list) or not all(isinstance(leg, dict) for leg in legs):
        raise DomainError(RfqErrorCode.BAD_LEGS, "legs must be a list of objects {instrument, side, ratio}", field="legs")
    if not legs:
        raise DomainError(RfqErrorCode.NO_LEGS, "A package has at least one leg", field="legs")
    if len(legs) > MAX_LEGS:
        raise DomainError(RfqErrorCode.TOO_MANY_LEGS, f"A package has at most {MAX_LEGS} legs ({len(legs)} given)", field="legs")
    for i, leg in enumerate(legs):
        unknown = sorted(set(leg) - LEG_FIELDS)
        if unknown:
            raise DomainError(RfqErrorCode.BAD_LEGS, f"Unknown field(s) in leg {i + 1}: {', '.join(unknown)[:80]}", field=f"legs[{i}]")
        symbol = leg.get("instrument")
        if not isinstance(symbol, str) or not 0 < len(symbol) <= 32 or has_invalid_characters(symbol):
            raise DomainError(RfqErrorCode.LEG_UNKNOWN_INSTRUMENT, f"Leg {i + 1}: instrument must be a symbol", field=f"legs[{i}].instrument")
        if leg.get("side") not in ("buy", "sell"):
            raise DomainError(RfqErrorCode.LEG_BAD_SIDE, f"Leg {i + 1}: side must be buy or sell", field=f"legs[{i}].side")
        ratio = leg.get("ratio")
        if not isinstance(ratio, int) or isinstance(ratio, bool) or not 1 <= ratio <= MAX_RATIO:
            raise DomainError(RfqErrorCode.LEG_BAD_RATIO, f"Leg {i + 1}: ratio must be a whole number from 1 to {MAX_RATIO:,}",
                              field=f"legs[{i}].ratio")
    symbols = [leg["instrument"] for leg in legs]
    found = Instrument.objects.select_related("underlying").in_bulk(symbols, field_name="symbol")
    now = now or datetime.now(UTC)
    seen: set[str] = set()
    out = []
    for i, (leg, symbol) in enumerate(zip(legs, symbols, strict=True)):
        instrument = found.get(symbol)
        if instrument is None or not instrument.is_active and not instrument.is_option:
            raise DomainError(RfqErrorCode.LEG_UNKNOWN_INSTRUMENT, f"Leg {i + 1}: no instrument {symbol[:32]!r}",
                              field=f"legs[{i}].instrument")
        if instrument.is_option and (not instrument.is_active or is_expired(instrument, now)):
            raise DomainError(RfqErrorCode.LEG_EXPIRED, f"Leg {i + 1}: {symbol} expired on {instrument.expiry}",
                              field=f"legs[{i}].instrument")
        if symbol in seen:
            raise DomainError(RfqErrorCode.LEG_DUPLICATE, f"Leg {i + 1}: {symbol} is already a leg of this package",
                              field=f"legs[{i}].instrument")
        seen.add(symbol)
        out.append(LegSpec(instrument, leg["side"], leg["ratio"]))
    return out


def package_create(*, portfolio: str, legs, quantity: int, actor: Actor, user, direction: str | None = None, mode: str = "click",
                   execute_at: str = "quote", threshold_bps=None, threshold_price=None, window_s=None, providers: int | None = None,
                   source: str = "desk") -> RFQ:
    """Ask dealers for one net price for a package of 1-4 legs and open it (module docstring)."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise DomainError(RfqErrorCode.BAD_QUANTITY, "quantity (packages) must be a positive whole number", field="quantity")
    if direction not in (None, RfqDirection.BUY, RfqDirection.TWO_WAY):
        raise DomainError(RfqErrorCode.BAD_DIRECTION, "A package's direction is buy (the package as defined) or two_way", field="direction")
    if not isinstance(portfolio, str) or not 0 < len(portfolio) <= 32:
        raise DomainError(RfqErrorCode.BAD_PORTFOLIO, "portfolio must be a portfolio code", field="portfolio")
    spec = rfq_spec(quantity=quantity, direction=direction, mode=mode, execute_at=execute_at, threshold_bps=threshold_bps,
                    threshold_price=threshold_price, window_s=window_s, providers=providers, source=source, net=True)
    parsed = package_legs_parse(legs)
    markets = leg_markets([(leg.instrument, leg.side, leg.ratio) for leg in parsed])
    for i, m in enumerate(markets):
        if not m.value > 0:
            raise Conflict(RfqErrorCode.LEG_NO_MARKET, f"Leg {i + 1}: {m.symbol} has no model value now", field=f"legs[{i}].instrument")
    # Scorecards and the market are read before anything is locked (as for a one-instrument request).
    choice = providers_choose([leg.instrument for leg in parsed], spec.providers)
    if not choice.selected:
        raise Conflict(RfqErrorCode.NO_PROVIDERS, choice.reason, field="legs")
    with transaction.atomic():
        rfq_id = ids_reserve(RFQ._meta.db_table, "id", 1)[0]
        order_ids = _legs_submit(rfq_id, parsed, portfolio=portfolio, quantity=quantity, actor=actor, user=user)
        described = _describe(parsed)
        notes = {oid: f"package RFQ {rfq_id}, leg {n} of {len(parsed)} ({described}): priced by dealers as one package"
                 for n, oid in enumerate(order_ids, start=1)}
        parents = parents_for_orders(order_ids=order_ids, actor=actor, notes=notes)
        return _open(rfq_id, parsed, markets, parents, spec, choice=choice, quantity=quantity, actor=actor, user=user)


def _describe(legs: list[LegSpec]) -> str:
    return ", ".join(f"{leg.side} {leg.ratio} {leg.instrument.symbol}" for leg in legs)


def _legs_submit(rfq_id: int, legs: list[LegSpec], *, portfolio: str, quantity: int, actor: Actor, user) -> list[int]:
    items = [{"client_order_id": f"PKG{rfq_id}-L{n}", "portfolio": portfolio, "instrument": leg.instrument.symbol, "side": leg.side,
              "quantity": leg.ratio * quantity, "order_type": "market", "strategy": "rfq"}
             for n, leg in enumerate(legs, start=1)]
    results = orders_submit(user=user, actor=actor, items=items, package=True)
    for i, result in enumerate(results):
        if result.outcome != "created":
            err = result.error or Conflict(RfqErrorCode.BAD_LEGS, f"Leg {i + 1} was not accepted ({result.outcome})")
            field = f"legs[{i}].{err.field}" if err.field in LEG_FIELDS else (err.field or f"legs[{i}]")
            field = "quantity" if err.field == "quantity" else field
            raise DomainError(err.code, f"Leg {i + 1} ({legs[i].instrument.symbol}): {err.detail}", field=field, status=err.status)
    return [r.order.pk for r in results]


def _open(rfq_id: int, legs: list[LegSpec], markets: list[LegMarket], parents, spec: RfqSpec, *, choice: ProviderChoice,
          quantity: int, actor: Actor, user) -> RFQ:
    now = timezone.now()
    mt = live_clock().market_time(now.timestamp())
    values = [Decimal(repr(m.value)).quantize(PRICE_Q) for m in markets]
    value = signed_sum(legs, values)  # the package's value at request: exactly its stored legs' signed sum
    first = parents[0]
    rfq = RFQ.objects.create(
        id=rfq_id, parent=first, instrument=legs[0].instrument, side="buy", direction=spec.direction or RfqDirection.TWO_WAY,
        quantity=quantity, package=True, status=RfqStatus.CREATED, mode=spec.mode, execute_at=spec.execute_at,
        threshold_bps=spec.threshold_bps, threshold_price=spec.threshold_price, window_s=spec.window_s, mid_at_request=value,
        market_day=mt.day, market_time_us=mt.t_us, round=0, source=spec.source, requested_by=user, selection_reason=choice.reason,
    )
    rows = RfqLeg.objects.bulk_create([
        RfqLeg(rfq=rfq, leg_no=n, parent=parent, instrument=leg.instrument, side=leg.side, ratio=leg.ratio, quantity=leg.ratio * quantity,
               model_value=v, vega=Decimal(repr(m.vega)).quantize(PRICE_Q))
        for n, (leg, m, v, parent) in enumerate(zip(legs, markets, values, parents, strict=True), start=1)
    ])
    legs_after = [{"leg_no": r.leg_no, "instrument": r.instrument.symbol, "side": r.side, "ratio": r.ratio, "quantity": r.quantity,
                   "parent_id": r.parent_id, "model_value": r.model_value, "vega": r.vega} for r in rows]
    events = [PendingEvent(actor, AuditEventType.RFQ_CREATED, "rfq", rfq.pk, after={
        **rfq_dict(rfq), "package": True, "legs": legs_after, "value": value,
        "gross": Decimal(repr(package_gross(markets))).quantize(PRICE_Q), "vega": Decimal(repr(package_vega(markets))).quantize(PRICE_Q),
        "providers": [[s.code, s.rank, s.score, s.reason] for s in choice.selected],
    }, reason=f"package of {len(rows)} legs ({_describe(legs)}) x{quantity:,}; {choice.reason}")]
    for r, parent in zip(rows, parents, strict=True):
        events += reserve(parent, rfq, actor, quantity=r.quantity)
    shown = [{"instrument": r.instrument.symbol, "side": r.side, "ratio": r.ratio} for r in rows]
    rfq_send(rfq, choice, {"legs": shown, "side": rfq.direction, "quantity": rfq.quantity}, spec=spec, events=events, actor=actor, now=now)
    parents_changed_on_commit(parents)
    return rfq

