"""The catalogue of audit event types (as Zulip keeps ``AuditLogEventType``): every ``event_type`` the
audit trail is written with, for every app, named ``<object_type>.<what happened>``.

The values are inside the hash chain and are what compliance filters on: add members, never rename one.
``tests/oms/test_audit_events.py`` pins the list. Status-driven events are named after the status they
record in lower case (``order.cancelled``, ``child_order.partially_filled``, ``quote.expired``).
"""

from __future__ import annotations

from enum import StrEnum


class AuditEventType(StrEnum):
    # --- sign-in and API tokens (object_type "user")
    AUTH_LOGIN = "auth.login"
    AUTH_LOGOUT = "auth.logout"
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_LOCKED_OUT = "auth.locked_out"
    AUTH_LOCKOUT_REFUSED = "auth.lockout_refused"
    AUTH_THROTTLED = "auth.throttled"
    AUTH_TOKEN_ISSUED = "auth.token_issued"
    AUTH_TOKEN_ROTATED = "auth.token_rotated"
    AUTH_TOKEN_REVOKED = "auth.token_revoked"

    # --- client orders (oms)
    ORDER_RECEIVED = "order.received"  # creation
    ORDER_ACCEPTED = "order.accepted"
    ORDER_DENIED = "order.denied"
    ORDER_AGGREGATED = "order.aggregated"  # joined a parent order
    ORDER_PARTIALLY_FILLED = "order.partially_filled"
    ORDER_FILLED = "order.filled"
    ORDER_CANCEL_REQUESTED = "order.cancel_requested"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_EXPIRED = "order.expired"
    ORDER_REPLACED = "order.replaced"  # cancel/replace: a new quantity and/or limit price
    ORDER_REPLACE_DENIED = "order.replace_denied"  # pre-trade risk refused the replace; the order is unchanged
    POSITION_UPDATED = "position.updated"

    # --- parent orders (ems)
    PARENT_ORDER_CREATED = "parent_order.created"  # creation
    PARENT_ORDER_PLAN_STARTED = "parent_order.plan_started"
    PARENT_ORDER_STRATEGY_CHANGED = "parent_order.strategy_changed"
    PARENT_ORDER_PAUSED = "parent_order.paused"
    PARENT_ORDER_RESUMED = "parent_order.resumed"
    PARENT_ORDER_HALTED = "parent_order.halted"
    PARENT_ORDER_PARTIALLY_FILLED = "parent_order.partially_filled"
    PARENT_ORDER_FILLED = "parent_order.filled"
    PARENT_ORDER_CANCEL_REQUESTED = "parent_order.cancel_requested"
    PARENT_ORDER_CANCELLED = "parent_order.cancelled"
    PARENT_ORDER_EXPIRED = "parent_order.expired"
    PARENT_ORDER_DONE_FOR_DAY = "parent_order.done_for_day"  # a GTC parent at the close: its orders carry over
    PARENT_ORDER_CARRIED_OVER = "parent_order.carried_over"  # creation: the next day's parent of GTC orders
    PARENT_ORDER_REDUCED = "parent_order.reduced"  # a constituent left it
    PARENT_ORDER_RESERVED = "parent_order.reserved"  # an RFQ holds part of it
    PARENT_ORDER_RELEASED = "parent_order.released"
    KILL_SWITCH_ENGAGED = "kill_switch.engaged"
    KILL_SWITCH_LIFTED = "kill_switch.lifted"

    # --- child orders, fills, internal crosses (ems)
    CHILD_ORDER_PLACED = "child_order.placed"  # creation
    CHILD_ORDER_ACKED = "child_order.acked"
    CHILD_ORDER_PARTIALLY_FILLED = "child_order.partially_filled"
    CHILD_ORDER_FILLED = "child_order.filled"
    CHILD_ORDER_CANCEL_REQUESTED = "child_order.cancel_requested"
    CHILD_ORDER_CANCEL_REJECTED = "child_order.cancel_rejected"
    CHILD_ORDER_CANCELLED = "child_order.cancelled"
    CHILD_ORDER_REJECTED = "child_order.rejected"
    CHILD_ORDER_EXPIRED = "child_order.expired"
    FILL_BOOKED = "fill.booked"  # creation
    INTERNAL_CROSS_BOOKED = "internal_cross.booked"  # creation

    # --- requests for quote and quotes (rfq)
    RFQ_CREATED = "rfq.created"  # creation
    RFQ_SENT = "rfq.sent"
    RFQ_QUOTING = "rfq.quoting"
    RFQ_DECLINED = "rfq.declined"  # one provider declined
    RFQ_EXECUTED = "rfq.executed"
    RFQ_EXPIRED = "rfq.expired"
    RFQ_CANCELLED = "rfq.cancelled"
    RFQ_REJECTED = "rfq.rejected"
    RFQ_PACKAGE_EXECUTED = "rfq.package_executed"  # every leg of a package booked in one transaction: names each leg's fill
    QUOTE_RECEIVED = "quote.received"  # creation
    QUOTE_REFUSED = "quote.refused"  # creation: it arrived after the window
    QUOTE_ACCEPTED = "quote.accepted"
    QUOTE_REJECTED = "quote.rejected"  # last look said no
    QUOTE_EXPIRED = "quote.expired"

    # --- TCA (tca)
    TCA_RECONCILIATION = "tca.reconciliation"  # creation
    TCA_IMPORT = "tca.import"  # creation
    TCA_WHAT_IF = "tca.what_if"  # creation

    # --- FIX sessions (fix)
    FIX_SESSION_ADDED = "fix_session.added"  # creation
    FIX_SESSION_ENABLED = "fix_session.enabled"
    FIX_SESSION_DISABLED = "fix_session.disabled"
    FIX_SESSION_RESET = "fix_session.reset"  # sequence numbers back to 1, the message store emptied


