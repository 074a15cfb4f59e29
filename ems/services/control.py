"""Trader controls over working parent orders: pause, resume, cancel, change strategy, and the kill switch
(engage, which also blocks new flow in its scope, and lift).

Each control is one transaction under the parent's row lock, audited with the trader's Actor. What an
outside destination holds for a parent (an open RFQ) is stopped after commit (``ems.destinations``) on a
pause, a cancel, the kill switch and a switch away from the RFQ strategy. Children
are cancelled by marking them PENDING_CANCEL here (audited "child_order.cancel_requested", in the same
transaction); the parent's next tick, enqueued after commit with no delay, sends the cancels to the venues
and books their reports (a venue order still working is never left without its cancel: the tick cancels
every open order of a parent that may not work). While a parent is paused, halted, cancelling or
re-planning its algorithm sends nothing.

Lock order: ParentOrder (pk order) -> ChildOrder.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from ems.algos import ALGORITHMS, algo_params
from ems.algos.types import StrategyName, Urgency
from ems.broadcast import parents_changed_on_commit
from ems.destinations import destination_for, parents_stop_on_commit
from ems.error_codes import KillSwitchErrorCode, ParentOrderErrorCode
from ems.models import ChildOrder, ParentOrder
from ems.services.ticks import parent_tick_enqueue, parents_tick_enqueue
from ems.states import (
    Control,
    ExecStatus,
    check_child_transition,
    check_control_transition,
    check_parent_transition,
)
from oms.audit_events import AuditEventType
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Instrument, KillSwitch, Portfolio
from oms.refdata import symbol_key
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.services.intake import aggregation_soon
from oms.states import IllegalTransition

S = ExecStatus
SCOPES = ("all", "portfolio", "instrument")


class ControlInvalid(DomainError):
    """A control asked with an input that cannot be right (unknown strategy, scope, urgency)."""

    status = 400


@dataclass(frozen=True)
class KillResult:
    """What the kill switch did: the parents halted and the child orders whose cancel was sent."""

    scope: str
    target: str | None
    parent_ids: tuple[int, ...]
    parents_halted: int
    children_cancelled: int


def _lock(parent_id: int) -> ParentOrder:
    parent = ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument").filter(pk=parent_id).first()
    if parent is None:
        raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
    if not parent.is_open or parent.status == S.PENDING_CANCEL:
        raise Conflict(ParentOrderErrorCode.NOT_OPEN, f"Parent order {parent_id} is {parent.get_status_display().lower()}")
    return parent


def _control(parent: ParentOrder, target: str) -> str:
    before = parent.control
    try:
        check_control_transition(before, target)
    except IllegalTransition as exc:
        raise Conflict(exc.code, f"Parent order {parent.pk} is {before}; it cannot become {target}") from exc
    parent.control = target
    return before


def _cancel_children(parents: list[ParentOrder], actor: Actor, reason: str) -> int:
    """Mark every open child of ``parents`` PENDING_CANCEL (audited); the ticks send the cancels."""
    children = list(
        ChildOrder.objects.select_for_update(of=("self",)).filter(parent__in=parents, status__in=S.open())
        .exclude(status=S.PENDING_CANCEL).order_by("pk")
    )
    if not children:
        return 0
    now = timezone.now()
    events = []
    for c in children:
        check_child_transition(c.status, S.PENDING_CANCEL)
        events.append(PendingEvent(actor, AuditEventType.CHILD_ORDER_CANCEL_REQUESTED, "child_order", c.pk, before={"status": c.status},
                                   after={"status": S.PENDING_CANCEL, "filled_quantity": c.filled_quantity, "parent_id": c.parent_id},
                                   reason=reason))
        c.status, c.updated_at = S.PENDING_CANCEL, now
    # Every row takes the same values: one plain UPDATE (bulk_update would build a CASE per row).
    ChildOrder.objects.filter(pk__in=[c.pk for c in children]).update(status=S.PENDING_CANCEL, updated_at=now)
    audit_append(events)
    return len(children)


def _audit(actor: Actor, event: str, parent: ParentOrder, before: dict, after: dict, reason: str = "") -> None:
    audit_append([PendingEvent(actor, event, "parent_order", parent.pk, before=before, after=after, reason=reason)])


def _finish(parent: ParentOrder, fields: list[str]) -> ParentOrder:
    parent.save(update_fields=[*fields, "updated_at"])
    parents_changed_on_commit([parent])
    parent_tick_enqueue(parent.pk, countdown=0)
    return parent


def parent_pause(*, parent_id: int, actor: Actor) -> ParentOrder:
    """Pause a running parent: its open children are cancelled and its algorithm sends nothing until resumed."""
    with transaction.atomic():
        parent = _lock(parent_id)
        before = _control(parent, Control.PAUSED)
        n = _cancel_children([parent], actor, f"parent {parent.pk} paused by {actor.name}")
        parents_stop_on_commit([parent], reason=f"parent paused by {actor.name}")
        _audit(actor, AuditEventType.PARENT_ORDER_PAUSED, parent, {"control": before}, {"control": parent.control, "children_cancelled": n},
               f"paused by {actor.name}")
        return _finish(parent, ["control"])


def parent_resume(*, parent_id: int, actor: Actor) -> ParentOrder:
    """Resume a paused or halted parent: a fresh plan for the remaining quantity starts from now."""
    with transaction.atomic():
        parent = _lock(parent_id)
        before = _control(parent, Control.RUNNING)
        parent.replan = f"resumed by {actor.name}"[:64]
        _audit(actor, AuditEventType.PARENT_ORDER_RESUMED, parent, {"control": before}, {"control": parent.control, "remaining": parent.remaining_quantity},
               f"resumed by {actor.name}")
        return _finish(parent, ["control", "replan"])


def parent_cancel(*, parent_id: int, actor: Actor, reason: str = "") -> ParentOrder:
    """Cancel a parent: its children are cancelled; once none is open it closes CANCELLED and its orders'
    unfilled parts are cancelled (their fills kept). ``reason``: why, when not the actor's own decision."""
    with transaction.atomic():
        parent = _lock(parent_id)
        before = parent.status
        check_parent_transition(before, S.PENDING_CANCEL)
        parent.status = S.PENDING_CANCEL
        why = reason or f"cancelled by {actor.name}"
        n = _cancel_children([parent], actor, f"parent {parent.pk} {why}")
        parents_stop_on_commit([parent], reason=f"parent {why}")
        _audit(actor, AuditEventType.PARENT_ORDER_CANCEL_REQUESTED, parent, {"status": before},
               {"status": parent.status, "filled_quantity": parent.filled_quantity, "children_cancelled": n}, why)
        return _finish(parent, ["status"])


