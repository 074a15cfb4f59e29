"""Order intake: risk-check, record (accepted or denied), audit, push. One path for browser, API and bulk.

Parsing lives in ``order_parse``, cancelling in ``cancel``.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.db import bulk_insert
from oms.error_codes import OrderErrorCode, RiskErrorCode
from oms.errors import Conflict, DomainError, RiskDenied
from oms.models import Order
from oms.refdata import STAMP_SQL, cached_refdata, refdata
from oms.risk_reference import risk_reference
from oms.roles import Actor, tradable_portfolio_ids
from oms.services import risk
from oms.services.audit import PendingEvent, audit_prepare, audit_write
from oms.services.order_parse import (
    CLIENT_ORDER_ID_RE,
    EPOCH,
    ParsedOrder,
    has_invalid_characters,
    order_content_key,
    parse_order,
)
from oms.states import OrderStatus, check_transition

log = logging.getLogger(__name__)


@dataclass
class IntakeResult:
    """What happened to one submitted item: created, existing (idempotent replay), denied, or an error."""

    index: int
    outcome: str
    order: Order | None = None
    error: DomainError | None = None
    # "same_as" (while the batch is answered): the index of the first item with this client_order_id,
    # whose answer this one repeats.
    first_index: int | None = None

    @property
    def http_status(self) -> int:
        return {"created": 201, "existing": 200}.get(self.outcome) or self.error.status


def order_snapshot(o: Order) -> dict:
    """The fields of an order the audit trail keeps on submission."""
    return {
        "client_order_id": o.client_order_id, "source": o.source, "portfolio": o.portfolio.code,
        "instrument": o.instrument.symbol, "side": o.side, "quantity": o.quantity, "order_type": o.order_type,
        "limit_price": o.limit_price, "time_in_force": o.time_in_force, "urgency": o.urgency,
        "strategy": o.strategy, "start_time": o.start_time, "end_time": o.end_time,
        "max_participation": o.max_participation, "notional": o.notional, "status": OrderStatus.NEW,
    }


# --- submission ----------------------------------------------------------------------------------


def orders_submit(*, user, actor: Actor, items: list) -> list[IntakeResult]:
    """Submit orders (one or many): each is created ACCEPTED or DENIED, or answered idempotently, or refused.

    Everything created is written in one transaction together with its audit events.

    A submission that loses a client_order_id race (a concurrent request took one of its ids first; its
    row is committed by the time the unique index says so) is submitted again: the next first read finds
    the winner and answers as it was answered. A batch is retried item by item, so that one more race
    costs one item a retry, not the whole batch. The messages are not counted against the rate limit twice.
    """
    outcome = _submit(user, actor, items, known_throttled=None, may_retry=True)
    if not isinstance(outcome, _LostRace):
        return outcome
    return [_reindex(_resubmit(user, actor, item, outcome.throttled.get(index, False)), index) for index, item in enumerate(items)]


@dataclass(frozen=True)
class _LostRace:
    throttled: dict[int, bool]  # per item index: already counted as throttled (see _gate)


def _resubmit(user, actor: Actor, item, throttled: bool) -> IntakeResult:
    """Submit one item again after a lost race, at most RACE_ATTEMPTS times; the last loss is raised."""
    for _ in range(RACE_ATTEMPTS - 1):
        outcome = _submit(user, actor, [item], known_throttled={0: throttled}, may_retry=True)
        if not isinstance(outcome, _LostRace):
            return outcome[0]
        throttled = outcome.throttled.get(0, False)
    return _submit(user, actor, [item], known_throttled={0: throttled}, may_retry=False)[0]


def _submit(user, actor: Actor, items: list, *, known_throttled: dict[int, bool] | None, may_retry: bool) -> list[IntakeResult] | _LostRace:
    """One attempt at ``orders_submit``. ``known_throttled``: a retry's throttle flags per item (None on the
    first attempt: count the messages). A lost client_order_id race is returned when ``may_retry``, else raised."""
    source = actor.source
    now = timezone.now()
    # One round trip: the reference-data stamp, which client order ids this source has used, the day's
    # credit usage of the portfolios named and the market mids of the instruments named (as the cached
    # reference data maps their codes and symbols).
    stamp, existing_ids, usage, marks = _first_read(source, items, now.date())
    ref = refdata(stamp)
    allowed = tradable_portfolio_ids(user, ref)
    portfolios = ref.portfolios if allowed is None else {c: p for c, p in ref.portfolios.items() if p.id in allowed}
    instruments = ref.instruments

    results: list[IntakeResult | None] = [None] * len(items)
    parsed: list[tuple[int, ParsedOrder]] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, parse_order(item, portfolios=portfolios, instruments=instruments, known_portfolios=ref.portfolios)))
        except DomainError as exc:
            results[index] = IntakeResult(index, "error", error=exc)

    # Idempotency on (source, client_order_id): against the database, then within this batch.
    existing = _existing_orders(existing_ids)
    fresh: list[tuple[int, ParsedOrder]] = []
    first_in_batch: dict[str, tuple[int, ParsedOrder]] = {}
    for index, req in parsed:
        prior = existing.get(req.client_order_id)
        if prior is not None:
            results[index] = _replay(index, req, prior)
        elif req.client_order_id in first_in_batch:
            first_index, first_req = first_in_batch[req.client_order_id]
            results[index] = (
                IntakeResult(index, "same_as", first_index=first_index)
                if first_req.content_key == req.content_key
                else IntakeResult(index, "error", error=_conflict(req.client_order_id))
            )
        else:
            first_in_batch[req.client_order_id] = (index, req)
            fresh.append((index, req))

    if fresh:
        fresh = _with_references(fresh, marks, now)
        limits = risk.effective_limits({r.portfolio.id for _, r in fresh}, ref.limits)
        decisions, claimed, throttled = _gate(fresh, limits, ref.restricted, ref.halts, source, known_throttled)
        try:
            created = _create(fresh, decisions, claimed, source=source, actor=actor, user=user, limits=limits, now=now, usage=usage)
        except IntegrityError as exc:
            if not _lost_client_order_id_race(exc) or not may_retry:
                raise
            return _LostRace(throttled)
        for index, result in created.items():
            results[index] = result

    for index, result in enumerate(results):
        if result.outcome == "same_as":
            first = results[result.first_index]
            results[index] = IntakeResult(index, "existing" if first.order else first.outcome, order=first.order, error=first.error)
    return results


# A batch that lost a race is retried item by item, and an item can lose once more only to a batch that
# took its client_order_id meanwhile: its next first read then finds that order.
RACE_ATTEMPTS = 3
CLIENT_ORDER_ID_CONSTRAINT = "order_unique_client_order_id_per_source"


def _lost_client_order_id_race(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return diag is not None and diag.constraint_name == CLIENT_ORDER_ID_CONSTRAINT


def _gate(fresh, limits, restricted, halts, source: str, known_throttled: dict[int, bool] | None):
    """The risk limbs that need no database: static checks, then the rate throttle and duplicate claims.

    Rate and duplicates are one atomic round trip to Redis (``risk.intake_gate``). ``known_throttled``
    (a retry after a lost client_order_id race) means the messages were counted already.
    Return (decision per request index, claimed duplicate content per index, throttled per index).
    """
    decisions = {index: risk.check_static(req, limits[req.portfolio.id], restricted, halts) for index, req in fresh}
    entries = []
    for index, req in fresh:
        lim = limits[req.portfolio.id]
        already = bool(known_throttled and known_throttled.get(index))
        window = lim.duplicate_window_seconds or 0 if decisions[index] is None and not already else 0
        entries.append((lim.max_orders_per_second or 0, window, req.duplicate_key if window else None))
    outcomes = risk.intake_gate(source, entries, count=known_throttled is None)
    claimed, throttled = {}, {}
    for (index, _), outcome, (cap, window, content) in zip(fresh, outcomes, entries, strict=True):
        throttled[index] = outcome == risk.GATE_THROTTLED or bool(known_throttled and known_throttled.get(index))
        if throttled[index]:
            decisions[index] = (RiskErrorCode.RATE_LIMIT, f"More than {cap} orders per second from {source}")
        elif outcome == risk.GATE_DUPLICATE:
            decisions[index] = (
                RiskErrorCode.DUPLICATE_ORDER,
                f"Same order as one sent by {source} in the last {window}s (resend with the same client_order_id to retry safely)",
            )
        elif content is not None:
            claimed[index] = content
    return decisions, claimed, throttled


# The latest market mid of the instruments with the given ids, one numeric array each: (id, mid, epoch seconds).
MARKS_SQL = "SELECT ARRAY[instrument_id::numeric, mid, extract(epoch FROM as_of)] FROM oms_marketprice WHERE instrument_id = ANY(%s)"


@dataclass(frozen=True)
class MarketMarks:
    """Market mids read ahead (in the first round trip) for the instruments in ``covers``: id -> (mid, as_of)."""

    covers: frozenset[int]
    marks: dict[int, tuple[Decimal, datetime]]


def _first_read(source: str, items: list, trade_date) -> tuple[int | None, list[int], risk.UsageSnapshot | None, MarketMarks]:
    """The reference-data stamp, the ids of orders already booked under the items' client order ids, the
    credit usage of the portfolios the items name (None when nothing is cached to map codes yet), and the
    latest market mids of the instruments they name (as far as the cached reference data maps their symbols).

    The ids are probed with one array parameter (a 1,000-item IN list costs more to plan than to run).
    """
    # Only well-formed ids and symbols reach SQL (a NUL byte or a lone surrogate would fail the whole
    # batch there); the others are refused item by item by parse_order.
    coids = [i["client_order_id"] for i in items
             if isinstance(i, dict) and isinstance(i.get("client_order_id"), str) and CLIENT_ORDER_ID_RE.fullmatch(i["client_order_id"])]
    known = cached_refdata()
    pids = sorted({
        known.portfolios[i["portfolio"]].id for i in items
        if known is not None and isinstance(i, dict) and isinstance(i.get("portfolio"), str) and i["portfolio"] in known.portfolios
    })
    symbols = sorted({i["instrument"].upper() for i in items
                      if isinstance(i, dict) and isinstance(i.get("instrument"), str) and not has_invalid_characters(i["instrument"])})
    iids = sorted({known.instruments[s].id for s in symbols if known is not None and s in known.instruments})
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT ({STAMP_SQL}),
                       ARRAY(SELECT id FROM oms_order WHERE source = %s AND client_order_id = ANY(%s)),
                       ARRAY(SELECT ARRAY[portfolio_id::numeric, gross_notional] FROM oms_portfoliodailyusage
                             WHERE trade_date = %s AND portfolio_id = ANY(%s)),
                       ARRAY({MARKS_SQL})""",
            [source, coids, trade_date, pids, iids],
        )
        stamp, ids, rows, prices = cur.fetchone()
    usage = None
    if known is not None:
        usage = risk.UsageSnapshot(trade_date, frozenset(pids), {int(pid): gross for pid, gross in rows})
    return stamp, ids, usage, MarketMarks(frozenset(iids), _marks(prices))


