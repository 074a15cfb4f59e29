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
from typing import Any

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
from oms.order_reports import OrderReport, ReportKind, order_reports_emit
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
from oms.services.risk_greeks import greek_limbs_apply, orders_greeks_decide
from oms.states import OrderStatus, check_transition

log = logging.getLogger(__name__)


@dataclass
class IntakeResult:
    """What happened to one submitted item: created, existing (idempotent replay), denied, or an error."""

    index: int
    outcome: str
    order: Order | None = None
    error: DomainError | None = None

    @property
    def http_status(self) -> int:
        return {"created": 201, "existing": 200}.get(self.outcome) or self.error.status


@dataclass(frozen=True)
class Submission:
    """One order as submitted: its payload, who sent it, and the request it came in.

    A bulk is one request of one sender; the group commit (``intake_group``) writes single orders of many
    requests, and senders, together. Websocket pushes go out per request, as if each were written alone.
    """

    user: Any
    actor: Actor
    data: Any
    request: int = 0

    @property
    def source(self) -> str:
        return self.actor.source


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


def orders_submit(*, user, actor: Actor, items: list, package: bool = False) -> list[IntakeResult]:
    """Submit orders (one or many): each is created ACCEPTED or DENIED, or answered idempotently, or refused.

    Everything created is written in one transaction together with its audit events.

    ``package``: the items are the legs of one multi-leg package (one portfolio): the option limbs on net delta
    and vega (``oms.services.risk_greeks``) decide them together, all or none, instead of one after another.

    A submission that loses a client_order_id race (a concurrent request took one of its ids first; its
    row is committed by the time the unique index says so) is submitted again: the next first read finds
    the winner and answers as it was answered. A batch is retried item by item, so that one more race
    costs one item a retry, not the whole batch. The messages are not counted against the rate limit twice.
    """
    subs = [Submission(user, actor, item) for item in items]
    outcome = _execute(_plan(subs, known_throttled=None, package=package), subs, may_retry=True)
    if not isinstance(outcome, _LostRace):
        return outcome
    return [replace(submission_resubmit(sub, outcome.throttled.get(index, False)), index=index) for index, sub in enumerate(subs)]


@dataclass(frozen=True)
class SubmitAgain:
    """The answer to an order of a group that was not written: submit it again on its own
    (``submission_resubmit``). ``throttled``: whether its message was counted as throttled already; None
    when the group failed before counting it."""

    throttled: bool | None


def submissions_submit(subs: list[Submission]) -> list[IntakeResult | SubmitAgain]:
    """Submit the orders of several requests (and senders) together, in one transaction: the group commit's batch.

    Each order is answered as it would be alone, in the order given (two orders of one sender under one
    client_order_id: the second as a resend of the first). A group that loses a client_order_id race, or
    fails as a whole (a database error, a commit refused), commits nothing: every order is answered
    ``SubmitAgain``, so that one order's failure stays its own and never turns into a false answer for another.
    """
    try:
        plan = _plan(subs, known_throttled=None)
    except Exception:
        log.exception("an intake group of %d orders failed before its transaction; each is submitted again alone", len(subs))
        return [SubmitAgain(None)] * len(subs)
    try:
        outcome = _execute(plan, subs, may_retry=True)
    except Exception:
        log.exception("an intake group of %d orders was not committed; each is submitted again alone", len(subs))
        outcome = _LostRace(plan.throttled)
    if isinstance(outcome, _LostRace):
        return [SubmitAgain(outcome.throttled.get(index)) for index in range(len(subs))]
    return outcome


@dataclass(frozen=True)
class _LostRace:
    throttled: dict[int, bool]  # per item index that went through the gate: counted as throttled (see _gate)


