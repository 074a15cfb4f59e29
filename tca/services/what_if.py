"""What-if replay: a completed parent re-run with another algorithm or other parameters on the same market
path, and the two executions side by side.

The simulator is deterministic, so the path is the same: the instrument-day's seeded market with every
other fill of ours that day (other parents' impact is part of the path), **without this parent's own fills**
(``tca.replay.replay``: those up to the start in the market, the later ones fed in as their time comes, as
the live driver finds them in the database at its next tick). The replay starts from the parent's first
plan (the ``parent_order.plan_started`` audit row of epoch 1: its quantity, start and end; the parent's
stored ``params`` for the rest), with the requested strategy and any parameter overrides, and the id prefix
the live driver used (``P<parent>-``). Hence the same algorithm with the same parameters reproduces the
original fills exactly (times, venues, quantities, prices) when the parent was worked by one plan and no
other parent traded the instrument at the same time (another parent's fills booked after this parent had
already ticked past them were not in its market at the time; the replay sees them in time order).

Each execution is then measured on its own market: the original on the day's market with all our fills
(as ``ParentTCA``), the what-if on the path plus its own fills (its impact, not the original's). Both share
the parent's arrival and decision prices. The result is stored as a ``WhatIf`` (the replayed fills and both
summaries) with the audit event ``tca.what_if`` in one transaction.

Budgets (settings; docs/tca.md): a replay is refused up front when its estimated events (the algorithm's wakes,
window / ``interval_s``, plus ~4 events per child, quantity / ``max_child``) pass ``WHAT_IF_MAX_EVENTS``
(``tca.what_if_too_large`` naming the parameter); it runs under an ``ems.algos.loop.Budget`` of that many
events and ``WHAT_IF_MAX_SECONDS`` (``tca.what_if_over_budget`` when spent, nothing stored) and the caller's
``cancelled`` check (``tca.what_if_cancelled``: the client went away); at most ``WHAT_IF_MAX_PER_USER`` run at
once per user (a Redis counter with a TTL, released in ``finally``; the next is 429 ``tca.what_if_busy``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields as dc_fields

import redis
from django.conf import settings
from django.db import transaction

from ems.algos import ALGORITHMS, algo_params
from ems.algos.loop import Budget, BudgetExceeded, BudgetReason
from ems.algos.types import StrategyName
from ems.error_codes import ParentOrderErrorCode
from ems.models import Fill, ParentOrder
from ems.selectors import instrument_day_fills, market_with_fills, parents_seen_whole
from ems.services.children import venue_prefix
from ems.sim.clock import SESSION_US, US
from ems.sim.market import Market
from oms.audit_events import AuditEventType
from oms.error_codes import PermissionErrorCode
from oms.errors import Conflict, DomainError, NotFound
from oms.models import AuditEvent
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from tca.benchmarks import fill_benchmarks, parent_benchmarks
from tca.error_codes import TcaErrorCode
from tca.figures import CLOSED, day_market, decision_price, execution_end, prev_day_market
from tca.measures import (
    IS_COMPONENTS,
    FillPoint,
    currency,
    implementation_shortfall,
    participation,
    slippage_bps,
    slippage_ccy,
)
from tca.models import WhatIf
from tca.replay import replay
from tca.selectors import tca_parent_get

FIXED_PARAMS = frozenset({"side", "qty"})  # the same order: only how it is worked may change
EVENTS_PER_CHILD = 4  # a child's reports (ack, fills, cancel) and the wakes it causes, measured on the simulator
SLOT_TTL_MARGIN_S = 60  # a slot outlives its replay's time budget by this much, then lapses (a killed process)
SLIPPAGE_BENCHMARKS = ("arrival", "decision", "interval_vwap", "interval_twap", "open", "close", "prev_close")


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def execution_summary(*, market: Market, prev_market: Market | None, strategy: str, side: str, quantity: int,
                      arrival: float, decision: float, start_us: int, end_us: int, fills: list[tuple],
                      multiplier: int = 1) -> dict:
    """Measure one execution of a parent on its market (JSON-ready); currency amounts x the instrument's contract
    ``multiplier`` (``tca.measures.currency``).

    ``fills``: ``(t_us, venue, liquidity, qty, price, fee)`` in time order. Keys: strategy, quantity, filled,
    avg_price, notional, fees, fills (count), start_us, end_us, participation, benchmarks {name: price},
    slippage {name: {bps, ccy}} (positive = better), shortfall {delay, timing, impact, opportunity, fees,
    total (currency, positive = better), bps {same keys}}, venues [{venue, fills, quantity, notional,
    avg_price, fees}] by quantity, markout_60s_bps (quantity-weighted).
    """
    bench = parent_benchmarks(market, prev_market, start_us=start_us, end_us=end_us, arrival=arrival)
    points, m60 = [], []
    for t, venue, _liq, qty, price, fee in fills:
        fb = fill_benchmarks(market, side=side, price=price, time_us=t)
        points.append(FillPoint(side=side, qty=qty, price=price, mid=fb.mid, fee=fee, time_us=t, venue=venue))
        m60.append((fb.markouts[60], qty))
    sf = implementation_shortfall(side=side, quantity=quantity, decision=decision, arrival=arrival,
                                  end_price=bench.end_price, fills=points, multiplier=multiplier)
    filled = sum(p.qty for p in points)
    value = sum(p.qty * p.price for p in points)
    avg = value / filled if filled else None
    prices = {"arrival": arrival, "decision": decision, "interval_vwap": bench.interval_vwap,
              "interval_twap": bench.interval_twap, "open": bench.open, "close": bench.close, "prev_close": bench.prev_close}
    venues: dict[str, dict] = {}
    for p in points:
        v = venues.setdefault(p.venue, {"venue": p.venue, "fills": 0, "quantity": 0, "value": 0.0, "fees": 0.0})
        v["fills"] += 1
        v["quantity"] += p.qty
        v["value"] += p.qty * p.price
        v["fees"] += p.fee
    for v in venues.values():
        value_v = v.pop("value")
        v["avg_price"] = _r(value_v / v["quantity"])
        v["notional"], v["fees"] = _r(currency(value_v, multiplier), 2), _r(v["fees"], 2)
    m60_w = sum(q for _, q in m60)
    return {
        "strategy": strategy, "quantity": quantity, "filled": filled, "avg_price": _r(avg), "notional": _r(currency(value, multiplier), 2),
        "fees": _r(sum(p.fee for p in points), 2), "fills": len(points), "start_us": start_us, "end_us": end_us,
        "participation": _r(participation(filled, bench.market_volume)),
        "benchmarks": {k: _r(v) for k, v in prices.items()},
        "slippage": {k: ({"bps": _r(slippage_bps(side, avg, b), 4), "ccy": _r(slippage_ccy(side, avg, b, filled, multiplier), 2)}
                         if avg is not None and b else {"bps": None, "ccy": None}) for k, b in prices.items()},
        "shortfall": {**{k: _r(getattr(sf, k), 2) for k in IS_COMPONENTS}, "bps": {k: _r(v, 4) for k, v in sf.bps.items()}},
        "venues": sorted(venues.values(), key=lambda v: (-v["quantity"], v["venue"])),
        "markout_60s_bps": _r(sum(b * q for b, q in m60) / m60_w, 4) if m60_w else None,
    }


def first_plan(parent: ParentOrder) -> dict:
    """The parent's first plan: ``{qty, start_us, end_us}`` from its epoch-1 ``plan_started`` audit row (else
    the parent's own quantity and window)."""
    for after in AuditEvent.objects.filter(object_type="parent_order", object_id=str(parent.pk),
                                           event_type=AuditEventType.PARENT_ORDER_PLAN_STARTED).order_by("seq").values_list("after", flat=True)[:5]:
        if after and int(after.get("epoch", 0)) == 1:
            return {"qty": int(after["qty"]), "start_us": int(after["start_us"]), "end_us": int(after["end_us"])}
    end = min(int((parent.params or {}).get("end", parent.end_us)), parent.end_us, SESSION_US)
    return {"qty": parent.quantity, "start_us": parent.start_us, "end_us": end}


