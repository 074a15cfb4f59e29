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

import quickfix as qf
import quickfix44 as fix44
from django.db import transaction

from fix import vocabulary as v
from fix.engine import Gateway, SessionKey, field_or
from fix.error_codes import FixErrorCode
from fix.models import FixOrderId, FixReport, SessionKind
from fix.outbox import ReportSender, Request, answering, reports_write, written_here
from fix.refusals import refusal_text
from fix.reports import OrderFacts, report_fields, report_message, transact_time
from fix.selectors import fix_session_by_comp_ids, fix_session_order
from oms.error_codes import FieldErrorCode, OrderErrorCode
from oms.errors import Conflict, DomainError, NotFound, ValidationFailed
from oms.models import Order
from oms.order_reports import OrderReport, ReportKind
from oms.roles import Actor
from oms.services import order_cancel, order_replace, orders_submit
from oms.services.order_parse import CLIENT_ORDER_ID_RE
from oms.states import OrderStatus

log = logging.getLogger(__name__)

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


def _quantity_text(quantity: str) -> str:
    # FIX Qty is a float type: "100" and "100.0" are the same whole number of shares; "100.5" is not whole.
    if "." in quantity and quantity.rstrip("0").endswith("."):
        return quantity.rstrip("0").rstrip(".")
    return quantity


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
    quantity = _quantity_text(field_or(message, 38))
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
    """An ExecutionReport sent at once (a status, a resend, a rejection of what created nothing): about ``order``
    in its status now, or, when it was never created, about the request ``message`` (in ``ord_status``)."""
    if order is not None:
        return report_message(report_fields(
            facts=OrderFacts.of(order, order.portfolio.code, order.instrument.symbol), exec_id=exec_id, exec_type=exec_type,
            status=order.status, cl_ord_id=field_or(message, 11) or order.client_order_id, cum_qty=order.filled_quantity or 0,
            avg_px=order.avg_price, text=text, rej_reason=rej_reason))
    er = fix44.ExecutionReport()
    for tag, value in ((37, "NONE"), (17, exec_id), (150, exec_type), (39, ord_status), (11, field_or(message, 11) or "NONE")):
        er.setField(qf.StringField(tag, value))
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
    er.setField(qf.StringField(60, transact_time()))
    return er


def _msg_type(message: qf.Message) -> str:
    return field_or(message.getHeader(), 35)  # FIX 35 MsgType


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:20]}"