def _marks(rows) -> dict[int, tuple[Decimal, datetime]]:
    return {int(iid): (mid, EPOCH + timedelta(microseconds=int(epoch * 1_000_000))) for iid, mid, epoch in rows}


def _with_references(fresh: list[tuple[int, ParsedOrder]], read_ahead: MarketMarks, now) -> list[tuple[int, ParsedOrder]]:
    """Give each order the price risk measures it against. Instruments the read-ahead did not cover (a cold
    or stale reference-data cache) are read here, in one more query for the whole batch."""
    marks = read_ahead.marks
    missing = sorted({req.instrument.id for _, req in fresh} - read_ahead.covers)
    if missing:
        with connection.cursor() as cur:
            cur.execute(f"SELECT ARRAY({MARKS_SQL})", [missing])
            marks = {**marks, **_marks(cur.fetchone()[0])}
    return [(index, replace(req, reference=risk_reference(req.instrument, marks.get(req.instrument.id), now)))
            for index, req in fresh]


def _existing_orders(ids: list[int]) -> dict[str, Order]:
    """The full rows of orders found by ``_stamp_and_existing_ids`` (rare outside resends)."""
    if not ids:
        return {}
    return {o.client_order_id: o for o in Order.objects.filter(pk__in=ids).select_related("portfolio", "instrument")}