E = AuditEventType

# The events that create each audited object: the audit verifier finds rows that have none of them.
CREATION_EVENTS: dict[str, tuple[AuditEventType, ...]] = {
    "order": (E.ORDER_RECEIVED,),
    "parent_order": (E.PARENT_ORDER_CREATED, E.PARENT_ORDER_CARRIED_OVER),
    "child_order": (E.CHILD_ORDER_PLACED,),
    "fill": (E.FILL_BOOKED,),
    "internal_cross": (E.INTERNAL_CROSS_BOOKED,),
    "rfq": (E.RFQ_CREATED,),
    "quote": (E.QUOTE_RECEIVED, E.QUOTE_REFUSED),
    "reconciliation": (E.TCA_RECONCILIATION,),
    "import_set": (E.TCA_IMPORT,),
    "what_if": (E.TCA_WHAT_IF,),
    "fix_session": (E.FIX_SESSION_ADDED,),
}

# What a person reads for each event type (the audit page's select and column, the exports): one line per
# member, in the desk's words. ``tests/oms/test_audit_events.py`` checks every member has one.
LABELS: dict[AuditEventType, str] = {
    E.AUTH_LOGIN: "Signed in",
    E.AUTH_LOGOUT: "Signed out",
    E.AUTH_LOGIN_FAILED: "Sign-in failed",
    E.AUTH_LOCKED_OUT: "Locked out after failed sign-ins",
    E.AUTH_LOCKOUT_REFUSED: "Sign-in refused while locked out",
    E.AUTH_THROTTLED: "Sign-in throttled",
    E.AUTH_TOKEN_ISSUED: "API token issued",
    E.AUTH_TOKEN_ROTATED: "API token rotated",
    E.AUTH_TOKEN_REVOKED: "API token revoked",
    E.ORDER_RECEIVED: "Order received",
    E.ORDER_ACCEPTED: "Order accepted",
    E.ORDER_DENIED: "Order denied by risk",
    E.ORDER_AGGREGATED: "Order joined a parent order",
    E.ORDER_PARTIALLY_FILLED: "Order partially filled",
    E.ORDER_FILLED: "Order filled",
    E.ORDER_CANCEL_REQUESTED: "Order cancel requested",
    E.ORDER_CANCELLED: "Order cancelled",
    E.ORDER_EXPIRED: "Order expired",
    E.ORDER_REPLACED: "Order amended (cancel/replace)",
    E.ORDER_REPLACE_DENIED: "Order amend denied by risk",
    E.POSITION_UPDATED: "Position updated",
    E.PARENT_ORDER_CREATED: "Parent order created",
    E.PARENT_ORDER_PLAN_STARTED: "Parent order plan started",
    E.PARENT_ORDER_STRATEGY_CHANGED: "Parent order strategy changed",
    E.PARENT_ORDER_PAUSED: "Parent order paused",
    E.PARENT_ORDER_RESUMED: "Parent order resumed",
    E.PARENT_ORDER_HALTED: "Parent order halted (kill switch)",
    E.PARENT_ORDER_PARTIALLY_FILLED: "Parent order partially filled",
    E.PARENT_ORDER_FILLED: "Parent order filled",
    E.PARENT_ORDER_CANCEL_REQUESTED: "Parent order cancel requested",
    E.PARENT_ORDER_CANCELLED: "Parent order cancelled",
    E.PARENT_ORDER_EXPIRED: "Parent order expired",
    E.PARENT_ORDER_DONE_FOR_DAY: "Parent order done for the day (GTC orders carry over)",
    E.PARENT_ORDER_CARRIED_OVER: "Parent order carried over to a new day",
    E.PARENT_ORDER_REDUCED: "Parent order reduced (an order left it)",
    E.PARENT_ORDER_RESERVED: "Parent order quantity reserved for an RFQ",
    E.PARENT_ORDER_RELEASED: "Parent order RFQ reservation released",
    E.KILL_SWITCH_ENGAGED: "Kill switch engaged",
    E.KILL_SWITCH_LIFTED: "Kill switch lifted",
    E.CHILD_ORDER_PLACED: "Child order sent to a venue",
    E.CHILD_ORDER_ACKED: "Child order acknowledged by the venue",
    E.CHILD_ORDER_PARTIALLY_FILLED: "Child order partially filled",
    E.CHILD_ORDER_FILLED: "Child order filled",
    E.CHILD_ORDER_CANCEL_REQUESTED: "Child order cancel requested",
    E.CHILD_ORDER_CANCEL_REJECTED: "Child order cancel rejected by the venue",
    E.CHILD_ORDER_CANCELLED: "Child order cancelled",
    E.CHILD_ORDER_REJECTED: "Child order rejected by the venue",
    E.CHILD_ORDER_EXPIRED: "Child order expired",
    E.FILL_BOOKED: "Fill booked",
    E.INTERNAL_CROSS_BOOKED: "Internal cross booked",
    E.RFQ_CREATED: "RFQ created",
    E.RFQ_SENT: "RFQ sent to dealers",
    E.RFQ_QUOTING: "RFQ quoting",
    E.RFQ_DECLINED: "RFQ declined by a dealer",
    E.RFQ_EXECUTED: "RFQ executed",
    E.RFQ_EXPIRED: "RFQ expired",
    E.RFQ_CANCELLED: "RFQ cancelled",
    E.RFQ_REJECTED: "RFQ rejected",
    E.RFQ_PACKAGE_EXECUTED: "RFQ package executed (every leg)",
    E.QUOTE_RECEIVED: "Dealer quote received",
    E.QUOTE_REFUSED: "Dealer quote refused (late)",
    E.QUOTE_ACCEPTED: "Dealer quote accepted",
    E.QUOTE_REJECTED: "Dealer quote rejected (last look)",
    E.QUOTE_EXPIRED: "Dealer quote expired",
    E.TCA_RECONCILIATION: "TCA reconciliation run",
    E.TCA_IMPORT: "TCA execution file imported",
    E.TCA_WHAT_IF: "TCA what-if replay",
    E.FIX_SESSION_ADDED: "FIX session added",
    E.FIX_SESSION_ENABLED: "FIX session enabled",
    E.FIX_SESSION_DISABLED: "FIX session disabled",
    E.FIX_SESSION_RESET: "FIX session sequence numbers reset",
}


def label(event_type: str) -> str:
    """The readable name of an event type (the code itself for a value the catalogue does not know)."""
    return LABELS.get(event_type, event_type)  # a StrEnum member hashes as its value


def matching(text: str) -> list[str]:
    """The event types whose label or code contains ``text`` (case-insensitive): the audit search in words."""
    needle = text.strip().casefold()
    return [e.value for e in AuditEventType if needle in LABELS[e].casefold() or needle in e.value]