def what_if_params(parent: ParentOrder, strategy: str, overrides: dict) -> tuple[str, dict]:
    """The algorithm and the full parameters a replay runs with (validated; ``DomainError`` with a code)."""
    try:
        name = StrategyName(str(strategy).lower())
    except ValueError:
        name = None
    if name not in ALGORITHMS:
        raise DomainError(TcaErrorCode.BAD_STRATEGY, f"strategy must be one of {', '.join(s.value for s in ALGORITHMS)}", field="strategy")
    if not isinstance(overrides, dict):
        raise DomainError(TcaErrorCode.BAD_PARAMS, "params must be an object of algorithm parameters", field="params")
    cls = ALGORITHMS[name]
    allowed = {f.name for f in dc_fields(cls.Params)} - FIXED_PARAMS
    for key in overrides:
        if key not in allowed:
            raise DomainError(TcaErrorCode.BAD_PARAMS, f"{key!r} is not a parameter of {name.value} that a what-if may change "
                              f"(one of {', '.join(sorted(allowed))})", field=f"params.{key}")
    plan = first_plan(parent)
    base = {**(parent.params or {}), "side": parent.side, "qty": plan["qty"], "start": plan["start_us"], "end": plan["end_us"]}
    try:
        params = algo_params(name, base, **overrides).to_dict()
    except (TypeError, ValueError) as exc:
        raise DomainError(TcaErrorCode.BAD_PARAMS, f"Parameters refused by {name.value}: {exc}", field="params") from None
    check_size(params)
    return name.value, params