class OrderEntry:
    """The order-entry application (``fix.engine.Handler``). Reports of changes leave from the outbox
    (``fix.outbox``): the services write them in their transaction, ``idle`` sends them."""

    # NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest, OrderStatusRequest
    msg_types = frozenset({"D", "F", "G", "H"})

    def __init__(self):
        self._sessions: dict[SessionKey, _Session] = {}
        self._sender = ReportSender()
        self._fresh = False  # reports were written since the last send

    def on_logon(self, gateway: Gateway, key: SessionKey) -> None:
        self._sessions.pop(key, None)  # its user or kind may have changed: read it again

    def idle(self, gateway: Gateway) -> None:
        # After every unit of work: the reports its transactions wrote leave together, one query and one
        # UPDATE for all the sessions' runs of the cycle (four sessions at once: a pair per cycle, not per run).
        fresh, self._fresh = self._fresh, False
        self._sender.send_pending(gateway, fresh=fresh)

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
                {"F": self._cancel, "G": self._replace, "H": self._status}[_msg_type(messages[0])](gateway, key, session, messages[0])
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
        written_here()  # forget what earlier messages wrote
        results = list(orders_submit(user=session.user, actor=session.actor, items=items) if items else [])
        # The acknowledgement of an order recorded now (New, or Rejected by our risk) was written to the outbox in
        # the intake's transaction; one recorded before (a resent NewOrderSingle) is answered again with the same
        # report, sent at once, as is the rejection of a message that created nothing.
        now = {exec_id for sid, exec_id in written_here() if sid == session.id}
        self._fresh = True

        def answered_before(exec_id: str) -> bool:
            # Written by this intake: the outbox sends it. Else the order was taken before (a resend), and its
            # acknowledgement too (if that one is still unsent, the client gets it twice, the same ExecID).
            return exec_id not in now

        results = iter(results)
        for index, message in enumerate(messages):
            if index in refused:
                self._reject(gateway, key, message, None, refused[index])
                continue
            result = next(results)
            order = result.order
            if result.outcome == "existing" and answered_before(f"N{order.pk}"):
                gateway.send(execution_report(exec_type=v.ORD_STATUS[order.status] if v.ORD_STATUS[order.status] in ("0", "A") else "0",
                                              ord_status=v.ORD_STATUS[order.status], message=message, order=order,
                                              exec_id=f"N{order.pk}"), key)
            elif result.outcome == "denied" and answered_before(f"R{order.pk}"):
                self._reject(gateway, key, message, order, result.error)
            elif result.outcome not in ("created", "existing", "denied"):
                self._reject(gateway, key, message, order, result.error)

    def _cancel(self, gateway: Gateway, key: SessionKey, session: _Session, message: qf.Message) -> None:
        orig = field_or(message, 41)  # FIX 41 OrigClOrdID
        order = self._order(session, orig)
        try:
            if order is None:
                raise NotFound(OrderErrorCode.NOT_FOUND, f"No order with ClOrdID {orig!r} on this session")
            with answering(Request(session.id, order.pk, field_or(message, 11), orig)):
                order_cancel(user=session.user, actor=session.actor, order_id=order.pk)
        except DomainError as exc:
            self._cancel_reject(gateway, key, message, order, exc, response_to="1")
            return
        self._fresh = True

    def _replace(self, gateway: Gateway, key: SessionKey, session: _Session, message: qf.Message) -> None:
        orig, new = field_or(message, 41), field_or(message, 11)
        order = self._order(session, orig)
        try:
            if order is None:
                raise NotFound(OrderErrorCode.NOT_FOUND, f"No order with ClOrdID {orig!r} on this session")
            if not CLIENT_ORDER_ID_RE.fullmatch(new):
                raise ValidationFailed({"client_order_id": [{"code": FieldErrorCode.INVALID, "detail": "ClOrdID(11): 1-64 letters, digits, '.', '_', ':' or '-'"}]})
            if new != orig and self._order(session, new) is not None:
                raise Conflict(OrderErrorCode.DUPLICATE_CLIENT_ORDER_ID, f"ClOrdID {new!r} was already used on this session", field="client_order_id")
            refusal = None
            with transaction.atomic(), answering(Request(session.id, order.pk, new, orig)):
                # The amend, its reports and the new ClOrdID in one transaction. A refusal is caught inside it: the
                # service rolled its own savepoint back, and what it audited (a risk denial) commits.
                try:
                    order = order_replace(user=session.user, actor=session.actor, order_id=order.pk,
                                          quantity=_quantity_text(field_or(message, 38)) or None, limit_price=field_or(message, 44) or None)
                except DomainError as exc:
                    refusal = exc
                else:
                    if new != orig:
                        FixOrderId.objects.create(session_id=session.id, cl_ord_id=new, order=order, orig_cl_ord_id=orig)
                    if not FixReport.objects.filter(session_id=session.id, order=order, exec_type="5", cl_ord_id=new).exists():
                        reports_write([OrderReport(ReportKind.REPLACED, order)])  # nothing changed: Replaced all the same
            if refusal is not None:
                raise refusal
        except DomainError as exc:
            self._cancel_reject(gateway, key, message, order, exc, response_to="2")
            return
        self._fresh = True

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
        # Anything else (a ClOrdID used for other content, a message that created nothing) is about the request.
        denied = order is not None and order.status == OrderStatus.DENIED and order.client_order_id == field_or(message, 11)
        exec_id = f"R{order.pk}" if denied else _new_id("X")
        gateway.send(execution_report(exec_type="8", ord_status="8", message=message,
                                      order=order if exec_id.startswith("R") else None, exec_id=exec_id,
                                      text=refusal_text(exc), rej_reason=ord_rej_reason(exc)), key)

    def _cancel_reject(self, gateway: Gateway, key: SessionKey, message: qf.Message, order: Order | None, exc: DomainError,
                       *, response_to: str) -> None:
        if order is not None:
            order.refresh_from_db(fields=["status"])
        reject = fix44.OrderCancelReject()
        reject.setField(qf.OrderID(str(order.pk) if order else "NONE"))
        reject.setField(qf.ClOrdID(field_or(message, 11) or "NONE"))
        reject.setField(qf.OrigClOrdID(field_or(message, 41) or "NONE"))
        reject.setField(qf.OrdStatus(v.ORD_STATUS[order.status] if order else "8"))
        reject.setField(qf.CxlRejResponseTo(response_to))  # FIX 434: 1 to an OrderCancelRequest, 2 to a CancelReplaceRequest
        reject.setField(qf.CxlRejReason(int(v.CXL_REJ_REASON.get(exc.code, v.CXL_OTHER))))
        reject.setField(qf.Text(refusal_text(exc)))
        gateway.send(reject, key)

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
        if not CLIENT_ORDER_ID_RE.fullmatch(client_order_id):
            return None  # no order has such an id (intake and replace refuse it), and a NUL cannot go in a query
        return fix_session_order(session.id, session.source, client_order_id)
