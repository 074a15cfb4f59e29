"""Aggregation: accepted client orders -> internal crosses (netting) and parent orders, in one set-based cycle.

A cycle (``aggregation_cycle``, run by Celery beat every second and ``EMS_AGGREGATION_DELAY_S`` after
every acceptance) does, in **one transaction**:

1. **Candidates**: orders ACCEPTED, not in a parent, with nothing filled, whose ``start_time`` is empty or
   has passed. One ``SELECT ... FOR UPDATE SKIP LOCKED`` in pk order (at most ``CANDIDATE_LIMIT``; the
   rest wait for the next cycle). SKIP LOCKED: a concurrent cycle, or a PM cancelling one of them, keeps
   its rows and this cycle takes the others.
2. **Netting** (rule in :mod:`ems.netting`): per instrument, the buys and sells whose limits allow the live
   mid cross internally at the mid, pro rata in whole lots, booked by
   ``ems.services.booking.internal_cross_book`` (fills at venue INTERNAL, no fee, no market impact).
   A fully crossed order is FILLED and gets no parent; a partly crossed one joins a parent with its rest.
3. **Grouping**: the rests are grouped by :func:`group_key`:

   ``instrument | side | order type + limit price | time in force | urgency | requested strategy |
   end time | max participation``

   - instrument and side: a parent is one instrument, one direction (opposing interest was netted in 2);
   - order type and the exact limit: a parent has one limit, and every fill of it is allocated pro rata
     to all its constituents, so a looser limit must never share a parent with a tighter one (the tighter
     order would be filled through its limit);
   - time in force: DAY, GTC and IOC orders end differently;
   - urgency, requested strategy, end time, max participation: the inputs of the selection matrix and of
     the algorithm's parameters, which are one per parent.

   Not in the key: portfolio and source (pooling the PMs' orders is the point), start time (only orders
   whose start has passed are candidates: a parent starts now).
4. **Parents**: one per group, each planned by the strategy selection matrix
   (:func:`parent_order_plan`): strategy, ``AlgoParams`` and the matrix's reason (RFQ goes to the RFQ
   platform, or IS when no destination is registered; an IOC group is worked DIRECT); arrival price = the live mid; the window
   from the market clock (:func:`working_window_end`). Parents and constituents are written with one statement
   each, the audit events (``parent_order.created``, ``order.aggregated``) with one more. After commit:
   pushes to blotters and the desk, and the first tick of each parent is enqueued (by task name).

**Orders that arrive while a parent is working start a new parent; they never join a working one.** A
parent keeps one arrival price (its TCA benchmark) and one schedule; joining would move both, and the
re-plan would cancel and re-post its resting children, losing their queue position. The short delay
between an acceptance and the cycle it triggers lets orders that arrive together share a parent.
Orders already in a working parent are not netted against new arrivals either: their quantity is
committed to a schedule and possibly resting at venues.

**Concurrency**: two cycles at once never put one order in two parents. SKIP LOCKED keeps them apart while
both hold locks; if one commits while the other is scanning, the other can lock a row it judged by its
older snapshot, and the database's ``Constituent.order`` unique constraint then refuses the second
constituent: that cycle rolls back (its crosses too) and runs again on a fresh snapshot.

Lock order (the EMS-wide one): this cycle locks only client orders (then booking's positions); the
parents it creates are new rows nobody else can hold.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ems.algos import algo_params
from ems.algos.selection import MAX_PARTICIPATION, select_strategy
from ems.algos.types import SCHEDULED_STRATEGIES, OrderSpec, StrategyName
from ems.broadcast import parents_changed_on_commit
from ems.destinations import destination_for
from ems.models import Constituent, ParentOrder
from ems.netting import NetCandidate, net
from ems.selectors import instrument_params, live_clock, market_prices
from ems.services.booking import internal_cross_book
from ems.services.ticks import parent_ticks_send
from ems.sim import SESSION_US, US, InstrumentParams, LiveClock, MarketTime
from ems.states import Control, ExecStatus
from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.db import insert_rows
from oms.models import Instrument, MarketPrice, Order
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.states import OrderStatus

log = logging.getLogger(__name__)

CANDIDATE_LIMIT = 20_000  # orders per cycle: bounds one transaction; the rest are taken by the next cycle
ATTEMPTS = 3  # a cycle that lost the constituent race runs again (see the module docstring)
MIN_WINDOW_US = 60 * US  # a parent gets at least a minute (or up to the close): the algorithm's finish takes the rest
RFQ_FALLBACK = "no RFQ platform registered: worked by IS"
IOC_REASON = "immediate or cancel: DIRECT"
# The unique index PostgreSQL gives Constituent.order (OneToOneField): the last word on "one parent per order".
CONSTITUENT_ORDER_UNIQUE = "ems_constituent_order_id_key"
CONSTITUENT_COLUMNS = ["parent_id", "order_id", "quantity", "allocated_quantity", "created_at"]


@dataclass(frozen=True)
class AggregationResult:
    """What one cycle did: orders considered, parents created, internal crosses booked."""

    candidates: int = 0
    parents: tuple[int, ...] = ()
    aggregated: int = 0  # orders that joined a parent (with all, or the uncrossed rest, of their quantity)
    crosses: tuple[int, ...] = ()
    crossed_quantity: int = 0  # shares crossed internally (per side, all instruments)
    filled_by_cross: int = 0  # orders filled in full by a cross (they get no parent)
    attempts: int = 1


@dataclass(frozen=True)
class ParentPlan:
    """What the selection matrix decided for a parent: the algorithm, its AlgoParams as JSON, and why."""

    strategy: StrategyName
    params: dict
    reason: str
    reason_code: str


def aggregation_cycle(*, actor: Actor) -> AggregationResult:
    """Net and aggregate the accepted orders waiting for the EMS into new parent orders (module docstring)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _cycle(actor, attempt)
        except IntegrityError as exc:
            if not _lost_constituent_race(exc) or attempt == ATTEMPTS:
                raise
            log.info("aggregation cycle lost an order to a concurrent cycle; running again (attempt %s)", attempt + 1)
    raise AssertionError("unreachable")


