"""The stable error codes of the FIX gateway (see ``oms.error_codes`` for the rules: add, never rename).

On the wire they travel in Text (58) of a Reject, an ExecutionReport Rejected or a BusinessMessageReject,
next to the FIX reason code (OrdRejReason 103, BusinessRejectReason 380) that FIX clients branch on.
"""

from __future__ import annotations

from enum import StrEnum


class FixErrorCode(StrEnum):
    SESSION_EXISTS = "fix.session_exists"  # these two CompIDs already name a session
    SESSION_NOT_FOUND = "fix.session_not_found"
    BAD_COMP_ID = "fix.bad_comp_id"  # not 1-64 letters, digits, '.', '_' or '-'
    USER_NOT_FOUND = "fix.user_not_found"
    UNSUPPORTED_MESSAGE = "fix.unsupported_message"  # a message type the session does not take (35=j)
    UNSUPPORTED_VALUE = "fix.unsupported_value"  # a valid FIX value we do not trade, e.g. OrdType(40)=P pegged
    NOT_ORDER_ENTRY = "fix.not_order_entry"  # an order on a drop-copy session
    INTERNAL_ERROR = "fix.internal_error"  # our handler failed; the message was answered, nothing was applied