def _reindex(result: IntakeResult, index: int) -> IntakeResult:
    result.index = index
    return result


def _conflict(client_order_id: str) -> Conflict:
    return Conflict(
        OrderErrorCode.DUPLICATE_CLIENT_ORDER_ID,
        f"client_order_id {client_order_id!r} was already used for a different order",
        field="client_order_id",
    )


def _replay(index: int, req: ParsedOrder, prior: Order) -> IntakeResult:
    if order_content_key(prior) != req.content_key:
        return IntakeResult(index, "error", order=prior, error=_conflict(req.client_order_id))
    if prior.status == OrderStatus.DENIED:
        return IntakeResult(index, "denied", order=prior, error=_denial(prior.deny_code, prior.deny_reason))
    return IntakeResult(index, "existing", order=prior)


def _denial(code: str, reason: str) -> RiskDenied:
    return RiskDenied(code, reason, field=risk.RISK_CODES.get(code))


def _create(fresh, decisions, claimed: dict[int, tuple], *, source: str, actor: Actor, user, limits, now, usage) -> dict[int, IntakeResult]:
    try:
        for attempt in range(CREDIT_ATTEMPTS):
            try:
                orders = _record(fresh, decisions, source=source, actor=actor, user=user, limits=limits, today=now.date(),
                                 optimistic=attempt < CREDIT_ATTEMPTS - 1, usage=usage if attempt == 0 else None)
                break
            except risk.CreditRace:
                continue  # the transaction rolled back; plan again against the new usage
    except BaseException:
        risk.dedupe_release(source, claimed.values())  # nothing was recorded: the content is free again
        raise
    # Orders denied later (credit) did not use their content: give it back.
    risk.dedupe_release(source, [claimed[i] for (i, _), o in zip(fresh, orders, strict=True) if i in claimed and o.status == OrderStatus.DENIED])

    out = {}
    for (index, _), order in zip(fresh, orders, strict=True):
        if order.status == OrderStatus.DENIED:
            out[index] = IntakeResult(index, "denied", order=order, error=_denial(order.deny_code, order.deny_reason))
        else:
            out[index] = IntakeResult(index, "created", order=order)
    return out


