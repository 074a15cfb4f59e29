"""The one mapping between FIX 4.4 values and the OMS's words (``tests/fix/test_vocabulary.py`` pins it whole).

A FIX value with no entry here is one we do not trade (OrdType=P pegged, Side=5 sell short, ...): the order
is rejected with OrdRejReason 11 (unsupported order characteristic) and ``fix.unsupported_value``.
"""

from __future__ import annotations

from fix.error_codes import FixErrorCode
from oms.error_codes import OrderErrorCode, PermissionErrorCode, RiskErrorCode
from oms.models import OrderType, Side, TimeInForce
from oms.states import OrderStatus

SIDE = {"1": Side.BUY, "2": Side.SELL}  # FIX 54 Side
ORD_TYPE = {"1": OrderType.MARKET, "2": OrderType.LIMIT}  # FIX 40 OrdType
TIME_IN_FORCE = {"0": TimeInForce.DAY, "1": TimeInForce.GTC, "3": TimeInForce.IOC}  # FIX 59 TimeInForce (absent: day)

SIDE_OUT = {v: k for k, v in SIDE.items()}
ORD_TYPE_OUT = {v: k for k, v in ORD_TYPE.items()}
TIME_IN_FORCE_OUT = {v: k for k, v in TIME_IN_FORCE.items()}

# FIX 39 OrdStatus of each order status. DENIED (our risk said no) and REJECTED (a venue said no) are both
# 8 Rejected on the wire; Text (58) carries which rule.
ORD_STATUS = {
    OrderStatus.NEW: "A",  # received, not yet risk-checked: Pending New
    OrderStatus.PENDING_NEW: "A",  # accepted by risk, waiting for its start time
    OrderStatus.ACCEPTED: "0",
    OrderStatus.PARTIALLY_FILLED: "1",
    OrderStatus.FILLED: "2",
    OrderStatus.PENDING_CANCEL: "6",
    OrderStatus.CANCELLED: "4",
    OrderStatus.REJECTED: "8",
    OrderStatus.DENIED: "8",
    OrderStatus.EXPIRED: "C",
}

# FIX 103 OrdRejReason for our refusal codes; any other code is 99 Other.
UNKNOWN_SYMBOL, EXCEEDS_LIMIT, DUPLICATE_ORDER, UNSUPPORTED_CHARACTERISTIC = "1", "3", "6", "11"
INCORRECT_QUANTITY, UNKNOWN_ACCOUNT, BROKER_OPTION, OTHER = "13", "15", "0", "99"
ORD_REJ_REASON = {
    RiskErrorCode.MAX_QUANTITY: EXCEEDS_LIMIT,
    RiskErrorCode.MAX_NOTIONAL: EXCEEDS_LIMIT,
    RiskErrorCode.CREDIT_LIMIT: EXCEEDS_LIMIT,
    RiskErrorCode.PRICE_COLLAR: EXCEEDS_LIMIT,
    RiskErrorCode.MAX_CONTRACTS: EXCEEDS_LIMIT,
    RiskErrorCode.DELTA_LIMIT: EXCEEDS_LIMIT,
    RiskErrorCode.VEGA_LIMIT: EXCEEDS_LIMIT,
    RiskErrorCode.DUPLICATE_ORDER: DUPLICATE_ORDER,
    OrderErrorCode.DUPLICATE_CLIENT_ORDER_ID: DUPLICATE_ORDER,
    RiskErrorCode.KILL_SWITCH: BROKER_OPTION,
    RiskErrorCode.RESTRICTED_INSTRUMENT: BROKER_OPTION,
    PermissionErrorCode.PORTFOLIO_NOT_GRANTED: UNKNOWN_ACCOUNT,
    FixErrorCode.UNSUPPORTED_VALUE: UNSUPPORTED_CHARACTERISTIC,
}
# A validation failure is rejected for its first field: an unknown instrument is 1 Unknown symbol, and so on.
ORD_REJ_REASON_BY_FIELD = {"instrument": UNKNOWN_SYMBOL, "portfolio": UNKNOWN_ACCOUNT, "quantity": INCORRECT_QUANTITY}

# FIX 102 CxlRejReason
CXL_TOO_LATE, CXL_UNKNOWN_ORDER, CXL_BROKER_OPTION, CXL_DUPLICATE_CL_ORD_ID, CXL_OTHER = "0", "1", "2", "6", "99"
CXL_REJ_REASON = {
    OrderErrorCode.NOT_CANCELLABLE: CXL_TOO_LATE,
    OrderErrorCode.NOT_REPLACEABLE: CXL_TOO_LATE,
    OrderErrorCode.NOT_FOUND: CXL_UNKNOWN_ORDER,
    # An order worked in a parent takes only a reduction, never below what is at the venues (docs/fix.md).
    OrderErrorCode.REPLACE_IN_PARENT: CXL_BROKER_OPTION,
    OrderErrorCode.REPLACE_BELOW_WORKING: CXL_BROKER_OPTION,
    OrderErrorCode.DUPLICATE_CLIENT_ORDER_ID: CXL_DUPLICATE_CL_ORD_ID,
}
