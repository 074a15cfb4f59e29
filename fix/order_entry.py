"""FIX order entry: the gateway's application on an order-entry session, on the same services as REST.

NewOrderSingle (D) goes through ``oms.services.orders_submit`` (the same risk, audit and idempotency as
``POST /api/orders/``): ClOrdID (11) is the client order id, the session is the source (``fix:OURS:THEIRS``),
Account (1) is the portfolio code, and the session's user decides what may be traded. The answer is an
ExecutionReport New (150=0) or Rejected (150=8, OrdRejReason 103, Text 58 carrying our stable code).
OrderCancelRequest (F) cancels through ``order_cancel``; OrderStatusRequest (H) answers 150=I.

Runs on the gateway's worker thread (never in an engine callback). Anything that goes wrong inside is
answered (a Reject or a BusinessMessageReject with ``fix.internal_error``) and logged; nothing is half
applied, because each service call is one transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

import quickfix as qf
import quickfix44 as fix44
from django.utils import timezone

from fix import vocabulary as v
from fix.engine import Gateway, SessionKey, field_or
from fix.error_codes import FixErrorCode
from fix.models import SessionKind
from fix.refusals import refusal_text
from fix.selectors import fix_session_by_comp_ids, fix_session_order
from oms.error_codes import OrderErrorCode
from oms.errors import DomainError, NotFound, ValidationFailed
from oms.models import Order
from oms.roles import Actor
from oms.services import order_cancel, orders_submit
from oms.states import OrderStatus

log = logging.getLogger(__name__)

CLOSED = OrderStatus.terminal_statuses()  # nothing leaves (FIX 151 LeavesQty = 0)


@dataclass(frozen=True)
class _Session:
    id: int
    kind: str
    source: str
    user: object
    actor: Actor


def ord_rej_reason(exc: DomainError) -> str:
    """FIX 103 OrdRejReason of a refusal."""
    if isinstance(exc, ValidationFailed):
        return v.ORD_REJ_REASON_BY_FIELD.get(next(iter(exc.errors)), v.OTHER)
    return v.ORD_REJ_REASON.get(exc.code, v.OTHER)


def _unsupported(tag: int, name: str, value: str) -> DomainError:
    return DomainError(FixErrorCode.UNSUPPORTED_VALUE, f"{name}({tag})={value!r} is not traded here", field=name)


def order_item(message: qf.Message) -> dict:
    """The intake item (as ``POST /api/orders/`` takes it) of a NewOrderSingle; raise DomainError for a FIX
    value we do not trade. Every other check is the intake's own."""
    side, ord_type, tif = field_or(message, 54), field_or(message, 40), field_or(message, 59, "0")
    if side not in v.SIDE:
        raise _unsupported(54, "Side", side)
    if ord_type not in v.ORD_TYPE:
        raise _unsupported(40, "OrdType", ord_type)
    if tif not in v.TIME_IN_FORCE:
        raise _unsupported(59, "TimeInForce", tif)
    quantity = field_or(message, 38)
    # FIX Qty is a float type: "100" and "100.0" are the same whole number of shares; "100.5" is not whole.
    if "." in quantity and quantity.rstrip("0").endswith("."):
        quantity = quantity.rstrip("0").rstrip(".")
    return {
        "client_order_id": field_or(message, 11),
        "portfolio": field_or(message, 1) or None,
        "instrument": field_or(message, 55) or None,
        "side": v.SIDE[side].value,
        "quantity": quantity or None,
        "order_type": v.ORD_TYPE[ord_type].value,
        "limit_price": field_or(message, 44) or None,
        "time_in_force": v.TIME_IN_FORCE[tif].value,
    }


