"""The stable error codes of TCA, one enum per domain (see ``oms.error_codes``; values never change)."""

from __future__ import annotations

from enum import StrEnum


class TcaErrorCode(StrEnum):
    BAD_FILTER = "tca.bad_filter"
    BAD_GROUP_BY = "tca.bad_group_by"
    BAD_STRATEGY = "tca.bad_strategy"
    BAD_PARAMS = "tca.bad_params"
    PARENT_NOT_CLOSED = "tca.parent_not_closed"
    NOTHING_EXECUTED = "tca.nothing_executed"  # 409: every order of the parent was cancelled before a fill
    WHAT_IF_TOO_LARGE = "tca.what_if_too_large"  # refused up front: the estimate passes the budget (field named)
    WHAT_IF_OVER_BUDGET = "tca.what_if_over_budget"  # stopped: its events or seconds were spent
    WHAT_IF_CANCELLED = "tca.what_if_cancelled"  # stopped: the client went away
    WHAT_IF_BUSY = "tca.what_if_busy"  # 429: the user's what-ifs already running
    EXPORT_TOO_LARGE = "tca.export_too_large"
    XLSX_TOO_LARGE = "tca.xlsx_too_large"  # over EXPORT_XLSX_MAX_ROWS: use CSV or narrow the set
    IMPORT_NOT_PERMITTED = "tca.import_not_permitted"
    IMPORT_EMPTY = "tca.import_empty"
    IMPORT_TOO_LARGE = "tca.import_too_large"
    IMPORT_ENCODING = "tca.import_encoding"
    IMPORT_BAD_HEADER = "tca.import_bad_header"
    IMPORT_INVALID = "tca.import_invalid"  # the rows' problems are in ``errors`` (ImportRowErrorCode)


class ImportRowErrorCode(StrEnum):
    """One problem with one row of an imported CSV (a missing value is ``FieldErrorCode.REQUIRED``)."""

    COLUMN_COUNT = "column_count"
    NOT_A_NUMBER = "not_a_number"
    NOT_INTEGER = "not_integer"
    NOT_POSITIVE = "not_positive"
    TOO_LARGE = "too_large"
    TOO_MANY_DECIMALS = "too_many_decimals"
    TOO_LONG = "too_long"
    BAD_TIMESTAMP = "bad_timestamp"
    TIMESTAMP_NO_OFFSET = "timestamp_no_offset"
    BAD_SIDE = "bad_side"
    OUT_OF_RANGE = "out_of_range"
    TOTAL_OUT_OF_RANGE = "total_out_of_range"  # the set's summed quantity or slippage passes its column
    NUL_BYTE = "nul_byte"
    BAD_CSV = "bad_csv"


class ReconciliationBreakCode(StrEnum):
    """A break the reconciliation found (see ``tca.services.reconciliation``)."""

    PARENT_FILL_QTY = "recon.parent_fill_qty"
    PARENT_ALLOC_QTY = "recon.parent_alloc_qty"
    PARENT_ALLOC_VALUE = "recon.parent_alloc_value"
    FILL_ALLOC_QTY = "recon.fill_alloc_qty"
    ORDER_FILLED_QTY = "recon.order_filled_qty"
    ORDER_AVG_PRICE = "recon.order_avg_price"
    CONSTITUENT_ALLOC_QTY = "recon.constituent_alloc_qty"
    CROSS_UNBALANCED = "recon.cross_unbalanced"
    CROSS_UNALLOCATED = "recon.cross_unallocated"
