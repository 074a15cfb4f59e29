"""The stable error codes of the OMS, one enum per domain (as Saleor keeps its error codes).

A code is part of the API contract: clients branch on it, and risk codes are stored on denied orders
(``Order.deny_code``). Add members, never rename or reuse a value; ``tests/oms/test_error_codes.py`` pins
every catalogue (this one and ``ems``/``rfq``/``tca`` ``error_codes``) and refuses a code written as a
literal. A ``StrEnum`` member is its value wherever a string goes (JSON, the database, comparisons).
"""

from __future__ import annotations

from enum import StrEnum


class ApiErrorCode(StrEnum):
    """The top-level code of a refusal by the API plumbing itself rather than by a domain rule."""

    VALIDATION_ERROR = "validation_error"  # the per-field problems are in ``errors``
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PARSE_ERROR = "parse_error"
    THROTTLED = "throttled"
    BAD_REQUEST = "bad_request"
    REQUEST_TOO_LARGE = "request_too_large"
    MALFORMED_MULTIPART = "malformed_multipart"  # a multipart body without a usable boundary (config.body_limits)
    TOO_MANY_PARTS = "too_many_parts"  # a multipart body of more parts than any form or upload has (config.body_limits)
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"
    ERROR = "error"  # a DRF exception we have no better code for


class FieldErrorCode(StrEnum):
    """The code of one problem with one input field (inside ``errors``); DRF's own codes come on top."""

    REQUIRED = "required"
    INVALID = "invalid"
    BLANK = "blank"
    INVALID_CHARACTERS = "invalid_characters"  # control characters or invalid Unicode
    INVALID_CHOICE = "invalid_choice"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN = "unknown"  # names a portfolio or an instrument we do not have
    NOT_ALLOWED = "not_allowed"
    TOO_MANY = "too_many"
    MAX_VALUE = "max_value"
    MAX_DECIMALS = "max_decimals"
    LOT_SIZE = "lot_size"
    TICK_SIZE = "tick_size"
    BEFORE_START = "before_start"


class AuthErrorCode(StrEnum):
    NOT_AUTHENTICATED = "auth.not_authenticated"
    FAILED = "auth.failed"
    INVALID_CREDENTIALS = "auth.invalid_credentials"
    LOCKED_OUT = "auth.locked_out"
    TOKEN_EXPIRED = "auth.token_expired"
    NO_TOKEN = "auth.no_token"


class PermissionErrorCode(StrEnum):
    DENIED = "permission.denied"
    NO_ROLE = "permission.no_role"
    READ_ONLY = "permission.read_only"
    COMPLIANCE_ONLY = "permission.compliance_only"
    TRADER_ONLY = "permission.trader_only"
    DESK_ONLY = "permission.desk_only"
    PORTFOLIO_NOT_GRANTED = "permission.portfolio_not_granted"


class OrderErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "order.illegal_transition"
    NOT_FOUND = "order.not_found"
    NOT_OPEN = "order.not_open"
    NOT_WORKING = "order.not_working"
    NOT_CANCELLABLE = "order.not_cancellable"
    NOT_PENDING_CANCEL = "order.not_pending_cancel"
    OVERFILL = "order.overfill"
    THROUGH_LIMIT = "order.through_limit"
    BAD_CLOSE_STATUS = "order.bad_close_status"
    DUPLICATE_CLIENT_ORDER_ID = "order.duplicate_client_order_id"
    NOT_REPLACEABLE = "order.not_replaceable"  # not open (filled, cancelled, denied, expired) or its cancel is pending
    # A parent order works it: only a reduction is possible there (its limit and schedule are the parent's).
    REPLACE_IN_PARENT = "order.replace_in_parent"
    # A reduction that would go below what is filled, or into what its parent has at the venues or an RFQ holds.
    REPLACE_BELOW_WORKING = "order.replace_below_working"


class RiskErrorCode(StrEnum):
    """Why pre-trade risk denied an order (stored on the order as ``deny_code``)."""

    RATE_LIMIT = "risk.rate_limit"
    RESTRICTED_INSTRUMENT = "risk.restricted_instrument"
    MAX_QUANTITY = "risk.max_quantity"
    MAX_NOTIONAL = "risk.max_notional"
    PRICE_COLLAR = "risk.price_collar"
    DUPLICATE_ORDER = "risk.duplicate_order"
    CREDIT_LIMIT = "risk.credit_limit"
    KILL_SWITCH = "risk.kill_switch"  # a kill switch is engaged on the order's scope
    MAX_CONTRACTS = "risk.max_contracts"  # an option order (or package leg) of more contracts than allowed
    DELTA_LIMIT = "risk.delta_limit"  # the portfolio's net delta in the underlying would pass its limit (and grow)
    VEGA_LIMIT = "risk.vega_limit"  # the portfolio's net vega in the underlying would pass its limit (and grow)


class FillErrorCode(StrEnum):
    """A fill (an execution report) that cannot be booked as sent."""

    BAD_EXEC_ID = "fill.bad_exec_id"
    BAD_QUANTITY = "fill.bad_quantity"
    BAD_PRICE = "fill.bad_price"
    BAD_SIDE = "fill.bad_side"
    BAD_LIQUIDITY = "fill.bad_liquidity"
    BAD_FEE = "fill.bad_fee"
    UNALLOCATABLE = "fill.unallocatable"


class AuditErrorCode(StrEnum):
    """Refusals of the audit trail's API (reading it; its verification reports ``AuditProblemCode``)."""

    XLSX_TOO_LARGE = "audit.xlsx_too_large"  # over EXPORT_XLSX_MAX_ROWS events: export CSV or narrow the search
    EVENT_NOT_FOUND = "audit.event_not_found"  # no audit event has this id (a proof download)
    NOT_SEALED = "audit.not_sealed"  # the event is not in the Merkle tree yet: retry within the seal delay
    PROOF_UNAVAILABLE = "audit.proof_unavailable"  # a subtree the proof needs is gone from the store (verification says more)


class AuditProblemCode(StrEnum):
    """What verifying the audit trail found (``Problem.code``)."""

    TAIL_TRUNCATED = "audit.tail_truncated"
    TAIL_REWRITTEN = "audit.tail_rewritten"
    EVENT_MISSING = "audit.event_missing"
    LINK_BROKEN = "audit.link_broken"
    EVENT_ALTERED = "audit.event_altered"
    CHECKPOINT_FORGED = "audit.checkpoint_forged"
    CHECKPOINT_MISSING = "audit.checkpoint_missing"
    ORPHAN_OBJECT = "audit.orphan_object"
    HIGH_WATER_LOWERED = "audit.high_water_lowered"
    # The Merkle tree (oms.services.audit_tree_verification).
    LEAF_MISSING = "audit.leaf_missing"  # a leaf index of the tree has no leaf row
    LEAF_EVENT_MISSING = "audit.leaf_event_missing"  # a leaf seals an event that is gone
    LEAF_ALTERED = "audit.leaf_altered"  # a sealed event no longer hashes to its leaf
    TREE_NODE_MISSING = "audit.tree_node_missing"
    TREE_NODE_ALTERED = "audit.tree_node_altered"
    TREE_HEAD_MISMATCH = "audit.tree_head_mismatch"  # the stored tree does not hash to a signed head's root
    TREE_HEAD_FORGED = "audit.tree_head_forged"  # a head's signature does not hold (or its key is unknown)
    TREE_HEAD_MISSING = "audit.tree_head_missing"  # a head between two others, or the newest, is gone
    EVENT_UNSEALED = "audit.event_unsealed"  # an event still unsealed past AUDIT_SEAL_BOUND_S