def estimated_events(params: dict) -> tuple[int, int]:
    """(wakes, child events) a replay with ``params`` (full algorithm parameters) is expected to take at least:
    one wake per ``interval_s`` of the window, ``EVENTS_PER_CHILD`` per child of at most ``max_child``."""
    window_s = max(0, int(params["end"]) - int(params["start"])) / US
    wakes = math.ceil(window_s / float(params.get("interval_s") or 1.0))
    children = math.ceil(int(params["qty"]) / max(1, int(params.get("max_child") or 1)))
    return wakes, children * EVENTS_PER_CHILD


def check_size(params: dict) -> None:
    """Refuse (``tca.what_if_too_large``, 400, naming the parameter to change) a replay whose estimated events
    pass ``WHAT_IF_MAX_EVENTS``: the browser form and the API answer the same."""
    limit = settings.WHAT_IF_MAX_EVENTS
    wakes, child_events = estimated_events(params)
    if wakes + child_events <= limit:
        return
    if wakes >= child_events:
        raise DomainError(TcaErrorCode.WHAT_IF_TOO_LARGE, f"interval_s {params['interval_s']} wakes the algorithm {wakes:,} times "
                          f"over the window: a replay may take {limit:,} events; use a longer interval or a shorter window",
                          field="params.interval_s")
    raise DomainError(TcaErrorCode.WHAT_IF_TOO_LARGE, f"max_child {params['max_child']} makes about {child_events // EVENTS_PER_CHILD:,} "
                      f"children of {params['qty']:,}: a replay may take {limit:,} events; use a larger max_child",
                      field="params.max_child")


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


_ACQUIRE_LUA = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return 1
"""


def running_key(user) -> str:
    return f"tca:what_if:running:{getattr(user, 'pk', None) or 'anon'}"


@contextmanager
def what_if_slot(user) -> Iterator[None]:
    """One of the user's ``WHAT_IF_MAX_PER_USER`` running replays, or 429 ``tca.what_if_busy``."""
    client, key = _redis(), running_key(user)
    limit = settings.WHAT_IF_MAX_PER_USER
    ttl = int(settings.WHAT_IF_MAX_SECONDS) + SLOT_TTL_MARGIN_S
    if not client.eval(_ACQUIRE_LUA, 1, key, limit, ttl):
        raise DomainError(TcaErrorCode.WHAT_IF_BUSY, f"You have {limit} what-if replay(s) running: wait for them to finish", status=429)
    try:
        yield
    finally:
        client.decr(key)