CREDIT_ATTEMPTS = 3  # optimistic tries, the last one locks the usage rows first and cannot lose a race


def _record(fresh, base_decisions, *, source: str, actor: Actor, user, limits, today, optimistic: bool, usage=None) -> list[Order]:
    """Reserve credit, write the orders and their audit events: one transaction.

    Optimistic: credit is decided against the committed usage and booked by a conditional update just
    before the audit chain, so the row lock other orders of the portfolio queue for is held only for
    the end of the transaction; if the headroom went meanwhile, CreditRace rolls everything back.
    """
    decisions = dict(base_decisions)
    by_portfolio = defaultdict(list)
    for index, req in fresh:
        if decisions[index] is None:
            by_portfolio[req.portfolio.id].append((index, req))
    plan = risk.CreditPlan({}, {})
    if optimistic:
        plan = risk.credit_plan(by_portfolio, limits, today, usage)
        decisions.update(plan.denied)
    with transaction.atomic():
        if not optimistic:
            decisions.update(risk.credit_reserve(by_portfolio, limits, today))
        orders = []
        for index, req in fresh:
            denial = decisions[index]
            status = OrderStatus.DENIED if denial else OrderStatus.ACCEPTED
            check_transition(OrderStatus.NEW, status)
            reserved = req.notional if not denial and limits[req.portfolio.id].daily_notional_limit is not None else Decimal(0)
            orders.append(Order(
                client_order_id=req.client_order_id, source=source, portfolio=req.portfolio, instrument=req.instrument,
                side=req.side, quantity=req.quantity, order_type=req.order_type, limit_price=req.limit_price,
                time_in_force=req.time_in_force, urgency=req.urgency, strategy=req.strategy,
                start_time=req.start_time, end_time=req.end_time, max_participation=req.max_participation,
                status=status, notional=req.notional, reserved_notional=reserved, deny_code=denial[0] if denial else "",
                deny_reason=denial[1][:255] if denial else "", created_by_id=user.pk,
            ))
        # Rows go in client_order_id order, so two batches sharing ids wait on each other, never deadlock.
        bulk_insert(Order, sorted(orders, key=lambda o: o.client_order_id))
        events = []
        for order in orders:
            events.append(PendingEvent(actor, AuditEventType.ORDER_RECEIVED, "order", order.id, after=order_snapshot(order)))
            if order.status == OrderStatus.DENIED:
                events.append(PendingEvent(actor, AuditEventType.ORDER_DENIED, "order", order.id, before={"status": OrderStatus.NEW},
                                           after={"status": order.status, "code": order.deny_code}, reason=order.deny_reason))
            else:
                events.append(PendingEvent(actor, AuditEventType.ORDER_ACCEPTED, "order", order.id, before={"status": OrderStatus.NEW},
                                           after={"status": order.status}, reason="passed pre-trade risk"))
        prepared = audit_prepare(events)
        risk.credit_book(plan, limits, today)  # raises CreditRace; takes the portfolio row locks
        audit_write(prepared)
        orders_changed_on_commit(orders)
        if any(o.status == OrderStatus.ACCEPTED for o in orders):
            transaction.on_commit(aggregation_soon)
    return orders


