"""Aggregation: accepted client orders -> internal crosses (netting) and parent orders, in one set-based cycle.

A cycle (``aggregation_cycle``, run by Celery beat every second and ``EMS_AGGREGATION_DELAY_S`` after
every acceptance) does, in **one transaction**:

1. **Candidates**: orders ACCEPTED, not in a parent, with nothing filled, whose ``start_time`` is empty or
   has passed, and on which no kill switch is engaged (``oms.KillSwitch``: such an order is held, ACCEPTED
   and not worked, until a trader lifts the switch; the intake denies new ones, so only an order accepted
   before the switch, with a later start time or in flight while it was engaged, is held). One ``SELECT ... FOR UPDATE SKIP LOCKED`` in pk order (at most ``CANDIDATE_LIMIT``; the
   rest wait for the next cycle). SKIP LOCKED: a concurrent cycle, or a PM cancelling one of them, keeps
   its rows and this cycle takes the others.
2. **Netting** (rule in :mod:`ems.netting`): per instrument, the buys and sells whose limits allow the live
   mid cross internally at the mid, pro rata in whole lots, booked by
   ``ems.services.booking.internal_cross_prepare`` (fills at venue INTERNAL, no fee, no market impact).
3. **Crossing against working parents**: what is left of each candidate then crosses, at the same mid and
   by the same rule (``net``: limits, whole lots, pro rata by largest remainder), against the opposite
   working parents' *crossable* quantity (below). A candidate fully crossed (2 or 3) is FILLED and gets no
   parent; a partly crossed one joins a new parent with its rest.
4. **Grouping**: the rests are grouped by :func:`group_key`:

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
5. **Parents**: one per group, each planned by the strategy selection matrix
   (:func:`parent_order_plan`): strategy, ``AlgoParams`` and the matrix's reason (RFQ goes to the RFQ
   platform, or IS when no destination is registered; an IOC group is worked DIRECT); arrival price = the live mid; the window
   from the market clock (:func:`working_window_end`). Parents and constituents are written with one statement
   each, the audit events (``parent_order.created``, ``order.aggregated``) with one more. After commit:
   pushes to blotters and the desk, and the first tick of each parent is enqueued (by task name).

**Orders that arrive while a parent is working never join it; an opposing one crosses against it.** A
parent keeps one arrival price (its TCA benchmark) and one schedule; joining would move both, and the
re-plan would cancel and re-post its resting children, losing their queue position: a same-side order
starts a new parent. The short delay between an acceptance and the cycle it triggers lets orders that
arrive together share a parent. An opposing order would otherwise go to the market against our own
interest, so it crosses (step 3) against the part of the working parent that is not at a venue:

- *which parents*: same instrument and market day, opposite side, status working
  (``ExecStatus.working()``), control RUNNING, window not ended, and no constituent order whose cancel is
  pending. A PAUSED or HALTED parent is a trader's (or the kill switch's) "do not execute now": a cross
  is an execution, so it is left alone. A parent being cancelled (PENDING_CANCEL) is no longer working;
  one whose constituent a PM is cancelling re-plans for what is left first (a cancel that lands while
  the cycle books is like a fill that crosses a cancel on the wire: the order keeps its fill);
- *how much*: ``quantity - filled - reserved (an open RFQ) - leaves of its open children`` (what rests
  or travels at the venues, read under the parent's lock: only a holder of that lock sends a child or
  books a fill, so the leaves can only shrink meanwhile). The cross itself touches no child;
- *who gets it*: the rests of one side against the parents of the other, in one ``net``: pro rata to the
  rests and to the parents' crossable quantities, ties to the older order and the older parent;
- *the parent's side*: one fill per parent (exec id ``X<cross>-P<parent>``), booked as any fill of the
  parent (progress, status, pro-rata allocation to its constituents: a parent the cross completes is
  FILLED and each constituent holds exactly its quantity); the INTERNAL venue keeps it out of the market
  footprint, as in the batch;
- *after*: a parent still working gets ``replan = "internal cross"`` (unless a re-plan is already
  pending: that one starts a plan for the rest too), and every crossed parent a tick after commit
  (``parent_tick_enqueue``), whose driver starts a new plan for the remaining quantity.

Orders already in a working parent are not netted against each other or against another working parent:
crossing needs a new order on one side.

**Concurrency**: two cycles at once never put one order in two parents. SKIP LOCKED keeps them apart while
both hold locks; if one commits while the other is scanning, the other can lock a row it judged by its
older snapshot, and the database's unique index on a ``Constituent``'s current order then refuses the second
constituent: that cycle rolls back (its crosses too) and runs again on a fresh snapshot. Two cycles (or a
cycle and a tick, a fill, a trader's control) that want the same working parent take its row lock in turn;
the later one reads its filled, reserved and resting quantities afresh under the lock, so a parent is
never crossed past what is free (and ``parent_never_overfilled`` is the database's last word).

Lock order (the EMS-wide one: ParentOrder -> ChildOrder -> Constituent -> Order -> Position, the audit
chain last): the cycle locks its candidate orders (SKIP LOCKED: it never waits for them), then the working
parents it may cross against, in pk order (it waits for a tick that holds one: a tick never waits for a
candidate, which is in no parent), then what booking locks; the audit events of every cross are appended
once all of that is held (the chain's lock is held to the commit: taking it and then waiting for a row a
tick holds, while the tick waits for the chain, would deadlock). It never waits for an instrument-day lock.
The parents it creates are new rows nobody else can hold.
"""

