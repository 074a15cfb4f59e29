"""Positions by the average-cost method: the pure rule (:func:`position_after_trade`) and the rows a batch of
trades touches, created if missing and locked in key order (:func:`positions_apply`).

Called by the order lifecycle (``oms.services.lifecycle.orders_fill_prepare``) when fills reach orders; lock
order as there: ... -> Order (pk order) -> Position ((portfolio, instrument) order).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from oms.audit_events import AuditEventType
from oms.models import Instrument, Order, Position, Side
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent


@dataclass(frozen=True)
class PositionState:
    """A position as the average-cost method sees it: signed quantity, cost of the open quantity, realised P&L."""

    quantity: int
    avg_cost: Decimal | None
    realized_pnl: Decimal


def position_after_trade(state: PositionState, *, side: str, quantity: int, price: Decimal, multiplier: int = 1) -> PositionState:
    """The position after trading ``quantity`` at ``price`` (average-cost method); ``multiplier`` is the
    instrument's (an option contract: 100 shares), so realised P&L is in currency, the cost per share.

    Adding to the position (or opening it) averages the cost: ``(|q| x cost + x x price) / (|q| + x)``.
    Reducing it realises ``(price - cost) x closed`` for a long (``(cost - price) x closed`` for a short) and
    keeps the cost. Going through zero closes the old side and opens the new one at the trade price. Flat
    has no cost.
    """
    signed = Side(side).sign * quantity
    q, cost, pnl = state.quantity, state.avg_cost, state.realized_pnl
    if q == 0 or (q > 0) == (signed > 0):
        new_q = q + signed
        new_cost = ((abs(q) * (cost or Decimal(0)) + quantity * price) / abs(new_q)).quantize(PRICE_Q)
        return PositionState(new_q, new_cost, pnl)
    closed = min(quantity, abs(q))
    pnl = (pnl + (price - cost) * closed * multiplier * (1 if q > 0 else -1)).quantize(PRICE_Q)
    new_q = q + signed
    if new_q == 0:
        return PositionState(0, None, pnl)
    if (new_q > 0) == (q > 0):
        return PositionState(new_q, cost, pnl)
    return PositionState(new_q, price.quantize(PRICE_Q), pnl)


@dataclass(frozen=True)
class PositionsMoved:
    """The position rows a batch of trades moved (to write), their audit events, and each trade's positions after it."""

    positions: list[Position]
    events: list[PendingEvent]
    # exec_id -> [[portfolio_id, quantity, avg_cost, realized_pnl], ...] in portfolio order: as that execution left them
    after_each: dict[str, list[list]]


def positions_apply(trades: list[tuple[Order, int, Decimal, str]], actor: Actor) -> PositionsMoved:
    """Apply the trades ``(order, quantity, price, exec_id)`` in order to the positions they touch, in memory; return
    the rows to write, one audit event per position, and what each execution left. The rows are created if
    missing and locked by one upsert, in key order (two bookings touching the same positions queue, never
    deadlock)."""
    keys = sorted({(o.portfolio_id, o.instrument_id) for o, _, _, _ in trades})
    columns = [f.column for f in Position._meta.concrete_fields]
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO oms_position (portfolio_id, instrument_id, quantity, realized_pnl, bought_quantity, sold_quantity, updated_at) "
            f"SELECT p, i, 0, 0, 0, 0, now() FROM unnest(%s::bigint[], %s::bigint[]) AS k(p, i) ORDER BY p, i "
            f"ON CONFLICT (portfolio_id, instrument_id) DO UPDATE SET quantity = oms_position.quantity "
            f"RETURNING {', '.join('oms_position.' + c for c in columns)}",
            [[k[0] for k in keys], [k[1] for k in keys]],
        )
        rows = cur.fetchall()
    positions = {}
    for row in rows:
        p = Position.from_db(connection.alias, [f.attname for f in Position._meta.concrete_fields], row)
        positions[(p.portfolio_id, p.instrument_id)] = p
    before = {k: _position_dict(p) for k, p in positions.items()}
    multipliers = dict(Instrument.objects.filter(pk__in={k[1] for k in keys}).values_list("pk", "multiplier"))
    left: dict[str, dict[tuple, Position]] = {}
    for order, quantity, price, exec_id in trades:
        key = (order.portfolio_id, order.instrument_id)
        p = positions[key]
        after = position_after_trade(PositionState(p.quantity, p.avg_cost, p.realized_pnl), side=order.side, quantity=quantity, price=price,
                                     multiplier=multipliers[order.instrument_id])
        p.quantity, p.avg_cost, p.realized_pnl = after.quantity, after.avg_cost, after.realized_pnl
        if order.side == "buy":
            p.bought_quantity += quantity
        else:
            p.sold_quantity += quantity
        left.setdefault(exec_id, {})[key] = after
    now = timezone.now()
    for p in positions.values():
        p.updated_at = now
    events = [PendingEvent(actor, AuditEventType.POSITION_UPDATED, "position", p.pk, before=before[k], after=_position_dict(p))
              for k, p in sorted(positions.items())]
    after_each = {exec_id: [[k[0], s.quantity, s.avg_cost, s.realized_pnl] for k, s in sorted(states.items())]
                  for exec_id, states in left.items()}
    return PositionsMoved(list(positions.values()), events, after_each)


def _position_dict(p: Position) -> dict:
    return {"portfolio_id": p.portfolio_id, "instrument_id": p.instrument_id, "quantity": p.quantity,
            "avg_cost": p.avg_cost, "realized_pnl": p.realized_pnl,
            "bought_quantity": p.bought_quantity, "sold_quantity": p.sold_quantity}