def execution_report(*, exec_type: str, ord_status: str, message: qf.Message, order: Order | None,
                     exec_id: str, text: str = "", rej_reason: str = "") -> fix44.ExecutionReport:
    """An ExecutionReport about ``order`` (or, when it was never created, about the request ``message``)."""
    er = fix44.ExecutionReport()
    er.setField(qf.OrderID(str(order.pk) if order else "NONE"))  # FIX 37
    er.setField(qf.ExecID(exec_id))  # FIX 17
    er.setField(qf.ExecType(exec_type))  # FIX 150
    er.setField(qf.OrdStatus(ord_status))  # FIX 39
    er.setField(qf.ClOrdID(field_or(message, 11) or (order.client_order_id if order else "NONE")))
    if order is not None:
        er.setField(qf.Account(order.portfolio.code))
        er.setField(qf.Symbol(order.instrument.symbol))
        er.setField(qf.Side(v.SIDE_OUT[order.side]))
        er.setField(qf.OrdType(v.ORD_TYPE_OUT[order.order_type]))
        er.setField(qf.OrderQty(order.quantity))
        if order.limit_price is not None:
            er.setField(qf.StringField(44, _decimal_text(order.limit_price)))  # FIX 44 Price, exact
        filled = order.filled_quantity or 0
        leaves = 0 if order.status in CLOSED else order.quantity - filled
        er.setField(qf.CumQty(filled))  # FIX 14
        er.setField(qf.LeavesQty(leaves))  # FIX 151
        er.setField(qf.StringField(6, _decimal_text(order.avg_price or Decimal(0))))  # FIX 6 AvgPx
    else:
        # Echo what the request said, so that the client can match the report to it.
        for tag in (1, 55, 54, 40, 38, 44):
            if message.isSetField(tag):
                er.setField(qf.StringField(tag, message.getField(tag)))
        if not message.isSetField(55):
            er.setField(qf.Symbol("NONE"))
        if not message.isSetField(54):
            er.setField(qf.Side("1"))
        er.setField(qf.CumQty(0))
        er.setField(qf.LeavesQty(0))
        er.setField(qf.AvgPx(0))
    if rej_reason:
        er.setField(qf.OrdRejReason(int(rej_reason)))  # FIX 103
    if text:
        er.setField(qf.Text(text))  # FIX 58
    er.setField(qf.StringField(60, timezone.now().strftime("%Y%m%d-%H:%M:%S.%f")[:-3]))  # FIX 60 TransactTime
    return er


def _decimal_text(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _msg_type(message: qf.Message) -> str:
    return field_or(message.getHeader(), 35)  # FIX 35 MsgType


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:20]}"