def _lost_constituent_race(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return diag is not None and diag.constraint_name == CONSTITUENT_ORDER_UNIQUE


def _cycle(actor: Actor, attempt: int) -> AggregationResult:
    now = timezone.now()
    orders = _lock_candidates(now)
    if not orders:
        return AggregationResult(attempts=attempt)
    clock = live_clock()
    mt = clock.market_time(now.timestamp())
    instruments = Instrument.objects.in_bulk({o.instrument_id for o in orders})
    mids = {t.instrument_id: t.mid.quantize(PRICE_Q) for t in market_prices(list(instruments.values()), wall=now.timestamp())}

    crossed, crosses = _net(orders, instruments, mids, mt, actor)
    if crossed:
        _refresh_progress([o for o in orders if o.id in crossed])
    rests = [(o, o.quantity - crossed.get(o.id, 0)) for o in orders]
    rests = [(o, q) for o, q in rests if q > 0]
    parents = parent_orders_create(rests=rests, instruments=instruments, mids=mids, clock=clock, mt=mt, actor=actor) if rests else []
    return AggregationResult(
        candidates=len(orders),
        parents=tuple(p.id for p in parents),
        aggregated=len(rests),
        crosses=tuple(c.id for c in crosses),
        crossed_quantity=sum(c.quantity for c in crosses),
        filled_by_cross=len(orders) - len(rests),
        attempts=attempt,
    )


@dataclass(slots=True)
class Candidate:
    """What the cycle reads of a locked candidate order (the fields of the key, the pushes and the audit):
    a slim row, not a model instance, because a cycle may take thousands."""

    id: int
    instrument_id: int
    portfolio_id: int
    client_order_id: str
    side: str
    quantity: int
    order_type: str
    limit_price: Decimal | None
    time_in_force: str
    urgency: str
    strategy: str
    end_time: datetime | None
    max_participation: Decimal | None
    status: str
    filled_quantity: int


CANDIDATE_FIELDS = tuple(Candidate.__dataclass_fields__)


def _lock_candidates(now: datetime) -> list[Candidate]:
    in_a_parent = Constituent.objects.filter(order_id=OuterRef("pk"))
    rows = (
        Order.objects.select_for_update(skip_locked=True)
        .filter(status=OrderStatus.ACCEPTED, filled_quantity=0)
        .filter(Q(start_time__isnull=True) | Q(start_time__lte=now))
        .filter(~Exists(in_a_parent))
        .order_by("pk")
        .values_list(*CANDIDATE_FIELDS)[:CANDIDATE_LIMIT]
    )
    return [Candidate(*row) for row in rows]


def _net(orders: list[Candidate], instruments, mids, mt: MarketTime, actor: Actor):
    """Cross opposing candidates per instrument at the mid; return (order id -> crossed qty, crosses)."""
    by_instrument: dict[int, list[Candidate]] = defaultdict(list)
    for o in orders:
        by_instrument[o.instrument_id].append(o)
    crossed: dict[int, int] = {}
    crosses = []
    for iid in sorted(by_instrument):
        group = by_instrument[iid]
        if len({o.side for o in group}) < 2:
            continue
        instrument = instruments[iid]
        mid = mids.get(iid)
        result = net([NetCandidate(o.id, o.side, o.quantity, o.limit_price) for o in group], mid=mid, lot=instrument.lot_size)
        if not result.quantity:
            continue
        by_id = Order.objects.in_bulk([*result.buys, *result.sells])  # already locked by this cycle
        crosses.append(internal_cross_book(
            instrument=instrument, price=mid, market_day=mt.day, market_time_us=mt.t_us,
            buys=[(by_id[k], q) for k, q in sorted(result.buys.items())],
            sells=[(by_id[k], q) for k, q in sorted(result.sells.items())],
            actor=actor,
        ))
        crossed.update(result.buys)
        crossed.update(result.sells)
    return crossed, crosses


def _refresh_progress(orders: list[Candidate]) -> None:
    # The cross moved these orders through the OMS lifecycle: read back what it wrote (pushes, audit, result).
    rows = Order.objects.filter(pk__in=[o.id for o in orders]).values_list("pk", "status", "filled_quantity")
    fresh = {pk: (status, filled) for pk, status, filled in rows}
    for o in orders:
        o.status, o.filled_quantity = fresh[o.id]


def group_key(order: Order | Candidate) -> str:
    """The aggregation key: orders with the same key may share a parent (module docstring says why each part)."""
    limit = "" if order.limit_price is None else str(Decimal(order.limit_price).quantize(PRICE_Q))
    end = "" if order.end_time is None else order.end_time.isoformat(timespec="microseconds")
    mp = "" if order.max_participation is None else str(Decimal(order.max_participation).quantize(Decimal("0.0001")))
    return "|".join((str(order.instrument_id), order.side, order.order_type, limit, order.time_in_force,
                     order.urgency, order.strategy, end, mp))


def working_window_end(end_time: datetime | None, clock: LiveClock, now: MarketTime) -> int:
    """The end of a parent's working window, µs since today's open: the requested end time in market time,
    else the close; never later than the close, and at least ``MIN_WINDOW_US`` after now (or the close,
    whichever comes first: a parent started within a minute of the close gets the close, and an order whose
    end time has already passed is still given that minute to finish rather than dropped)."""
    end = SESSION_US
    if end_time is not None:
        e = clock.market_time(end_time.timestamp())
        if e.day == now.day:
            end = e.t_us
        elif e.day < now.day:
            end = now.t_us
    return max(min(end, SESSION_US), min(SESSION_US, now.t_us + MIN_WINDOW_US))


def parent_order_plan(
    *, instrument: InstrumentParams, side: str, quantity: int, limit_price: Decimal | None, urgency: str,
    requested: str, start_us: int, end_us: int, max_participation: Decimal | None, arrival: Decimal, seed: int,
    time_in_force: str = "day",
) -> ParentPlan:
    """Ask the selection matrix for a parent's strategy and turn its parameters into the algorithm's AlgoParams.

    ``end_us`` is the parent's window end (the matrix's end cap); the algorithm's own ``end`` is the
    matrix's (a schedule may aim to finish earlier), the window end for DIRECT. RFQ is kept when a
    destination works it (``ems.destinations``: the RFQ platform registers itself); without one it falls
    back to IS over the window and says so in the reason. An IOC parent is worked
    DIRECT (what the market gives now), whatever the PM asked for: no schedule is immediate.
    """
    ioc = time_in_force == "ioc"
    if ioc:
        requested = StrategyName.DIRECT
    mp = None if max_participation is None else float(max_participation)
    spec = OrderSpec(
        side, quantity, limit_price=None if limit_price is None else float(limit_price), urgency=urgency,
        requested=requested, start=start_us, end=end_us, max_participation=mp, price=float(arrival),
    )
    selection = select_strategy(spec, instrument)
    strategy, p, reason, code = selection.strategy, selection.params, selection.reason, selection.reason_code
    if strategy is StrategyName.RFQ and destination_for(StrategyName.RFQ.value) is None:
        strategy, p, reason, code = StrategyName.IS, {}, f"{reason}; {RFQ_FALLBACK}", f"{code}.rfq_fallback_is"
    if ioc:
        reason = f"{IOC_REASON}; {reason}"
    lot = instrument.lot_size
    min_child = math.ceil(100 / lot) * lot
    kw: dict = {
        "side": side, "qty": quantity, "start": start_us, "end": end_us,
        "limit_price": spec.limit_price, "urgency": p.get("urgency", urgency),
        "max_participation": p.get("max_participation") or mp or MAX_PARTICIPATION,
        "lot_size": lot, "min_child": min_child, "max_child": max(50_000, min_child), "seed": seed,
    }
    if strategy in SCHEDULED_STRATEGIES and start_us < p.get("end", -1) <= end_us:
        kw["end"] = int(p["end"])
    if strategy is StrategyName.POV:
        cap = kw["max_participation"]
        rate = min(p.get("target_participation", cap), cap)
        band = cap - rate
        if not 0 < band < rate:  # POV works within rate +/- band: keep rate + band at the cap
            rate, band = cap * 0.8, cap * 0.2
        kw |= {"rate": rate, "band": band}
    if strategy is StrategyName.DIRECT:
        kw["mode"] = p.get("router_mode")
    # RFQ is worked by its destination (the RFQ platform), not an algorithm: the parameters every algorithm
    # shares are kept, so a trader can switch it to one, and the EMS fall back to IS.
    params = algo_params(strategy, kw).to_dict()
    return ParentPlan(strategy, params, reason, code)


def parent_orders_create(
    *, rests: list[tuple[Candidate, int]], instruments: dict[int, Instrument], mids: dict[int, Decimal],
    clock: LiveClock, mt: MarketTime, actor: Actor,
) -> list[ParentOrder]:
    """Create one parent per group of compatible orders (``rests``: locked orders, quantity each sends to
    the market), with constituents, audit events, pushes and the first tick on commit."""
    groups: dict[str, list[tuple[Candidate, int]]] = defaultdict(list)
    for order, qty in sorted(rests, key=lambda r: r[0].id):
        groups[group_key(order)].append((order, qty))
    arrivals = _arrival_prices(instruments, mids)
    ids = _reserve_parent_ids(len(groups))
    params_of = {iid: instrument_params(inst) for iid, inst in instruments.items()}
    now = timezone.now()
    parents, constituents, events = [], [], []
    for pid, (key, members) in zip(ids, groups.items(), strict=True):
        first = members[0][0]
        quantity = sum(q for _, q in members)
        end_us = working_window_end(first.end_time, clock, mt)
        arrival = arrivals[first.instrument_id]
        plan = parent_order_plan(
            instrument=params_of[first.instrument_id], side=first.side, quantity=quantity, limit_price=first.limit_price,
            urgency=first.urgency, requested=first.strategy, start_us=mt.t_us, end_us=end_us,
            max_participation=first.max_participation, arrival=arrival, seed=pid, time_in_force=first.time_in_force,
        )
        parent = ParentOrder(
            id=pid, instrument_id=first.instrument_id, side=first.side, quantity=quantity,
            order_type=first.order_type, limit_price=first.limit_price, urgency=first.urgency,
            requested_strategy=first.strategy, max_participation=first.max_participation, end_time=first.end_time,
            group_key=key, strategy=plan.strategy.value, params=plan.params, selection_reason=plan.reason,
            arrival_price=arrival, status=ExecStatus.ACCEPTED, control=Control.RUNNING, market_day=mt.day,
            start_us=mt.t_us, end_us=end_us, last_tick_us=mt.t_us, algo_state={}, driver_state={},
        )
        parents.append(parent)
        constituents += [[pid, o.id, q, 0, now] for o, q in members]
        events.append(PendingEvent(actor, AuditEventType.PARENT_ORDER_CREATED, "parent_order", pid, after={
            "instrument": instruments[first.instrument_id].symbol, "side": parent.side, "quantity": quantity,
            "strategy": parent.strategy, "params": plan.params, "reason": plan.reason, "reason_code": plan.reason_code,
            "arrival_price": arrival, "market_day": mt.day, "start_us": mt.t_us, "end_us": end_us, "group_key": key,
            "status": parent.status, "control": parent.control,
            "constituents": [[o.id, q] for o, q in members],
        }, reason=plan.reason))
        events += [
            PendingEvent(actor, AuditEventType.ORDER_AGGREGATED, "order", o.id, after={"parent": pid, "quantity": q},
                         reason=f"joined parent order {pid}")
            for o, q in members
        ]
    ParentOrder.objects.bulk_create(parents)
    # Rows, not model instances (a cycle may write thousands); the unique order_id index is the last word.
    insert_rows(Constituent._meta.db_table, "id", CONSTITUENT_COLUMNS, constituents)
    audit_append(events)
    orders_changed_on_commit([o for o, _ in rests])
    parents_changed_on_commit(parents)
    transaction.on_commit(lambda: _enqueue_first_ticks(ids))
    return parents


def _arrival_prices(instruments: dict[int, Instrument], mids: dict[int, Decimal]) -> dict[int, Decimal]:
    """The live mid; without one (an empty book side), the last stored market mid, else the reference price."""
    out = {iid: mid for iid, mid in mids.items() if iid in instruments}
    missing = [iid for iid in instruments if iid not in out]
    if missing:
        out |= dict(MarketPrice.objects.filter(instrument_id__in=missing).values_list("instrument_id", "mid"))
        out |= {iid: instruments[iid].reference_price for iid in missing if iid not in out}
    return out


def _reserve_parent_ids(n: int) -> list[int]:
    # Ids first, so each parent's AlgoParams can carry its own id as its random seed.
    if n == 0:
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('ems_parentorder', 'id')) FROM generate_series(1, %s)", [n])
        return [r[0] for r in cur.fetchall()]


def _enqueue_first_ticks(parent_ids: list[int]) -> None:
    # A lost message only delays a parent: the parents sweep ticks any parent whose last tick is stale.
    try:
        parent_ticks_send(parent_ids)
    except Exception:
        log.exception("could not enqueue the first tick of parents %s (the parents sweep will)", parent_ids)
