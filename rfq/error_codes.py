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
    # A multi-leg package (POST /api/rfqs/ with legs): each refusal names the leg's field, e.g. "legs[2].ratio".
    BAD_LEGS = "rfq.bad_legs"  # legs is not a list of objects {instrument, side, ratio}
    NO_LEGS = "rfq.no_legs"
    TOO_MANY_LEGS = "rfq.too_many_legs"
    LEG_UNKNOWN_INSTRUMENT = "rfq.leg_unknown_instrument"
    LEG_BAD_SIDE = "rfq.leg_bad_side"
    LEG_BAD_RATIO = "rfq.leg_bad_ratio"  # not a whole number >= 1
    LEG_EXPIRED = "rfq.leg_expired"  # an option past its expiry (or retired)
    LEG_DUPLICATE = "rfq.leg_duplicate"  # the same instrument twice
    LEG_NO_MARKET = "rfq.leg_no_market"  # no model value for a leg (an option's underlying has no price)
    BAD_PORTFOLIO = "rfq.bad_portfolio"
    NO_PROVIDERS = "rfq.no_providers"  # no active provider quotes every leg
    PACKAGE_UNSPLITTABLE = "rfq.package_unsplittable"  # a net price that cannot be split into positive leg prices


class QuoteErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "quote.illegal_transition"
    ALREADY_DECLINED = "quote.already_declined"
    MISSING_SIDE = "quote.missing_side"
    BAD_PRICE = "quote.bad_price"
    BAD_SIZE = "quote.bad_size"
    BAD_LIFE = "quote.bad_life"
    BAD_MID = "quote.bad_mid"
    BAD_LEG_VALUES = "quote.bad_leg_values"  # a package quote without its legs' model values
