"""The one shape of an ExecutionReport's body about an order: fields as ``[tag, value]`` pairs (what the outbox
stores) and the engine message made from them. Order entry's direct answers and the outbox use it alike."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import quickfix as qf
import quickfix44 as fix44
from django.utils import timezone

from fix import vocabulary as v
from oms.states import OrderStatus

CLOSED = OrderStatus.terminal_statuses()  # nothing leaves (FIX 151 LeavesQty = 0)

Fields = list[list]  # [[tag, value as text], ...]


@dataclass(frozen=True)
class OrderFacts:
    """What a report says about an order whatever happened to it."""

    order_id: int
    account: str  # FIX 1: the portfolio's code
    symbol: str  # FIX 55
    side: str  # ours: buy | sell
    order_type: str  # ours: market | limit
    quantity: int
    limit_price: Decimal | None
    time_in_force: str

    @classmethod
    def of(cls, order, account: str, symbol: str) -> OrderFacts:
        return cls(order.pk, account, symbol, order.side, order.order_type, order.quantity, order.limit_price, order.time_in_force)


def decimal_text(d: Decimal) -> str:
    return format(d.normalize(), "f")


def transact_time() -> str:
    return timezone.now().strftime("%Y%m%d-%H:%M:%S.%f")[:-3]  # FIX 60 UTCTimestamp, milliseconds


def report_fields(*, facts: OrderFacts, exec_id: str, exec_type: str, status: str, cl_ord_id: str, cum_qty: int,
                  avg_px: Decimal | None, orig_cl_ord_id: str = "", last: tuple[int, Decimal, str] | None = None,
                  text: str = "", rej_reason: str = "", ord_status: str = "") -> Fields:
    """The body of an ExecutionReport about an order in ``status`` (ours) with ``cum_qty`` filled at ``avg_px``;
    ``last``: (LastQty, LastPx, LastMkt) of a fill; ``ord_status``: FIX 39 when it is not the status's own
    (3 Done for day: the order is open, its day is over)."""
    leaves = 0 if status in CLOSED else facts.quantity - cum_qty
    out = [[37, str(facts.order_id)], [17, exec_id], [150, exec_type], [39, ord_status or v.ORD_STATUS[status]], [11, cl_ord_id]]
    if orig_cl_ord_id:
        out.append([41, orig_cl_ord_id])
    out += [[1, facts.account], [55, facts.symbol], [54, v.SIDE_OUT[facts.side]], [40, v.ORD_TYPE_OUT[facts.order_type]],
            [38, str(facts.quantity)]]
    if facts.limit_price is not None:
        out.append([44, decimal_text(facts.limit_price)])  # FIX 44 Price, exact
    out.append([59, v.TIME_IN_FORCE_OUT[facts.time_in_force]])
    if last is not None:
        qty, px, venue = last
        out += [[32, str(qty)], [31, decimal_text(px)]]  # FIX 32 LastQty, 31 LastPx
        if venue:
            out.append([30, venue])  # FIX 30 LastMkt
    out += [[14, str(cum_qty)], [151, str(leaves)], [6, decimal_text(avg_px or Decimal(0))]]  # CumQty, LeavesQty, AvgPx
    if rej_reason:
        out.append([103, rej_reason])  # FIX 103 OrdRejReason
    if text:
        out.append([58, text])  # FIX 58 Text
    out.append([60, transact_time()])
    return out


SOH = "\x01"


def report_body(fields: Fields) -> str:
    """The fields as the outbox keeps them: ``tag=value`` separated by SOH."""
    return SOH.join(f"{tag}={value}" for tag, value in fields)


def report_message(body: str | Fields) -> fix44.ExecutionReport:
    """The engine message of a report's fields (or of their stored body)."""
    fields = [field.split("=", 1) for field in body.split(SOH)] if isinstance(body, str) else body
    er = fix44.ExecutionReport()
    for tag, value in fields:
        er.setField(qf.StringField(int(tag), str(value)))
    return er