def submission_resubmit(sub: Submission, throttled: bool | None) -> IntakeResult:
    """Submit one order again on its own after its batch lost a race or failed, at most RACE_ATTEMPTS times;
    the last lost race is raised, as is any other failure. ``throttled``: see ``SubmitAgain``."""
    for _ in range(RACE_ATTEMPTS - 1):
        outcome = _execute(_plan([sub], known_throttled=_flags(throttled)), [sub], may_retry=True)
        if not isinstance(outcome, _LostRace):
            return replace(outcome[0], index=0)
        throttled = outcome.throttled.get(0, False)
    return replace(_execute(_plan([sub], known_throttled=_flags(throttled)), [sub], may_retry=False)[0], index=0)


def _flags(throttled: bool | None) -> dict[int, bool] | None:
    return None if throttled is None else {0: throttled}


@dataclass
class _Plan:
    """One attempt's decisions before its transaction: the answers known already (invalid items, resends),
    the fresh orders with their risk decisions and duplicate claims, and what the credit check needs."""

    results: list[IntakeResult | None]
    fresh: list[tuple[int, ParsedOrder]]
    # index -> (index of the first item of the batch with its source and client_order_id, this item parsed)
    same_as: dict[int, tuple[int, ParsedOrder]]
    decisions: dict[int, tuple[str, str] | None]
    claimed: dict[int, tuple]
    throttled: dict[int, bool]
    limits: dict[int, risk.EffectiveLimits]
    usage: risk.UsageSnapshot | None
    now: datetime


def _plan(subs: list[Submission], *, known_throttled: dict[int, bool] | None, package: bool = False) -> _Plan:
    """Parse, answer resends, and run the risk limbs that need no transaction. ``known_throttled``: a retry's
    throttle flags per item (None on a first attempt: count the messages)."""
    now = timezone.now()
    # One round trip: the reference-data stamp, which client order ids these sources have used, the day's
    # credit usage of the portfolios named and the market mids of the instruments named (as the cached
    # reference data maps their codes and symbols).
    stamp, existing_ids, usage, marks = _first_read(subs, now.date())
    ref = refdata(stamp)
    tradable: dict[int | None, dict] = {}  # per sender (user id): the portfolios they may trade, by code
    results: list[IntakeResult | None] = [None] * len(subs)
    parsed: list[tuple[int, ParsedOrder]] = []
    for index, sub in enumerate(subs):
        portfolios = tradable.get(sub.user.pk)
        if portfolios is None:
            allowed = tradable_portfolio_ids(sub.user, ref)
            portfolios = tradable[sub.user.pk] = ref.portfolios if allowed is None else {c: p for c, p in ref.portfolios.items() if p.id in allowed}
        try:
            parsed.append((index, parse_order(sub.data, portfolios=portfolios, instruments=ref.instruments, known_portfolios=ref.portfolios)))
        except DomainError as exc:
            results[index] = IntakeResult(index, "error", error=exc)

    # Idempotency on (source, client_order_id): against the database, then within this batch.
    existing = _existing_orders(existing_ids)
    fresh: list[tuple[int, ParsedOrder]] = []
    first_in_batch: dict[tuple[str, str], int] = {}
    same_as: dict[int, tuple[int, ParsedOrder]] = {}
    for index, req in parsed:
        key = (subs[index].source, req.client_order_id)
        prior = existing.get(key)
        if prior is not None:
            results[index] = _replay(index, req, prior)
        elif key in first_in_batch:
            same_as[index] = (first_in_batch[key], req)
        else:
            first_in_batch[key] = index
            fresh.append((index, req))

    decisions, claimed, throttled, limits = {}, {}, {}, {}
    if fresh:
        fresh = _with_references(fresh, marks, now)
        limits = risk.effective_limits({r.portfolio.id for _, r in fresh}, ref.limits)
        decisions, claimed, throttled = _gate(fresh, subs, limits, ref.restricted, ref.halts, known_throttled, package=package)
    return _Plan(results, fresh, same_as, decisions, claimed, throttled, limits, usage, now)


