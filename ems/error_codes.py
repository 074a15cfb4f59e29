"""The stable error codes of the EMS, one enum per domain (see ``oms.error_codes``; values never change)."""

from __future__ import annotations

from enum import StrEnum


class ParentOrderErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "parent_order.illegal_transition"
    CONTROL_ILLEGAL_TRANSITION = "parent_control.illegal_transition"  # pause / resume / halt
    NOT_FOUND = "parent_order.not_found"
    NOT_OPEN = "parent_order.not_open"
    NOT_FILLED = "parent_order.not_filled"
    CHILDREN_OPEN = "parent_order.children_open"
    OVERFILL = "parent_order.overfill"
    BAD_CLOSE_STATUS = "parent_order.bad_close_status"
    BAD_STRATEGY = "parent_order.bad_strategy"
    BAD_URGENCY = "parent_order.bad_urgency"
    CONSTITUENT_NOT_FOUND = "constituent.not_found"  # the order is in no parent
    NOT_CARRIED = "parent_order.not_carried"  # nothing of it may go on the next market day (not GTC, nothing left)


class ChildOrderErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "child_order.illegal_transition"
    NOT_FOUND = "child_order.not_found"
    OVERFILL = "child_order.overfill"
    BAD_REPORT_KIND = "child_report.bad_kind"
    VENUE_NOT_FOUND = "venue.not_found"


class InternalCrossErrorCode(StrEnum):
    EMPTY = "internal_cross.empty"
    UNBALANCED = "internal_cross.unbalanced"
    BAD_PRICE = "internal_cross.bad_price"
    BAD_QUANTITY = "internal_cross.bad_quantity"
    BAD_LEG = "internal_cross.bad_leg"
    DUPLICATE_ORDER = "internal_cross.duplicate_order"


class KillSwitchErrorCode(StrEnum):
    BAD_SCOPE = "kill_switch.bad_scope"
    UNKNOWN_TARGET = "kill_switch.unknown_target"  # no such portfolio or instrument: nothing halted
    NOT_ENGAGED = "kill_switch.not_engaged"  # lifting a kill switch that is not engaged on that scope
