"""Exports of the TCA reports and of the underlying fills, written by ``oms.exports`` (CSV and XLSX, the
conventions described there: readable titles with units, number formats, a header block, one table per CSV,
distinct file names). The rows and tables of each report live here: a fill with its metrics and its slippage
against the parent's arrival and interval VWAP (:func:`fill_row`, also the fills API's row), and the tables of
the summary, best execution, an imported set and a parent's report, in the columns of the API's output shapes
(``tca.api.serializers``), titled by the one catalogue :data:`COLUMNS`.

One sign convention (``tca.measures``): slippage, markouts and the implementation-shortfall components are
positive when better for us than the benchmark; a cost is negative. Every signed column says so in its
header (:func:`oms.exports.column_label`: ``Slippage vs arrival (bps, + = better)``), so a file read alone reads right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal

from ems.models import Fill
from ems.selectors import own_fee
from oms.exports import (
    BPS,
    CONTENT_TYPES,
    CSV,
    CSV_CHUNK_ROWS,
    DECIMAL,
    FORMATS,
    ID,
    INSTANT,
    INT,
    MONEY,
    PCT,
    PRICE,
    XLSX,
    Column,
    Table,
    catalogue,
    csv_bytes,
    export_response,
    one_currency,
    render,
    xlsx_bytes,
)
from oms.models import Instrument
from tca.api import serializers as shapes
from tca.measures import MARKOUT_HORIZONS_S, slippage_bps

__all__ = ["CONTENT_TYPES", "CSV", "CSV_CHUNK_ROWS", "FORMATS", "XLSX", "Table", "csv_bytes", "export_response", "render", "xlsx_bytes"]


# --- the one catalogue of the TCA exports' columns (code: the API's field name) --------------------------

_SHARES = "shares"
_CONTRACTS = "contracts"  # an option's quantities (its currency amounts are x its multiplier: tca.measures.currency)
COLUMNS = catalogue(
    # identity and descriptors
    Column("id", "ID", ID), Column("exec_id", "Exec ID"), Column("parent", "Parent order", ID), Column("child", "Child order", ID),
    Column("child_id", "Child order", ID), Column("order_id", "Order", ID), Column("client_order_id", "Client order ID"),
    Column("line", "Line in the file", ID), Column("child_order_id", "Child order ID"), Column("instrument", "Instrument"), Column("venue", "Venue"),
    Column("kind", "Venue kind"), Column("side", "Side"), Column("liquidity", "Liquidity"), Column("order_type", "Order type"),
    Column("strategy", "Algorithm"), Column("algorithm", "Algorithm"), Column("portfolio", "Portfolio"), Column("status", "Status"),
    Column("name", "Benchmark"), Column("component", "Component"), Column("provisional", "Provisional (computed now)"),
    # time
    Column("market_day", "Market day", ID), Column("period", "Market day", ID),
    Column("market_time_us", "Market time", INT, "µs since the open"), Column("t_us", "Market time", INT, "µs since the open"),
    Column("start_us", "Window start", INT, "µs since the open"), Column("end_us", "Window end", INT, "µs since the open"),
    Column("clock", "Market time"), Column("sent_clock", "Sent at (market time)"),
    Column("start_clock", "Window start (market time)"), Column("end_clock", "Window end (market time)"),
    Column("executed_at", "Executed at", INSTANT), Column("timestamp", "Executed at", INSTANT),
    Column("computed_at", "Computed at", INSTANT),
    # quantities and counts
    Column("quantity", "Quantity", INT, _SHARES), Column("filled_quantity", "Filled", INT, _SHARES),
    Column("volume", "Volume", INT, _SHARES), Column("child_quantity_sent", "Sent to the venue", INT, _SHARES),
    Column("multiplier", "Contract multiplier", INT), Column("parents", "Parent orders", INT), Column("orders", "Parent orders", INT), Column("children", "Child orders", INT),
    Column("fills", "Fills", INT),
    # prices and amounts (the table's currency)
    Column("price", "Price", PRICE), Column("avg_price", "Average price", PRICE), Column("mid", "Mid at the fill", PRICE),
    Column("benchmark_price", "Benchmark price", PRICE), Column("fee", "Fee", MONEY), Column("fees", "Fees", MONEY),
    Column("notional", "Notional", MONEY),
    # shares (fractions)
    Column("share", "Share of the filled quantity", PCT), Column("volume_share", "Share of the volume", PCT),
    Column("passive_share", "Passive (maker) share", PCT), Column("aggressive_share", "Aggressive (taker) share", PCT),
    Column("midpoint_share", "Midpoint share", PCT), Column("rfq_share", "RFQ share", PCT),
    Column("internal_share", "Internal cross share", PCT), Column("fill_rate", "Fill rate", PCT),
    Column("participation", "Participation", PCT),
    # spreads (unsigned) and the signed scores (+ = better: oms.exports.SIGNED)
    Column("spread_bps", "Quoted spread", BPS), Column("effective_spread_bps", "Effective spread", BPS),
    Column("spread_capture", "Spread capture", DECIMAL, "1 = our touch, 0 = mid"),
    Column("slippage_arrival_bps", "Slippage vs arrival", BPS), Column("slippage_vwap_bps", "Slippage vs interval VWAP", BPS),
    Column("slippage_arrival_ccy", "Slippage vs arrival", MONEY), Column("slippage_bps", "Slippage vs benchmark", BPS),
    Column("slippage_ccy", "Slippage vs benchmark", MONEY), Column("is_bps", "Implementation shortfall", BPS),
    Column("vs_mid_bps", "Slippage vs mid at the fill", BPS), Column("cost_arrival_bps", "Cost vs arrival", BPS),
    Column("shortfall_ccy", "Shortfall", MONEY), Column("shortfall_bps", "Shortfall", BPS),
    *(Column(f"markout_{h}s_bps", f"Markout {h} s" if h < 60 else f"Markout {h // 60} min", BPS) for h in MARKOUT_HORIZONS_S),
)


def columns(codes: Iterable[str], *, quantity_unit: str = _SHARES) -> list[Column]:
    """The catalogue's columns for these codes (a code missing from the catalogue is a KeyError: add it there), the
    quantities in ``quantity_unit`` (an option's tables: contracts)."""
    cols = [COLUMNS[c] for c in codes]
    return cols if quantity_unit == _SHARES else [replace(c, unit=quantity_unit) if c.unit == _SHARES else c for c in cols]


def currency_of(symbols: Iterable[str] | None = None) -> str | None:
    """The one currency of these instruments' prices (None: several, or unknown); no symbols: every active
    instrument's (a report over all of them)."""
    qs = Instrument.objects.filter(symbol__in=list(symbols)) if symbols is not None else Instrument.objects.filter(is_active=True)
    return one_currency(qs.order_by().values_list("currency", flat=True).distinct()[:2])


# --- the reports as tables ------------------------------------------------------------------------------


def _row(d: dict, codes: Sequence[str]) -> list:
    return [d.get(c) for c in codes]


def rows_table(name: str, rows: Iterable[dict], codes: Sequence[str], *, currency: str | None = None, count: int | None = None,
               quantity_unit: str = _SHARES) -> Table:
    """A table of the catalogue's ``codes`` from dict rows (a missing key is an empty cell)."""
    return Table(name, columns(codes, quantity_unit=quantity_unit), (_row(r, codes) for r in rows), currency=currency, count=count)


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
PARENT_COLUMNS = [*shapes.ReportParentSerializer().fields, "provisional", "computed_at"]
# A parent's report: its tables' names (``?table=`` picks a CSV's; the first is the default).
PARENT_TABLES = ("summary", "benchmarks", "shortfall", "venues", "markouts", "children", "orders", "fills")


def summary_table(rows: list[dict], group_by: str, *, currency: str | None = None) -> Table:
    codes = [group_by, *SUMMARY_COLUMNS[1:]]
    return Table(f"summary by {group_by}", columns(codes), ([r["key"], *[r.get(c) for c in SUMMARY_COLUMNS[1:]]] for r in rows),
                 currency=currency, count=len(rows))


def best_execution_table(rows: list[dict], *, currency: str | None = None) -> Table:
    return rows_table("best execution", rows, BEST_EXECUTION_COLUMNS, currency=currency, count=len(rows))


def fills_table(fills: Sequence[Fill]) -> Table:
    """The fills (a list: its length and its currencies are read before the rows are written)."""
    currency = one_currency({f.instrument.currency for f in fills}) if fills else currency_of()
    return rows_table("fills", (fill_row(f) for f in fills), FILL_COLUMNS, currency=currency, count=len(fills))


def import_set_table(report: dict, *, count: int | None = None) -> Table:
    """The rows, then a TOTAL line (quantity-weighted averages) in the same columns. Outside executions: no
    currency is known ("Price")."""
    t = report["totals"]
    total = {"child_order_id": "TOTAL", "quantity": t["quantity"], "price": t["avg_price"], "benchmark_price": t["avg_benchmark"],
             "slippage_bps": t["slippage_bps"], "slippage_ccy": t["slippage_ccy"]}
    return rows_table(f"import {report['id']}", _then(report["rows"], total), IMPORT_COLUMNS, count=count)


def _then(rows: Iterable[dict], last: dict) -> Iterable[dict]:
    yield from rows
    yield last


def parent_report_tables(report: dict) -> list[Table]:
    """A parent's report as tables (:data:`PARENT_TABLES`): its summary (one row), benchmarks, shortfall,
    venues, markouts, children, orders, fills; in the instrument's currency, the quantities of an option in contracts
    (its currency amounts are x its multiplier already: ``tca.measures.currency``)."""
    p = report["parent"]
    ccy = currency_of([p["instrument"]])
    unit = _SHARES if p.get("multiplier", 1) == 1 else _CONTRACTS
    summary = {**p, "provisional": report["provisional"], "computed_at": report["computed_at"]}
    curve = report["markouts"]
    horizons = [f"markout_{h}s_bps" for h in curve["horizons_s"]]
    markouts = [*([v["venue"], *v["bps"]] for v in curve["by_venue"]), ["ALL", *curve["all"]]]
    shortfall = [[w["component"], w["ccy"], w["bps"]] for w in report["waterfall"]]

    def table(name, rows, codes):
        return rows_table(name, rows, codes, currency=ccy, count=len(rows), quantity_unit=unit)

    return [
        table("summary", [summary], PARENT_COLUMNS),
        table("benchmarks", report["benchmarks"], list(shapes.BenchmarkSerializer().fields)),
        Table("shortfall", columns(["component", "shortfall_ccy", "shortfall_bps"]), shortfall, currency=ccy, count=len(shortfall)),
        table("venues", report["venues"], list(shapes.ReportVenueSerializer().fields)),
        Table("markouts", columns(["venue", *horizons]), markouts, currency=ccy, count=len(markouts)),
        table("children", report["children"], list(shapes.ReportChildSerializer().fields)),
        table("orders", report["constituents"], list(shapes.ReportOrderSerializer().fields)),
        table("fills", report["fills"], list(shapes.ReportFillSerializer().fields)),
    ]