from __future__ import annotations

import logging
import math
import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ems.algos import algo_params
from ems.algos.selection import MAX_PARTICIPATION, select_strategy
from ems.algos.types import SCHEDULED_STRATEGIES, OrderSpec, StrategyName
from ems.broadcast import parents_changed_on_commit
from ems.destinations import destination_for
from ems.models import Constituent, InternalCross, ParentOrder
from ems.netting import BUY, SELL, NetCandidate, NetResult, crossable, net
from ems.selectors import instrument_params, live_clock, market_prices, parents_at_venues
from ems.services.booking import internal_cross_prepare
from ems.services.control import kill_switch_lock
from ems.services.ticks import parent_tick_enqueue, parent_ticks_send
from ems.sim import SESSION_US, US, InstrumentParams, LiveClock, MarketTime
from ems.states import Control, ExecStatus
from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.db import ids_reserve, insert_rows
from oms.error_codes import OrderErrorCode
from oms.errors import Conflict
from oms.models import Instrument, KillSwitch, MarketPrice, Order
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
REPLAN_REASON = "internal cross"  # ParentOrder.replan of a parent a new order crossed against
# Constituent's partial unique index on the order of its current rows: the last word on "one working parent per order".
CONSTITUENT_ORDER_UNIQUE = "one_current_parent_per_order"
CONSTITUENT_COLUMNS = ["parent_id", "order_id", "quantity", "allocated_quantity", "created_at", "current"]


@dataclass(frozen=True)
class AggregationResult:
    """What one cycle did: orders considered, parents created, internal crosses booked."""

    candidates: int = 0
    parents: tuple[int, ...] = ()
    aggregated: int = 0  # orders that joined a parent (with all, or the uncrossed rest, of their quantity)
    crosses: tuple[int, ...] = ()
    crossed_quantity: int = 0  # shares crossed internally (per side, all instruments)
    filled_by_cross: int = 0  # orders filled in full by a cross (they get no parent)
    parents_crossed: tuple[int, ...] = ()  # working parents a new order crossed against
    attempts: int = 1


@dataclass(frozen=True)
class ParentPlan:
    """What the selection matrix decided for a parent: the algorithm, its AlgoParams as JSON, and why."""

    strategy: StrategyName
    params: dict
    reason: str
    reason_code: str