class OrderEntry:
    """The order-entry application (``fix.engine.Handler``)."""

    msg_types = frozenset({"D", "F", "H"})  # NewOrderSingle, OrderCancelRequest, OrderStatusRequest

    def __init__(self):
        self._sessions: dict[SessionKey, _Session] = {}

    def on_logon(self, gateway: Gateway, key: SessionKey) -> None:
        self._sessions.pop(key, None)  # its user or kind may have changed: read it again

    def handle(self, gateway: Gateway, key: SessionKey, messages: list[qf.Message]) -> None:
        # NewOrderSingles that arrived together go to the intake in one call (one transaction, as a REST bulk
        # request does): under load a session's orders cost one round of risk reads and one commit.
        start = 0
        while start < len(messages):
            end = start + 1
            if _msg_type(messages[start]) == "D":
                while end < len(messages) and _msg_type(messages[end]) == "D":
                    end += 1
            self._answered(gateway, key, messages[start:end])
            start = end

    def _answered(self, gateway: Gateway, key: SessionKey, messages: list[qf.Message]) -> None:
        try:
            session = self._session(key)
            if session.kind != SessionKind.ORDER_ENTRY:
                for message in messages:
                    self._business_reject(gateway, key, message, DomainError(
                        FixErrorCode.NOT_ORDER_ENTRY, "This is a drop-copy session: it takes no orders"))
                return
            if _msg_type(messages[0]) == "D":
                self._new_orders(gateway, key, session, messages)
            else:
                {"F": self._cancel, "H": self._status}[_msg_type(messages[0])](gateway, key, session, messages[0])
        except Exception:
            log.exception("FIX order entry: %s on %s", _msg_type(messages[0]), key)
            for message in messages:
                self._business_reject(gateway, key, message, DomainError(
                    FixErrorCode.INTERNAL_ERROR, "The message could not be processed; nothing was applied"))

    # --- the messages -------------------------------------------------------------------------------

    def _new_orders(self, gateway: Gateway, key: SessionKey, session: _Session, messages: list[qf.Message]) -> None:
        items, refused = [], {}
        for index, message in enumerate(messages):
            try:
                items.append(order_item(message))
            except DomainError as exc:
                refused[index] = exc
        results = iter(orders_submit(user=session.user, actor=session.actor, items=items) if items else [])
        for index, message in enumerate(messages):
            if index in refused:
                self._reject(gateway, key, message, None, refused[index])
                continue
            result = next(results)
            if result.outcome in ("created", "existing"):
                order = result.order
                status = v.ORD_STATUS[order.status]
                # The acknowledgement's ExecID is the order's: a resend of the same NewOrderSingle gets the same one.
                gateway.send(execution_report(exec_type=status if status in ("0", "A") else "0", ord_status=status,
                                              message=message, order=order, exec_id=f"N{order.pk}"), key)
            else:
                self._reject(gateway, key, message, result.order, result.error)

    def _cancel(self, gateway: Gateway, key: SessionKey, session: _Session, message: qf.Message) -> None:
        order = self._order(session, field_or(message, 41))  # FIX 41 OrigClOrdID
        try:
            if order is None:
                raise NotFound(OrderErrorCode.NOT_FOUND, f"No order with ClOrdID {field_or(message, 41)!r} on this session")
            order = order_cancel(user=session.user, actor=session.actor, order_id=order.pk)
        except DomainError as exc:
            reject = fix44.OrderCancelReject()
            reject.setField(qf.OrderID(str(order.pk) if order else "NONE"))
            reject.setField(qf.ClOrdID(field_or(message, 11)))
            reject.setField(qf.OrigClOrdID(field_or(message, 41)))
            reject.setField(qf.OrdStatus(v.ORD_STATUS[order.status] if order else "8"))
            reject.setField(qf.CxlRejResponseTo("1"))  # FIX 434: to an OrderCancelRequest
            reject.setField(qf.CxlRejReason(int(v.CXL_REJ_REASON.get(exc.code, v.CXL_OTHER))))
            reject.setField(qf.Text(refusal_text(exc)))
            gateway.send(reject, key)
            return
        status = v.ORD_STATUS[order.status]
        er = execution_report(exec_type=status, ord_status=status, message=message, order=order, exec_id=_new_id("C"))
        er.setField(qf.OrigClOrdID(field_or(message, 41)))
        gateway.send(er, key)

    def _status(self, gateway: Gateway, key: SessionKey, session: _Session, message: qf.Message) -> None:
        order = self._order(session, field_or(message, 11))
        if order is None:
            exc = NotFound(OrderErrorCode.NOT_FOUND, f"No order with ClOrdID {field_or(message, 11)!r} on this session")
            gateway.send(execution_report(exec_type="I", ord_status="8", message=message, order=None,
                                          exec_id=_new_id("I"), text=refusal_text(exc), rej_reason="5"), key)  # 5 Unknown order
            return
        gateway.send(execution_report(exec_type="I", ord_status=v.ORD_STATUS[order.status], message=message,
                                      order=order, exec_id=_new_id("I")), key)

    # --- answers ---------------------------------------------------------------------------------------

    def _reject(self, gateway: Gateway, key: SessionKey, message: qf.Message, order: Order | None, exc: DomainError) -> None:
        # A denied order exists (DENIED, with its code): its rejection is as repeatable as an acknowledgement.
        exec_id = f"R{order.pk}" if order is not None and order.client_order_id == field_or(message, 11) else _new_id("X")
        gateway.send(execution_report(exec_type="8", ord_status="8", message=message,
                                      order=order if exec_id.startswith("R") else None, exec_id=exec_id,
                                      text=refusal_text(exc), rej_reason=ord_rej_reason(exc)), key)

    def _business_reject(self, gateway: Gateway, key: SessionKey, message: qf.Message, exc: DomainError) -> None:
        bmr = fix44.BusinessMessageReject()
        bmr.setField(qf.RefSeqNum(int(field_or(message.getHeader(), 34, "0") or 0)))
        bmr.setField(qf.RefMsgType(field_or(message.getHeader(), 35)))
        bmr.setField(qf.BusinessRejectReason(0))  # FIX 380: 0 Other
        bmr.setField(qf.Text(refusal_text(exc)))
        gateway.send(bmr, key)

    # --- reads -----------------------------------------------------------------------------------------

    def _session(self, key: SessionKey) -> _Session:
        cached = self._sessions.get(key)
        if cached is None:
            row = fix_session_by_comp_ids(*key)
            user = row.user
            actor = Actor(name=user.get_username(), type=Actor.for_user(user, "fix").type, source=row.source, user_id=user.pk)
            cached = self._sessions[key] = _Session(id=row.pk, kind=row.kind, source=row.source, user=user, actor=actor)
        return cached

    def _order(self, session: _Session, client_order_id: str) -> Order | None:
        return fix_session_order(session.source, client_order_id)