def parent_strategy_change(*, parent_id: int, strategy: str, urgency: str | None = None, actor: Actor, reason: str = "") -> ParentOrder:
    """Change a parent's algorithm and/or urgency: its children are cancelled and a new plan (a new epoch)
    starts for the remaining quantity from now, to the same end."""
    try:
        name = StrategyName(strategy)
    except ValueError:
        name = None
    if name not in ALGORITHMS:
        raise ControlInvalid(ParentOrderErrorCode.BAD_STRATEGY, f"Unknown strategy {strategy!r}; one of {sorted(s.value for s in ALGORITHMS)}",
                             field="strategy")
    if urgency is not None and urgency not in {u.value for u in Urgency}:
        raise ControlInvalid(ParentOrderErrorCode.BAD_URGENCY, f"Unknown urgency {urgency!r}", field="urgency")
    with transaction.atomic():
        parent = _lock(parent_id)
        before = {"strategy": parent.strategy, "urgency": parent.urgency, "params": parent.params}
        changes = {}
        if urgency is not None:
            changes["urgency"] = parent.urgency = urgency
        parent.params = algo_params(name, parent.params, **changes).to_dict()
        parent.strategy = name.value
        why = reason or f"changed by {actor.name}"
        parent.replan = f"strategy {name.value}/{parent.urgency}: {why}"[:64]
        parent.selection_reason = f"{parent.selection_reason}\n{timezone.now():%H:%M:%S} trader override -> {name.value.upper()} ({parent.urgency}): {why}".strip()
        n = _cancel_children([parent], actor, f"parent {parent.pk} re-planned by {actor.name}")
        if destination_for(before["strategy"]) is not None:  # it leaves the RFQ platform: its open request goes
            parents_stop_on_commit([parent], reason=f"strategy changed to {name.value} by {actor.name}")
        _audit(actor, AuditEventType.PARENT_ORDER_STRATEGY_CHANGED, parent, before,
               {"strategy": parent.strategy, "urgency": parent.urgency, "params": parent.params, "children_cancelled": n}, why)
        return _finish(parent, ["strategy", "urgency", "params", "replan", "selection_reason"])


