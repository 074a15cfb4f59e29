"""What happened to an order's execution state, told to whoever reports it outside (the FIX gateway's outbox).

The OMS does not import the apps that report orders: they register a listener here from their AppConfig
(``fix`` does), and the OMS calls :func:`order_reports_emit` inside the transaction that makes the change,
so what a listener writes commits or rolls back with it. The places that emit are the only places an
order's execution state moves: intake (accepted / denied), ``lifecycle.orders_fill_prepare`` (each fill),
``cancel`` (pending cancel / cancelled), ``lifecycle.order_close`` and ``orders_expire_day`` (cancelled /
expired), ``replace`` (replaced), and the EMS's carry-over of a GTC order to the next market day (done for day).

A listener runs on the fill path: it must cost nothing when it has nobody to tell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import transaction


class ReportKind(StrEnum):
    NEW = "new"  # accepted at intake (FIX 150=0)
    DENIED = "denied"  # our risk check said no at intake (150=8)
    TRADE = "trade"  # a fill reached the order (150=F)
    PENDING_CANCEL = "pending_cancel"  # 150=6
    CANCELLED = "cancelled"  # 150=4
    REPLACED = "replaced"  # 150=5
    EXPIRED = "expired"  # 150=C
    DONE_FOR_DAY = "done_for_day"  # 150=3: a GTC order's day ended, it goes on the next market day


@dataclass(frozen=True)
class TradeDetail:
    """One fill as it reached the order, and the order right after it (several fills of one order in one
    booking each carry their own running figures)."""

    exec_id: str
    quantity: int
    price: Decimal
    venue: str
    cum_quantity: int
    avg_price: Decimal
    status: str


@dataclass(frozen=True)
class OrderReport:
    kind: ReportKind
    order: object  # oms.models.Order, as the change left it
    trade: TradeDetail | None = None


Listener = Callable[[list[OrderReport]], None]
_listeners: list[Listener] = []


def order_reports_listen(listener: Listener) -> None:
    """Register a listener (once: an AppConfig.ready may run twice in tests)."""
    if listener not in _listeners:
        _listeners.append(listener)


def order_reports_emit(reports: list[OrderReport]) -> None:
    """Tell the listeners, inside the caller's transaction."""
    if not reports or not _listeners:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order reports are emitted inside the transaction that makes the change")
    for listener in _listeners:
        listener(reports)