def aggregation_cycle(*, actor: Actor) -> AggregationResult:
    """Cross the accepted orders waiting for the EMS against each other and against the opposite working
    parents, and aggregate their rests into new parent orders (module docstring)."""
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
    kill_switch_lock(shared=True)  # a kill switch being engaged either sees our parents or we see it
    now = timezone.now()
    orders = _lock_candidates(now)
    if not orders:
        return AggregationResult(attempts=attempt)
    clock = live_clock()
    mt = clock.market_time(now.timestamp())
    instruments = Instrument.objects.in_bulk({o.instrument_id for o in orders})
    mids = {t.instrument_id: t.mid.quantize(PRICE_Q) for t in market_prices(list(instruments.values()), wall=now.timestamp())}

    crossing = _Crossing(orders, instruments, mids, mt, actor)
    crossing.net()
    crossing.lock_parents()  # every lock the crosses need, before the first audit append (module docstring)
    crossing.book()
    if crossing.crossed:
        _refresh_progress([o for o in orders if o.id in crossing.crossed])
    rests = [(o, o.quantity - crossing.crossed.get(o.id, 0)) for o in orders]
    rests = [(o, q) for o, q in rests if q > 0]
    parents = parent_orders_create(rests=rests, instruments=instruments, mids=mids, clock=clock, mt=mt, actor=actor) if rests else []
    crossing.replan_parents()
    crosses = crossing.crosses
    return AggregationResult(
        candidates=len(orders),
        parents=tuple(p.id for p in parents),
        aggregated=len(rests),
        crosses=tuple(c.id for c in crosses),
        crossed_quantity=sum(c.quantity for c in crosses),
        filled_by_cross=len(orders) - len(rests),
        parents_crossed=tuple(sorted(crossing.parents_crossed)),
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
    halted = KillSwitch.objects.filter(lifted_at__isnull=True).filter(
        Q(scope="all") | Q(portfolio_id=OuterRef("portfolio_id")) | Q(instrument_id=OuterRef("instrument_id")))
    rows = (
        Order.objects.select_for_update(skip_locked=True)
        .filter(status=OrderStatus.ACCEPTED, filled_quantity=0)
        .filter(Q(start_time__isnull=True) | Q(start_time__lte=now))
        .filter(~Exists(in_a_parent), ~Exists(halted))
        .order_by("pk")
        .values_list(*CANDIDATE_FIELDS)[:CANDIDATE_LIMIT]
    )
    return [Candidate(*row) for row in rows]


class _Crossing:
    """The crosses of one cycle, in three steps so that every row lock is taken before the first audit
    append: :meth:`net` (pure: the batch netting), :meth:`lock_parents` (the working parents the rests may
    cross against, locked), :meth:`book` (the batch crosses, then the rests against the parents)."""

    def __init__(self, orders: list[Candidate], instruments: dict[int, Instrument], mids: dict[int, Decimal], mt: MarketTime,
                 actor: Actor) -> None:
        self.instruments, self.mids, self.mt, self.actor = instruments, mids, mt, actor
        self.by_instrument: dict[int, list[Candidate]] = defaultdict(list)
        for o in orders:
            self.by_instrument[o.instrument_id].append(o)
        self.batch: dict[int, NetResult] = {}
        self.rests: dict[int, int] = {o.id: o.quantity for o in orders}
        self.parents: dict[int, list[ParentOrder]] = {}  # instrument -> working parents locked, pk order
        self.crossable: dict[int, int] = {}  # parent id -> quantity it may cross (module docstring)
        self.crossed: dict[int, int] = {}  # order id -> quantity crossed (batch and against parents)
        self.crosses: list[InternalCross] = []
        self.events: list[PendingEvent] = []
        self.parents_crossed: set[int] = set()

    def net(self) -> None:
        """Net each instrument's candidates against each other (``ems.netting.net``); book nothing yet."""
        for iid, group in self.by_instrument.items():
            if len({o.side for o in group}) < 2:
                continue
            result = net([NetCandidate(o.id, o.side, o.quantity, o.limit_price) for o in group], mid=self.mids.get(iid),
                         lot=self.instruments[iid].lot_size)
            if result.quantity:
                self.batch[iid] = result
                for key, q in (*result.buys.items(), *result.sells.items()):
                    self.rests[key] -= q

    def lock_parents(self) -> None:
        """Lock, in pk order, the working parents a rest may cross against, and read what each may cross."""
        wanted: list[Q] = []
        for iid, group in self.by_instrument.items():
            mid, lot = self.mids.get(iid), self.instruments[iid].lot_size
            if mid is None:
                continue
            for side in {o.side for o in group if self.rests[o.id] >= lot and crossable(o.side, o.limit_price, mid)}:
                contra = SELL if side == BUY else BUY
                limit_ok = Q(limit_price__isnull=True) | (Q(limit_price__gte=mid) if contra == BUY else Q(limit_price__lte=mid))
                wanted.append(Q(instrument_id=iid, side=contra) & limit_ok)
        if not wanted:
            return
        parents = list(
            ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument")
            .filter(reduce(operator.or_, wanted), status__in=ExecStatus.working(), control=Control.RUNNING, market_day=self.mt.day,
                    end_us__gt=self.mt.t_us)
            .order_by("pk")
        )
        if not parents:
            return
        ids = [p.pk for p in parents]
        # Under the parents' locks: a child is only sent, and a fill only booked, by a holder of its parent's lock,
        # so what rests or travels at the venues can only shrink (a cancel, a reject, an expiry) while we hold them.
        leaves = parents_at_venues(ids)
        cancelling = set(Constituent.objects.filter(parent_id__in=ids, order__status=OrderStatus.PENDING_CANCEL)
                         .values_list("parent_id", flat=True))
        for p in parents:
            if p.pk in cancelling:
                continue  # a PM is taking an order out of it: it re-plans for what is left first
            self.crossable[p.pk] = p.workable_quantity - leaves.get(p.pk, 0)
            self.parents.setdefault(p.instrument_id, []).append(p)

    def book(self) -> None:
        """Book, per instrument: the batch cross, then each side's rests against the opposite working parents."""
        for iid in sorted(self.by_instrument):
            if iid in self.batch:
                self._book_batch(iid, self.batch[iid])
            for side in (BUY, SELL):
                self._book_against_parents(iid, side)
        audit_append(self.events)

    def _book_batch(self, iid: int, result: NetResult) -> None:
        by_id = Order.objects.in_bulk([*result.buys, *result.sells])  # already locked by this cycle
        self._book(iid, buys=[(by_id[k], q) for k, q in sorted(result.buys.items())],
                   sells=[(by_id[k], q) for k, q in sorted(result.sells.items())], parents=[])

    def _book_against_parents(self, iid: int, side: str) -> None:
        contra = [p for p in self.parents.get(iid, ()) if p.side != side and self.crossable[p.pk] > 0]
        orders = [o for o in self.by_instrument[iid] if o.side == side and self.rests[o.id] > 0]
        if not contra or not orders:
            return
        # One netting, the batch's own rule: the rests on one side, the parents on the other (keys: order ids on
        # one side, parent ids on the other, so the pro rata's ties go to the older order, the older parent).
        result = net([NetCandidate(o.id, side, self.rests[o.id], o.limit_price) for o in orders]
                     + [NetCandidate(p.pk, p.side, self.crossable[p.pk], p.limit_price) for p in contra],
                     mid=self.mids[iid], lot=self.instruments[iid].lot_size)
        if not result.quantity:
            return
        own, theirs = (result.buys, result.sells) if side == BUY else (result.sells, result.buys)
        by_id = Order.objects.in_bulk(list(own))  # already locked by this cycle
        legs = [(by_id[k], q) for k, q in sorted(own.items())]
        parents = {p.pk: p for p in contra}
        self._book(iid, buys=legs if side == BUY else [], sells=legs if side == SELL else [],
                   parents=[(parents[k], q) for k, q in sorted(theirs.items())])
        for k, q in own.items():
            self.rests[k] -= q
        for k, q in theirs.items():
            self.crossable[k] -= q
            self.parents_crossed.add(k)

    def _book(self, iid: int, *, buys, sells, parents) -> None:
        cross, events = internal_cross_prepare(
            instrument=self.instruments[iid], price=self.mids[iid], market_day=self.mt.day, market_time_us=self.mt.t_us,
            buys=buys, sells=sells, parents=parents, actor=self.actor,
        )
        self.events += events
        self.crosses.append(cross)
        for o, q in (*buys, *sells):
            self.crossed[o.pk] = self.crossed.get(o.pk, 0) + q

    def replan_parents(self) -> None:
        """Ask each crossed parent still working to re-plan for its rest (a re-plan already pending keeps its
        reason: it starts a plan for the rest too), and each crossed parent for a tick after commit (the driver
        of a parent the cross filled settles it)."""
        crossed = [p for ps in self.parents.values() for p in ps if p.pk in self.parents_crossed]
        ParentOrder.objects.filter(pk__in=[p.pk for p in crossed if p.is_open], replan="").update(replan=REPLAN_REASON)
        for p in crossed:
            parent_tick_enqueue(p.pk)


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


def parents_for_orders(*, order_ids: list[int], actor: Actor, notes: dict[int, str]) -> list[ParentOrder]:
    """Give each of ``order_ids`` (accepted, unfilled, in no parent) a parent of its own now, in the caller's
    transaction, instead of waiting for a cycle: the legs of an RFQ package (``rfq.services.packages``), which
    must neither wait nor share a parent, nor be netted, with anyone else's orders. ``notes[order id]`` goes
    before the matrix's reason (why this parent exists). Parents come back in ``order_ids`` order; an order
    that is not a candidate any more is refused with ``OrderErrorCode.NOT_OPEN``."""
    rows = {row[0]: Candidate(*row) for row in (
        Order.objects.select_for_update().filter(pk__in=order_ids, status=OrderStatus.ACCEPTED, filled_quantity=0)
        .filter(~Exists(Constituent.objects.filter(order_id=OuterRef("pk")))).order_by("pk").values_list(*CANDIDATE_FIELDS))}
    missing = [i for i in order_ids if i not in rows]
    if missing:
        raise Conflict(OrderErrorCode.NOT_OPEN, f"Orders {missing} are not waiting for a parent")
    keys = [group_key(rows[i]) for i in order_ids]
    if len(set(keys)) != len(keys):
        raise ValueError("parents_for_orders: two orders would share a parent")
    now = timezone.now()
    clock = live_clock()
    mt = clock.market_time(now.timestamp())
    instruments = Instrument.objects.in_bulk({o.instrument_id for o in rows.values()})
    mids = {t.instrument_id: t.mid.quantize(PRICE_Q) for t in market_prices(list(instruments.values()), wall=now.timestamp())}
    parents = parent_orders_create(rests=[(rows[i], rows[i].quantity) for i in order_ids], instruments=instruments, mids=mids,
                                   clock=clock, mt=mt, actor=actor, notes=notes)
    # One group per order (the keys differ), made in order id order: the k-th parent is the k-th order's.
    by_order = dict(zip(sorted(order_ids), parents, strict=True))
    return [by_order[i] for i in order_ids]


def parent_orders_create(
    *, rests: list[tuple[Candidate, int]], instruments: dict[int, Instrument], mids: dict[int, Decimal],
    clock: LiveClock, mt: MarketTime, actor: Actor, notes: dict[int, str] | None = None,
) -> list[ParentOrder]:
    """Create one parent per group of compatible orders (``rests``: locked orders, quantity each sends to
    the market), with constituents, audit events, pushes and the first tick on commit. ``notes``: per order
    id, a line put before the selection reason of its parent (``parents_for_orders``)."""
    groups: dict[str, list[tuple[Candidate, int]]] = defaultdict(list)
    for order, qty in sorted(rests, key=lambda r: r[0].id):
        groups[group_key(order)].append((order, qty))
    arrivals = _arrival_prices(instruments, mids)
    ids = parent_ids_reserve(len(groups))
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
        note = (notes or {}).get(first.id)
        if note:
            plan = ParentPlan(plan.strategy, plan.params, f"{note}; {plan.reason}", plan.reason_code)
        parent = ParentOrder(
            id=pid, instrument_id=first.instrument_id, side=first.side, quantity=quantity,
            order_type=first.order_type, limit_price=first.limit_price, urgency=first.urgency,
            requested_strategy=first.strategy, max_participation=first.max_participation, end_time=first.end_time,
            group_key=key, strategy=plan.strategy.value, params=plan.params, selection_reason=plan.reason,
            arrival_price=arrival, status=ExecStatus.ACCEPTED, control=Control.RUNNING, market_day=mt.day,
            start_us=mt.t_us, end_us=end_us, last_tick_us=mt.t_us, algo_state={}, driver_state={},
        )
        parents.append(parent)
        constituents += [[pid, o.id, q, 0, now, True] for o, q in members]
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


def parent_ids_reserve(n: int) -> list[int]:
    """Reserve ``n`` parent ids from the table's sequence (each parent's AlgoParams carry its id as their seed)."""
    return ids_reserve(ParentOrder._meta.db_table, "id", n)


def _enqueue_first_ticks(parent_ids: list[int]) -> None:
    # A lost message only delays a parent: the parents sweep ticks any parent whose last tick is stale.
    try:
        parent_ticks_send(parent_ids)
    except Exception:
        log.exception("could not enqueue the first tick of parents %s (the parents sweep will)", parent_ids)