# pg_advisory_xact_lock key ("KILLS"): engaging a kill switch holds it exclusively, an aggregation cycle
# shared, so a cycle either commits its parents before the switch halts what is open, or reads the switch.
KILL_SWITCH_LOCK = 0x4B494C4C53


def kill_switch_lock(*, shared: bool) -> None:
    """Take the kill switch's transaction lock (``shared``: an aggregation cycle; else engaging one)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT pg_advisory_xact_lock{'_shared' if shared else ''}(%s)", [KILL_SWITCH_LOCK])


@dataclass(frozen=True)
class KillScope:
    """A kill switch's scope, resolved: ``target`` is the portfolio code or instrument symbol as stored."""

    scope: str
    portfolio: Portfolio | None = None
    instrument: Instrument | None = None

    @property
    def target(self) -> str | None:
        return self.switch().code or None

    def switch(self) -> KillSwitch:
        return KillSwitch(scope=self.scope, portfolio=self.portfolio, instrument=self.instrument)


def kill_scope(*, scope: str, portfolio: str | None = None, instrument: str | None = None, verb: str = "halted") -> KillScope:
    """Resolve a kill switch's scope (all | portfolio <code> | instrument <symbol>); an unknown portfolio or
    instrument is refused, 400 ``kill_switch.unknown_target``, before anything changes or is audited."""
    if scope == "all":
        return KillScope(scope)
    if scope == "portfolio":
        if not portfolio:
            raise ControlInvalid(KillSwitchErrorCode.BAD_SCOPE, "Scope portfolio needs a portfolio code", field="portfolio")
        book = Portfolio.objects.filter(code=portfolio).first()  # codes match exactly, as on every endpoint
        if book is None:
            raise ControlInvalid(KillSwitchErrorCode.UNKNOWN_TARGET, f"Unknown portfolio {portfolio!r}: nothing {verb}", field="portfolio")
        return KillScope(scope, portfolio=book)
    if scope == "instrument":
        if not instrument:
            raise ControlInvalid(KillSwitchErrorCode.BAD_SCOPE, "Scope instrument needs an instrument symbol", field="instrument")
        # Symbols match as on every endpoint (``symbol_key``); an inactive instrument's open parents still halt.
        inst = Instrument.objects.filter(symbol=symbol_key(instrument)).first()
        if inst is None:
            raise ControlInvalid(KillSwitchErrorCode.UNKNOWN_TARGET, f"Unknown instrument {instrument!r}: nothing {verb}", field="instrument")
        return KillScope(scope, instrument=inst)
    raise ControlInvalid(KillSwitchErrorCode.BAD_SCOPE, f"Scope must be one of {', '.join(SCOPES)}", field="scope")


def _engaged(where: KillScope):
    return KillSwitch.objects.filter(scope=where.scope, portfolio=where.portfolio, instrument=where.instrument, lifted_at__isnull=True)


