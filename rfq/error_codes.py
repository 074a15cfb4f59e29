"""The stable error codes of the RFQ app, one enum per domain (see ``oms.error_codes``; values never change)."""

from __future__ import annotations

from enum import StrEnum


class RfqErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "rfq.illegal_transition"
    NOT_FOUND = "rfq.not_found"
    REFERENCE_NOT_FOUND = "rfq.reference_not_found"  # a provider answered a reference we never sent
    NOT_OPEN = "rfq.not_open"
    PARENT_NOT_WORKING = "rfq.parent_not_working"
    QUANTITY_UNAVAILABLE = "rfq.quantity_unavailable"
    BAD_QUANTITY = "rfq.bad_quantity"
    BAD_DIRECTION = "rfq.bad_direction"
    BAD_MODE = "rfq.bad_mode"
    BAD_EXECUTE_AT = "rfq.bad_execute_at"
    BAD_THRESHOLD = "rfq.bad_threshold"
    THRESHOLD_REQUIRED = "rfq.threshold_required"
    BAD_WINDOW = "rfq.bad_window"
    BAD_PROVIDERS = "rfq.bad_providers"
    BAD_SOURCE = "rfq.bad_source"
    ALREADY_EXECUTED = "rfq.already_executed"
    WINDOW_CLOSED = "rfq.window_closed"
    QUOTE_NOT_FOUND = "rfq.quote_not_found"
    QUOTE_EXPIRED = "rfq.quote_expired"
    QUOTE_THROUGH_LIMIT = "rfq.quote_through_limit"
    LAST_LOOK_REJECTED = "rfq.last_look_rejected"
    NOT_EXECUTED = "rfq.not_executed"


class QuoteErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "quote.illegal_transition"
    ALREADY_DECLINED = "quote.already_declined"
    MISSING_SIDE = "quote.missing_side"
    BAD_PRICE = "quote.bad_price"
    BAD_SIZE = "quote.bad_size"
    BAD_LIFE = "quote.bad_life"
    BAD_MID = "quote.bad_mid"