def what_if_run(*, parent_id: int, strategy: str, params: dict, user, actor: Actor,
                cancelled: Callable[[], bool] | None = None) -> WhatIf:
    """Replay a closed parent with ``strategy`` and parameter overrides on the same market path; store and
    audit ("tca.what_if") the result. Anyone who may see the parent may replay it (it changes no order).

    Refusals: ``parent_order.not_found`` (404: unknown or not visible), ``tca.parent_not_closed`` (409),
    ``tca.nothing_executed`` (409: every order of the parent was cancelled before a fill), ``permission.desk_only``
    (403: a PM's parent shared with other portfolios: a replay shows the whole of it),
    ``tca.bad_strategy`` / ``tca.bad_params`` / ``tca.what_if_too_large`` (400), ``tca.what_if_busy`` (429);
    stopped: ``tca.what_if_over_budget`` (422), ``tca.what_if_cancelled`` (``cancelled()`` became true).
    """
    parent = tca_parent_get(user=user, parent_id=parent_id)
    if parent is None:
        raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
    if parent.status not in CLOSED:
        raise Conflict(TcaErrorCode.PARENT_NOT_CLOSED, f"Parent order {parent_id} is {parent.status}: replay it once it is done")
    if parent.is_empty:
        raise Conflict(TcaErrorCode.NOTHING_EXECUTED, f"Parent order {parent_id} executed nothing: there is nothing to replay")
    if not parents_seen_whole(user=user).filter(pk=parent.pk).exists():
        # A replay is of the whole parent (its size, every fill): a PM whose orders share it with others may not see it.
        raise DomainError(PermissionErrorCode.DESK_ONLY, f"Parent order {parent_id} holds other portfolios' orders: "
                          "only the desk replays it", status=403)
    name, full = what_if_params(parent, strategy, params or {})
    inst, day = parent.instrument, parent.market_day
    start, end = int(full["start"]), int(full["end"])
    others = instrument_day_fills(inst.pk, day, exclude_parent_id=parent.pk)
    path = market_with_fills(inst, day, [f for f in others if f.time <= start])
    budget = Budget.of(max_events=settings.WHAT_IF_MAX_EVENTS, seconds=settings.WHAT_IF_MAX_SECONDS, cancelled=cancelled)
    try:
        with what_if_slot(user):
            replayed = replay(path, name, full, id_prefix=venue_prefix(parent), start_us=start, end_us=end,
                              later_fills=[f for f in others if f.time > start], budget=budget)
    except BudgetExceeded as exc:
        if exc.reason == BudgetReason.CANCELLED:
            raise DomainError(TcaErrorCode.WHAT_IF_CANCELLED, "The replay was stopped: the request went away") from None
        spent = (f"{settings.WHAT_IF_MAX_EVENTS:,} events" if exc.reason == BudgetReason.EVENTS
                 else f"{settings.WHAT_IF_MAX_SECONDS:g} seconds")
        raise DomainError(TcaErrorCode.WHAT_IF_OVER_BUDGET, f"The replay passed its budget of {spent}: use a longer interval_s, "
                          "a larger max_child or a shorter window", status=422) from None
    wi_fills = [(f.time, f.venue, str(f.liquidity), int(f.qty), float(f.price), float(f.fee)) for f in replayed]

    original_market = day_market(inst, day)
    prev = prev_day_market(inst, day)
    decision = decision_price(parent, original_market)
    arrival = float(parent.arrival_price)
    rows = list(Fill.objects.filter(parent=parent).order_by("market_time_us", "id"))
    original_fills = [(f.market_time_us, f.venue.code, f.liquidity, f.quantity, float(f.price), float(f.fee))
                      for f in Fill.objects.filter(parent=parent).select_related("venue").order_by("market_time_us", "id")]
    original = execution_summary(market=original_market, prev_market=prev, strategy=parent.strategy, side=parent.side,
                                 quantity=parent.quantity, arrival=arrival, decision=decision, start_us=parent.start_us,
                                 end_us=execution_end(parent, rows), fills=original_fills, multiplier=inst.multiplier)
    wi_filled = sum(f[3] for f in wi_fills)
    wi_end = max(f[0] for f in wi_fills) if wi_fills and wi_filled >= full["qty"] else min(end, SESSION_US)
    wi_market = market_with_fills(inst, day, others + list(replayed))
    what_if = execution_summary(market=wi_market, prev_market=prev, strategy=name, side=parent.side,
                                quantity=parent.quantity, arrival=arrival, decision=decision, start_us=start,
                                end_us=max(wi_end, start), fills=wi_fills, multiplier=inst.multiplier)
    summary = {"original": original, "what_if": what_if,
               "same_path": {"other_fills": len(others), "start_us": start, "end_us": end, "plan_qty": full["qty"]}}
    with transaction.atomic():
        row = WhatIf.objects.create(parent=parent, strategy=name, params=full, requested_by=user if getattr(user, "pk", None) else None,
                                    fills=[list(f) for f in wi_fills], summary=summary)
        audit_append([PendingEvent(actor, AuditEventType.TCA_WHAT_IF, "what_if", row.pk, after={
            "parent_id": parent.pk, "strategy": name, "params": full, "filled": what_if["filled"],
            "avg_price": what_if["avg_price"], "original_avg_price": original["avg_price"]})])
    return row
