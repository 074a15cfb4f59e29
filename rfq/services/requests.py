"""Opening a request for quote: checks, the reservation on the parent, the short list of providers from
their scorecards, and the anonymous dissemination.

``rfq_create`` (a trader, the API) and ``rfq.services.destination.RfqDestination.parent_work`` (an EMS round)
both end in :func:`rfq_open`, which runs with the parent locked and only inserts RFQ rows (the EMS calls it
inside a parent's tick: no RFQ is locked while the parent is held).

1. **How much**: by default what is available on the parent, in whole lots: its remaining quantity less
   what other RFQs hold (``reserved_quantity``) and what its algorithm's open child orders still have at
   the venues. Asking for more is refused (``rfq.quantity_unavailable``): the same shares can never be
   both at a venue and with a dealer.
2. **Who is asked**: the active providers that quote the instrument, scored from their history
   (``rfq.selectors.provider_scorecards`` -> ``rfq.scoring.select_providers``): the best
   ``RFQ_PROVIDERS_PER_REQUEST`` are asked. Each choice is kept with its rank, score and the scorecard
   figures behind it (``Dissemination.reason``), and the whole choice in ``RFQ.selection_reason`` and the
   ``rfq.created`` audit event. Nobody to ask: the RFQ is REJECTED at once and nothing is reserved.
3. **What they are sent** (``Dissemination.payload``, the simulated market maker's only input): an opaque
   reference new for every provider and request, the instrument, the side (ours, or ``two_way`` to hide
   it), the size, the window's end and when it was sent. Never the portfolio, the PM, the firm, the parent
   or any order id.
4. **Reservation**: ``parent.reserved_quantity += quantity`` in the same transaction; an algorithm working
   the parent re-plans for what is left (``parent.replan``).
5. **Window**: ``window_ends_at = now + window_s`` (server time; the server alone decides what is late).
   After commit, each provider's answer is scheduled after its latency
   (``rfq.pricing.response_latency_ms``) and the window's close at its end.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ems.broadcast import parents_changed_on_commit
from ems.error_codes import ParentOrderErrorCode
from ems.models import ParentOrder
from ems.selectors import live_clock
from oms.audit_events import AuditEventType
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Instrument
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from rfq.error_codes import RfqErrorCode
from rfq.models import RFQ, Dissemination, LiquidityProvider, RfqDirection, RfqExecuteAt, RfqMode
from rfq.pricing import MarketSnapshot, response_latency_ms
from rfq.scoring import ScorecardStats, Selected, select_providers
from rfq.selectors import eligible_providers, market_snapshot, provider_profile, provider_scorecards, quantity_available
from rfq.services.common import (
    PROVIDER_RESPOND,
    WINDOW_CLOSE,
    algorithm_works,
    parent_check_working,
    parent_lock,
    push,
    rfq_dict,
    rfq_move,
    tasks_send_on_commit,
)
from rfq.states import RfqStatus

MAX_WINDOW_S = Decimal(60)
MAX_PROVIDERS = 20
SOURCES = ("desk", "api", "ems")


@dataclass(frozen=True)
class RfqSpec:
    """A request's terms, checked (everything but what depends on the parent)."""

    quantity: int | None
    direction: str | None
    mode: str
    execute_at: str
    threshold_bps: Decimal | None
    threshold_price: Decimal | None
    window_s: Decimal
    providers: int
    source: str


@dataclass(frozen=True)
class ProviderChoice:
    """The short list for a request and why (empty: nobody can be asked)."""

    selected: tuple[Selected, ...]
    providers: dict[int, LiquidityProvider]
    reason: str


def rfq_create(*, parent_id: int, actor: Actor, quantity: int | None = None, direction: str | None = None, mode: str = "click",
               execute_at: str = "quote", threshold_bps: Decimal | None = None, threshold_price: Decimal | None = None,
               window_s: Decimal | None = None, providers: int | None = None, source: str = "desk", user=None) -> RFQ:
    """Ask a short list of providers to quote (part of) a parent order (see the module docstring)."""
    spec = rfq_spec(quantity=quantity, direction=direction, mode=mode, execute_at=execute_at, threshold_bps=threshold_bps,
                    threshold_price=threshold_price, window_s=window_s, providers=providers, source=source)
    instrument_id = ParentOrder.objects.filter(pk=parent_id).values_list("instrument_id", flat=True).first()
    if instrument_id is None:
        raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
    # Scorecards and the market are read before the parent is locked: they need no lock, and they take a while.
    instrument = Instrument.objects.get(pk=instrument_id)
    choice = providers_choose(instrument, spec.providers)
    market = market_snapshot(instrument)
    with transaction.atomic():
        parent = parent_lock(parent_id)
        return rfq_open(parent, spec, choice=choice, market=market, actor=actor, user=user, round_no=0)


