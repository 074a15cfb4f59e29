"""Exports of the TCA reports and of the underlying fills, written by ``oms.exports`` (CSV and XLSX, the
tables and their formats described there). The rows and tables of each report live here: a fill with its
metrics and its slippage against the parent's arrival and interval VWAP (:func:`fill_row`, also the fills
API's row), and the tables of the summary, best execution, an imported set and a parent's report, in the
columns of the API's output shapes (``tca.api.serializers``).

One sign convention (``tca.measures``): slippage, markouts and the implementation-shortfall components are
positive when better for us than the benchmark; a cost is negative. Every signed column says so in its
header (:func:`oms.exports.column_label`: ``slippage_arrival_bps (+ = better)``), so a file read alone reads right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ems.models import Fill
from ems.selectors import own_fee
from oms.exports import CONTENT_TYPES, CSV, CSV_CHUNK_ROWS, FORMATS, XLSX, Table, csv_bytes, export_response, render, xlsx_bytes
from tca.api import serializers as shapes
from tca.measures import MARKOUT_HORIZONS_S, slippage_bps

__all__ = ["CONTENT_TYPES", "CSV", "CSV_CHUNK_ROWS", "FORMATS", "XLSX", "Table", "csv_bytes", "export_response", "render", "xlsx_bytes"]


# --- the reports as tables ------------------------------------------------------------------------------


def _row(d: dict, columns: Sequence[str]) -> list:
    return [d.get(c) for c in columns]


def rows_table(title: str, rows: Iterable[dict], columns: Sequence[str]) -> Table:
    """A table of ``columns`` from dict rows (a missing key is an empty cell)."""
    return Table(title, list(columns), (_row(r, columns) for r in rows))


# --- the reports' rows and tables (columns: the API's output shapes, tca.api.serializers) ----------------

FILL_COLUMNS = [
    "id", "exec_id", "parent", "child", "instrument", "venue", "side", "quantity", "price", "liquidity", "fee", "market_day",
    "market_time_us", "executed_at", "mid", "spread_bps", "effective_spread_bps", "spread_capture", "slippage_arrival_bps",
    "slippage_vwap_bps", "markout_1s_bps", "markout_10s_bps", "markout_60s_bps", "markout_300s_bps",
]


def _metric(fill: Fill, name: str):
    tca = getattr(fill, "tca", None) if hasattr(fill, "tca") else None
    return getattr(tca, name, None) if tca is not None else None


def fill_row(fill: Fill) -> dict:
    """One fill with its TCA metrics (null until its parent is analysed), as the API and the exports show it."""
    parent = fill.parent
    parent_tca = getattr(parent, "tca", None) if parent is not None and hasattr(parent, "tca") else None
    price = fill.price
    arrival = parent.arrival_price if parent is not None else None
    vwap = parent_tca.interval_vwap if parent_tca is not None else None
    return {
        "id": fill.pk, "exec_id": fill.exec_id, "parent": fill.parent_id, "child": fill.child_id,
        "instrument": fill.instrument.symbol, "venue": fill.venue.code, "side": fill.side,
        "quantity": getattr(fill, "own_quantity", fill.quantity),  # a PM's: what was allocated to them (own_fills)
        "price": price, "liquidity": fill.liquidity, "fee": own_fee(fill), "market_day": fill.market_day,
        "market_time_us": fill.market_time_us, "executed_at": fill.executed_at,
        "mid": _metric(fill, "mid"), "spread_bps": _metric(fill, "spread_bps"),
        "effective_spread_bps": _metric(fill, "effective_spread_bps"), "spread_capture": _metric(fill, "spread_capture"),
        "slippage_arrival_bps": _slip(fill.side, price, arrival), "slippage_vwap_bps": _slip(fill.side, price, vwap),
        **{f"markout_{h}s_bps": _metric(fill, f"markout_{h}s_bps") for h in MARKOUT_HORIZONS_S},
    }


def _slip(side: str, price, benchmark) -> Decimal | None:
    """The fill's slippage against ``benchmark`` in bps, 4 decimals (None without a benchmark)."""
    if benchmark is None or not benchmark > 0:
        return None
    return Decimal(str(round(slippage_bps(side, float(price), float(benchmark)), 4)))



SUMMARY_COLUMNS = list(shapes.SummaryRowSerializer().fields)
BEST_EXECUTION_COLUMNS = list(shapes.BestExecutionRowSerializer().fields)
IMPORT_COLUMNS = list(shapes.ImportRowSerializer().fields)


def summary_table(rows: list[dict], group_by: str) -> Table:
    columns = [group_by, *SUMMARY_COLUMNS[1:]]
    return Table(f"summary by {group_by}", columns, ([r["key"], *[r.get(c) for c in SUMMARY_COLUMNS[1:]]] for r in rows))


def best_execution_table(rows: list[dict]) -> Table:
    return rows_table("best execution", rows, BEST_EXECUTION_COLUMNS)


def fills_table(fills) -> Table:
    return rows_table("fills", (fill_row(f) for f in fills), FILL_COLUMNS)


def import_set_table(report: dict) -> Table:
    """The rows, then a TOTAL line (quantity-weighted averages) in the same columns."""
    t = report["totals"]
    total = {"child_order_id": "TOTAL", "quantity": t["quantity"], "price": t["avg_price"], "benchmark_price": t["avg_benchmark"],
             "slippage_bps": t["slippage_bps"], "slippage_ccy": t["slippage_ccy"]}
    return rows_table(f"import {report['id']}", [*report["rows"], total], IMPORT_COLUMNS)


def parent_report_tables(report: dict) -> list[Table]:
    """A parent's report as tables: the parent, benchmarks, shortfall, venues, markouts, orders, fills."""
    p = report["parent"]
    header = [(k, p[k]) for k in shapes.ReportParentSerializer().fields] + [("provisional", report["provisional"]),
                                                                        ("computed_at", report["computed_at"])]
    curve = report["markouts"]
    horizons = [f"markout_{h}s_bps" for h in curve["horizons_s"]]
    return [
        Table("parent", ["field", "value"], header),
        rows_table("benchmarks", report["benchmarks"], list(shapes.BenchmarkSerializer().fields)),
        Table("shortfall", ["component", "shortfall_ccy", "shortfall_bps"],
                      [[w["component"], w["ccy"], w["bps"]] for w in report["waterfall"]]),
        rows_table("venues", report["venues"], list(shapes.ReportVenueSerializer().fields)),
        Table("markouts", ["venue", *horizons],
                      [*([v["venue"], *v["bps"]] for v in curve["by_venue"]), ["ALL", *curve["all"]]]),
        rows_table("children", report["children"], list(shapes.ReportChildSerializer().fields)),
        rows_table("orders", report["constituents"], list(shapes.ReportOrderSerializer().fields)),
        rows_table("fills", report["fills"], list(shapes.ReportFillSerializer().fields)),
    ]