def _execute(plan: _Plan, subs: list[Submission], *, may_retry: bool) -> list[IntakeResult] | _LostRace:
    """Write the plan's fresh orders and answer every item. A lost client_order_id race is returned when
    ``may_retry``, else raised."""
    results = plan.results
    if plan.fresh:
        try:
            created = _create(plan, subs)
        except IntegrityError as exc:
            if not _lost_client_order_id_race(exc) or not may_retry:
                raise
            return _LostRace(plan.throttled)
        for index, result in created.items():
            results[index] = result

    # A client_order_id repeated within the batch is answered as a resend of the order its first use
    # created, exactly as the unique index makes a resend in another batch find it.
    for index, (first, req) in plan.same_as.items():
        results[index] = _replay(index, req, results[first].order)
    return results


# A batch that lost a race is retried item by item, and an item can lose once more only to a batch that
# took its client_order_id meanwhile: its next first read then finds that order.
RACE_ATTEMPTS = 3
CLIENT_ORDER_ID_CONSTRAINT = "order_unique_client_order_id_per_source"


def _lost_client_order_id_race(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return diag is not None and diag.constraint_name == CLIENT_ORDER_ID_CONSTRAINT


def _gate(fresh, subs: list[Submission], limits, restricted, halts, known_throttled: dict[int, bool] | None, *, package: bool = False):
    """The risk limbs that need no database: static checks, then the rate throttle and duplicate claims.

    Rate and duplicates are one atomic round trip to Redis per source (``risk.intake_gate``), its messages
    counted in the order given. ``known_throttled`` (a retry after a lost race or a failed group) means the
    messages were counted already.
    Return (decision per request index, claimed duplicate content per index, throttled per index).
    """
    decisions = {index: risk.check_static(req, limits[req.portfolio.id], restricted, halts) for index, req in fresh}
    # Net delta / vega: only for orders a Greek limb applies to (none set: nothing read, nothing computed).
    greeks = [(index, req) for index, req in fresh if decisions[index] is None and greek_limbs_apply(req.instrument, limits[req.portfolio.id])]
    if greeks:
        decisions.update(orders_greeks_decide(greeks, limits, as_one=package))
    by_source: dict[str, list[tuple[int, tuple]]] = defaultdict(list)
    for index, req in fresh:
        lim = limits[req.portfolio.id]
        already = bool(known_throttled and known_throttled.get(index))
        window = lim.duplicate_window_seconds or 0 if decisions[index] is None and not already else 0
        by_source[subs[index].source].append((index, (lim.max_orders_per_second or 0, window, req.duplicate_key if window else None)))
    claimed, throttled = {}, {}
    for source, entries in by_source.items():
        outcomes = risk.intake_gate(source, [entry for _, entry in entries], count=known_throttled is None)
        for (index, (cap, window, content)), outcome in zip(entries, outcomes, strict=True):
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


def _first_read(subs: list[Submission], trade_date) -> tuple[int | None, list[int], risk.UsageSnapshot | None, MarketMarks]:
    """The reference-data stamp, the ids of orders already booked under the items' sources and client order
    ids, the credit usage of the portfolios the items name (None when nothing is cached to map codes yet),
    and the latest market mids of the instruments they name (as far as the cached reference data maps their
    symbols).

    The ids are probed with array parameters (a 1,000-item IN list costs more to plan than to run).
    """
    items = [sub.data for sub in subs]
    # Only well-formed ids and symbols reach SQL (a NUL byte or a lone surrogate would fail the whole
    # batch there); the others are refused item by item by parse_order.
    keys = [(sub.source, i["client_order_id"]) for sub, i in zip(subs, items, strict=True)
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
                       ARRAY(SELECT id FROM oms_order JOIN unnest(%s::text[], %s::text[]) AS k(source, client_order_id)
                             USING (source, client_order_id)),
                       ARRAY(SELECT ARRAY[portfolio_id::numeric, gross_notional] FROM oms_portfoliodailyusage
                             WHERE trade_date = %s AND portfolio_id = ANY(%s)),
                       ARRAY({MARKS_SQL})""",
            [[k[0] for k in keys], [k[1] for k in keys], trade_date, pids, iids],
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


def _existing_orders(ids: list[int]) -> dict[tuple[str, str], Order]:
    """The full rows of orders found by ``_first_read`` (rare outside resends), by (source, client_order_id)."""
    if not ids:
        return {}
    return {(o.source, o.client_order_id): o for o in Order.objects.filter(pk__in=ids).select_related("portfolio", "instrument")}


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


def _create(plan: _Plan, subs: list[Submission]) -> dict[int, IntakeResult]:
    fresh, claimed = plan.fresh, plan.claimed
    try:
        for attempt in range(CREDIT_ATTEMPTS):
            try:
                orders = _record(fresh, plan.decisions, subs, limits=plan.limits, today=plan.now.date(),
                                 optimistic=attempt < CREDIT_ATTEMPTS - 1, usage=plan.usage if attempt == 0 else None)
                break
            except risk.CreditRace:
                continue  # the transaction rolled back; plan again against the new usage
    except BaseException:
        _dedupe_release(subs, claimed)  # nothing was recorded: the content is free again
        raise
    # Orders denied later (credit) did not use their content: give it back.
    _dedupe_release(subs, {i: claimed[i] for (i, _), o in zip(fresh, orders, strict=True) if i in claimed and o.status == OrderStatus.DENIED})

    out = {}
    for (index, _), order in zip(fresh, orders, strict=True):
        if order.status == OrderStatus.DENIED:
            out[index] = IntakeResult(index, "denied", order=order, error=_denial(order.deny_code, order.deny_reason))
        else:
            out[index] = IntakeResult(index, "created", order=order)
    return out


def _dedupe_release(subs: list[Submission], claimed: dict[int, tuple]) -> None:
    by_source = defaultdict(list)
    for index, content in claimed.items():
        by_source[subs[index].source].append(content)
    for source, contents in by_source.items():
        risk.dedupe_release(source, contents)


CREDIT_ATTEMPTS = 3  # optimistic tries, the last one locks the usage rows first and cannot lose a race


def _record(fresh, base_decisions, subs: list[Submission], *, limits, today, optimistic: bool, usage=None) -> list[Order]:
    """Reserve credit, write the orders and their audit events: one transaction.

    Optimistic: credit is decided against the committed usage and booked by a conditional update just
    before the audit events, so the row lock other orders of the portfolio queue for is held only for
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
                client_order_id=req.client_order_id, source=subs[index].source, portfolio=req.portfolio, instrument=req.instrument,
                side=req.side, quantity=req.quantity, order_type=req.order_type, limit_price=req.limit_price,
                time_in_force=req.time_in_force, urgency=req.urgency, strategy=req.strategy,
                start_time=req.start_time, end_time=req.end_time, max_participation=req.max_participation,
                status=status, notional=req.notional, reserved_notional=reserved, deny_code=denial[0] if denial else "",
                deny_reason=denial[1][:255] if denial else "", created_by_id=subs[index].user.pk,
            ))
        # Rows go in (source, client_order_id) order, so two batches sharing ids wait on each other, never deadlock.
        bulk_insert(Order, sorted(orders, key=lambda o: (o.source, o.client_order_id)))
        events = []
        pushes = defaultdict(list)  # per request: its orders, pushed as if that request were written alone
        for (index, _), order in zip(fresh, orders, strict=True):
            actor = subs[index].actor
            pushes[subs[index].request].append(order)
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
        for request_orders in pushes.values():
            orders_changed_on_commit(request_orders)
        order_reports_emit([OrderReport(ReportKind.DENIED if o.status == OrderStatus.DENIED else ReportKind.NEW, o) for o in orders])
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


def new_client_order_id() -> str:
    """A client order id for orders typed into the browser ticket."""
    return f"WEB-{uuid.uuid4().hex[:20].upper()}"