def rfq_spec(*, quantity=None, direction=None, mode="click", execute_at="quote", threshold_bps=None, threshold_price=None,
             window_s=None, providers=None, source="desk", net: bool = False) -> RfqSpec:
    """Check a request's terms; raise a DomainError naming the field. ``net``: a package's, whose prices (and
    so ``threshold_price``) are net and may be zero or negative."""
    if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0):
        raise DomainError(RfqErrorCode.BAD_QUANTITY, "Quantity must be a positive whole number of shares", field="quantity")
    if direction is not None and direction not in RfqDirection.values:
        raise DomainError(RfqErrorCode.BAD_DIRECTION, f"Direction must be one of {', '.join(RfqDirection.values)}", field="direction")
    if mode not in RfqMode.values:
        raise DomainError(RfqErrorCode.BAD_MODE, f"Mode must be one of {', '.join(RfqMode.values)}", field="mode")
    if execute_at not in RfqExecuteAt.values:
        raise DomainError(RfqErrorCode.BAD_EXECUTE_AT, f"execute_at must be one of {', '.join(RfqExecuteAt.values)}", field="execute_at")
    t_bps = _decimal(threshold_bps, "threshold_bps", RfqErrorCode.BAD_THRESHOLD)
    t_price = _decimal(threshold_price, "threshold_price", RfqErrorCode.BAD_THRESHOLD)
    if t_bps is not None and not Decimal(-1000) <= t_bps <= Decimal(10_000):
        raise DomainError(RfqErrorCode.BAD_THRESHOLD, "threshold_bps must be between -1000 and 10000", field="threshold_bps")
    if t_price is not None and t_price <= 0 and not net:
        raise DomainError(RfqErrorCode.BAD_THRESHOLD, "threshold_price must be positive", field="threshold_price")
    if mode == RfqMode.AUTO and t_bps is None and t_price is None:
        raise DomainError(RfqErrorCode.THRESHOLD_REQUIRED, "Auto-execution needs threshold_bps or threshold_price", field="threshold_bps")
    window = Decimal(str(settings.RFQ_WINDOW_S)) if window_s is None else _decimal(window_s, "window_s", RfqErrorCode.BAD_WINDOW)
    if not Decimal(0) < window <= MAX_WINDOW_S:
        raise DomainError(RfqErrorCode.BAD_WINDOW, f"The window must be more than 0 and at most {MAX_WINDOW_S} seconds", field="window_s")
    n = settings.RFQ_PROVIDERS_PER_REQUEST if providers is None else providers
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_PROVIDERS:
        raise DomainError(RfqErrorCode.BAD_PROVIDERS, f"Providers must be a whole number from 1 to {MAX_PROVIDERS}", field="providers")
    if source not in SOURCES:
        raise DomainError(RfqErrorCode.BAD_SOURCE, f"Source must be one of {', '.join(SOURCES)}", field="source")
    return RfqSpec(quantity, direction, mode, execute_at, t_bps, t_price, window.quantize(Decimal("0.001")), n, source)


def _decimal(value, field: str, code: str) -> Decimal | None:
    if value is None:
        return None
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        d = None
    if d is None or not d.is_finite() or isinstance(value, bool):
        raise DomainError(code, f"{field} must be a number", field=field)
    return d


def providers_choose(instruments: Instrument | list[Instrument], n: int) -> ProviderChoice:
    """The ``n`` best-scoring active providers that quote ``instruments`` (one, or every leg of a package), with
    the reason of the choice."""
    instruments = instruments if isinstance(instruments, list) else [instruments]
    eligible = list(eligible_providers(*instruments))
    if not eligible:
        return ProviderChoice((), {}, f"no active liquidity provider quotes {' and '.join(i.symbol for i in instruments)}")
    cards = provider_scorecards(eligible)
    stats = [cards.get(lp.pk) or ScorecardStats(lp.pk, lp.code, 0, 0, 0, None, None, 0) for lp in eligible]
    selected = tuple(select_providers(stats, n))
    lines = "; ".join(f"{s.rank}. {s.code} score {s.score:.1f} ({s.reason})" for s in selected)
    left_out = len(eligible) - len(selected)
    reason = (f"{len(selected)} of {len(eligible)} eligible providers by scorecard"
              f"{f' ({left_out} scored lower)' if left_out else ''}: {lines}")
    return ProviderChoice(selected, {lp.pk: lp for lp in eligible}, reason)