# The EMS's aggregation cycle, by task name (the OMS never imports the EMS).
AGGREGATION_TASK = "ems.tasks.aggregation_cycle"
AGGREGATION_PENDING_KEY = "oms:aggregation-pending"
AGGREGATION_EXPIRES_S = 10.0


def aggregation_soon() -> None:
    """Ask the EMS to aggregate the orders just accepted, ``EMS_AGGREGATION_DELAY_S`` from now.

    One request per delay window (a Redis key taken with SET NX): orders accepted meanwhile are caught by
    the same cycle, so they can share a parent. The request is only a shortcut: Celery beat runs the cycle
    every second anyway, so a failure to send is logged and never fails the submission (already committed);
    it expires, so a backlog left while no worker ran does not replay as a burst of cycles.
    """
    delay = settings.EMS_AGGREGATION_DELAY_S
    try:
        if not cache.add(AGGREGATION_PENDING_KEY, 1, timeout=max(1, math.ceil(delay))):
            return  # a cycle is already on its way
        current_app.send_task(AGGREGATION_TASK, countdown=delay, expires=delay + AGGREGATION_EXPIRES_S)
    except Exception:
        log.exception("could not request an aggregation cycle (beat will run one)")


def order_submit(*, user, actor: Actor, data: dict) -> IntakeResult:
    """Submit one order (see ``orders_submit``)."""
    return orders_submit(user=user, actor=actor, items=[data])[0]


def new_client_order_id() -> str:
    """A client order id for orders typed into the browser ticket."""
    return f"WEB-{uuid.uuid4().hex[:20].upper()}"