def kill_switch(*, scope: str, portfolio: str | None = None, instrument: str | None = None, actor: Actor) -> KillResult:
    """Engage a kill switch: halt every open parent in scope (all | portfolio <code> | instrument <symbol>)
    and cancel every open child order of theirs, in one transaction, and block new flow in scope until a
    trader lifts it (``kill_switch_lift``): the intake denies new orders in scope (``risk.kill_switch``)
    and the aggregation cycle leaves accepted ones out of parents. The parents' ticks run at once after
    commit to send the cancels to the venues. Halted parents stay halted until a trader resumes each one;
    engaging a scope already engaged halts again what is open and keeps the one switch."""
    where = kill_scope(scope=scope, portfolio=portfolio, instrument=instrument)
    target = where.target
    qs = ParentOrder.objects.filter(status__in=S.open())
    if where.portfolio is not None:
        qs = qs.filter(constituents__order__portfolio=where.portfolio).distinct()
    elif where.instrument is not None:
        qs = qs.filter(instrument=where.instrument)
    with transaction.atomic():
        kill_switch_lock(shared=False)
        now = timezone.now()
        switch = _engaged(where).first()
        if switch is None:
            switch = where.switch()
            switch.engaged_at, switch.engaged_by = now, actor.name[:150]
            switch.save()
        ids = list(qs.values_list("pk", flat=True))
        parents = list(ParentOrder.objects.select_for_update(of=("self",)).filter(pk__in=ids, status__in=S.open()).order_by("pk"))
        halted = []
        events = []
        for p in parents:
            if p.control == Control.HALTED:
                continue
            before = _control(p, Control.HALTED)
            halted.append(p)
            events.append(PendingEvent(actor, AuditEventType.PARENT_ORDER_HALTED, "parent_order", p.pk, before={"control": before},
                                       after={"control": p.control, "scope": scope, "target": target}, reason="kill switch"))
        for p in halted:
            p.updated_at = now
        ParentOrder.objects.filter(pk__in=[p.pk for p in halted]).update(control=Control.HALTED, updated_at=now)
        n = _cancel_children(parents, actor, "kill switch")
        parents_stop_on_commit(parents, reason="kill switch")
        events.append(PendingEvent(actor, AuditEventType.KILL_SWITCH_ENGAGED, "kill_switch", f"{scope}:{target or '*'}",
                                   after={"scope": scope, "target": target, "parents_halted": len(halted),
                                          "children_cancelled": n, "parent_ids": [p.pk for p in parents],
                                          "kill_switch_id": switch.pk, "blocks_new_orders": True},
                                   reason=f"kill switch engaged by {actor.name}"))
        audit_append(events)
        parents_changed_on_commit(parents)
        parents_tick_enqueue(parents, countdown=0)
    return KillResult(scope, target, tuple(p.pk for p in parents), len(halted), n)


def kill_switch_lift(*, scope: str, portfolio: str | None = None, instrument: str | None = None, actor: Actor) -> KillSwitch:
    """Lift the kill switch engaged on a scope: new orders in scope are accepted again and the accepted
    orders it held are aggregated by the next cycle. Audited (``kill_switch.lifted``). Halted parents stay
    halted: a trader resumes each one. Not engaged on that scope: 409 ``kill_switch.not_engaged``."""
    where = kill_scope(scope=scope, portfolio=portfolio, instrument=instrument, verb="lifted")
    with transaction.atomic():
        switch = _engaged(where).select_for_update().first()
        if switch is None:
            raise Conflict(KillSwitchErrorCode.NOT_ENGAGED, f"No kill switch is engaged on {where.switch().target}", field="scope")
        switch.lifted_at, switch.lifted_by = timezone.now(), actor.name[:150]
        switch.save(update_fields=["lifted_at", "lifted_by"])
        audit_append([PendingEvent(actor, AuditEventType.KILL_SWITCH_LIFTED, "kill_switch", f"{scope}:{where.target or '*'}",
                                   before={"engaged_at": switch.engaged_at, "engaged_by": switch.engaged_by},
                                   after={"scope": scope, "target": where.target, "kill_switch_id": switch.pk, "blocks_new_orders": False},
                                   reason=f"kill switch lifted by {actor.name}")])
        transaction.on_commit(aggregation_soon)
    return switch