def rfq_open(parent: ParentOrder, spec: RfqSpec, *, choice: ProviderChoice, market: MarketSnapshot, actor: Actor, user=None,
             round_no: int) -> RFQ:
    """Record, reserve and disseminate a request for ``parent`` (locked by the caller); see the module docstring."""
    parent_check_working(parent)
    direction = spec.direction or RfqDirection.TWO_WAY
    if direction not in (parent.side, RfqDirection.TWO_WAY):
        raise DomainError(RfqErrorCode.BAD_DIRECTION, f"Parent order {parent.pk} is a {parent.side}: ask for {parent.side} or two_way",
                          field="direction")
    instrument = parent.instrument
    lot = instrument.lot_size
    available = quantity_available(parent)
    quantity = spec.quantity if spec.quantity is not None else available
    if spec.quantity is not None and spec.quantity % lot:
        raise DomainError(RfqErrorCode.BAD_QUANTITY, f"Quantity must be a whole number of lots of {lot}", field="quantity")
    if quantity <= 0 or quantity > available:
        raise Conflict(RfqErrorCode.QUANTITY_UNAVAILABLE,
                       f"Parent order {parent.pk} has {available:,} shares available for an RFQ "
                       f"({parent.remaining_quantity:,} remaining, {parent.reserved_quantity:,} held by RFQs, the rest at venues)",
                       field="quantity")

    now = timezone.now()
    mt = live_clock().market_time(now.timestamp())
    rfq = RFQ.objects.create(
        parent=parent, instrument=instrument, side=parent.side, direction=direction, quantity=quantity, status=RfqStatus.CREATED,
        mode=spec.mode, execute_at=spec.execute_at, threshold_bps=spec.threshold_bps, threshold_price=spec.threshold_price,
        window_s=spec.window_s, mid_at_request=Decimal(repr(market.mid)).quantize(PRICE_Q), market_day=mt.day,
        market_time_us=mt.t_us, round=round_no, source=spec.source, requested_by=user, selection_reason=choice.reason,
    )
    events = [PendingEvent(actor, AuditEventType.RFQ_CREATED, "rfq", rfq.pk, after={
        **rfq_dict(rfq), "providers": [[s.code, s.rank, s.score, s.reason] for s in choice.selected],
    }, reason=choice.reason)]

    if not choice.selected:
        rfq.closed_at, rfq.close_reason = now, choice.reason[:200]
        events.append(rfq_move(rfq, RfqStatus.REJECTED, actor=actor, event=AuditEventType.RFQ_REJECTED, reason=choice.reason))
        rfq.save(update_fields=["status", "closed_at", "close_reason", "updated_at"])
        audit_append(events)
        push(rfq, "rejected")
        return rfq

    events += reserve(parent, rfq, actor)
    content = {"instrument": rfq.instrument.symbol, "side": rfq.direction, "quantity": rfq.quantity}
    rfq_send(rfq, choice, content, spec=spec, events=events, actor=actor, now=now)
    parents_changed_on_commit([parent])
    return rfq


def rfq_send(rfq: RFQ, choice: ProviderChoice, content: dict, *, spec: RfqSpec, events: list[PendingEvent], actor: Actor, now) -> None:
    """Open the window and send ``content`` (what a provider may know of the request) to every chosen provider,
    each under a reference of its own; append ``events`` with the move to SENT; schedule each provider's answer
    after its latency and the window's close, after commit."""
    rfq.sent_at, rfq.window_ends_at = now, now + timedelta(seconds=float(spec.window_s))
    disseminations = _disseminate(rfq, choice, content)
    events.append(rfq_move(rfq, RfqStatus.SENT, actor=actor, event=AuditEventType.RFQ_SENT, reason=f"sent to {len(disseminations)} providers",
                           after={"window_ends_at": rfq.window_ends_at, "providers": [d.provider.code for d in disseminations]}))
    rfq.save(update_fields=["status", "sent_at", "window_ends_at", "updated_at"])
    audit_append(events)

    tasks = [(PROVIDER_RESPOND, [d.pk], response_latency_ms(provider_profile(d.provider), d.reference) / 1000)
             for d in disseminations]
    tasks.append((WINDOW_CLOSE, [rfq.pk], float(spec.window_s)))
    tasks_send_on_commit(tasks)
    push(rfq, "sent")


def reserve(parent: ParentOrder, rfq: RFQ, actor: Actor, *, quantity: int | None = None) -> list[PendingEvent]:
    """Hold ``quantity`` (default the request's) of ``parent`` for ``rfq`` (the caller holds the parent's lock)."""
    held = rfq.quantity if quantity is None else quantity
    before = parent.reserved_quantity
    parent.reserved_quantity = before + held
    fields = ["reserved_quantity", "updated_at"]
    if algorithm_works(parent):
        parent.replan = f"RFQ {rfq.pk} holds {held} shares"[:64]
        fields.append("replan")
    parent.save(update_fields=fields)
    return [PendingEvent(actor, AuditEventType.PARENT_ORDER_RESERVED, "parent_order", parent.pk, before={"reserved_quantity": before},
                         after={"reserved_quantity": parent.reserved_quantity, "rfq_id": rfq.pk, "reserved": held},
                         reason=f"RFQ {rfq.pk} holds {held:,}")]


def _disseminate(rfq: RFQ, choice: ProviderChoice, content: dict) -> list[Dissemination]:
    rows = []
    for s in choice.selected:
        reference = secrets.token_hex(12)  # opaque, new per provider and request: nothing to correlate
        rows.append(Dissemination(
            rfq=rfq, provider=choice.providers[s.provider_id], reference=reference, rank=s.rank,
            score=Decimal(str(s.score)).quantize(Decimal("0.0001")), reason=s.reason[:240], sent_at=rfq.sent_at,
            payload={"reference": reference, **content, "window_ends_at": rfq.window_ends_at.isoformat(),
                     "sent_at": rfq.sent_at.isoformat()},
        ))
    return Dissemination.objects.bulk_create(rows)
