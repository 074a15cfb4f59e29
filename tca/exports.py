"""Exports of the TCA reports and of the underlying fills: CSV (the csv module) and XLSX (openpyxl), the
format a compliance officer files. The API (``?format=csv|xlsx``) and the pages' export links answer with
the same bytes (``export_response``). The rows and tables of each report live here too: a fill with its
metrics and its slippage against the parent's arrival and interval VWAP (:func:`fill_row`, also the fills
API's row), and the tables of the summary, best execution, an imported set and a parent's report, in the
columns of the API's output shapes (``tca.api.serializers``).

A report is one or more **tables** (a title, a header, rows):

- XLSX: one worksheet per table (its title, at most 31 characters), the header in bold and frozen; numbers
  are numbers (Decimal kept exact by openpyxl), instants are UTC (Excel has no time zones);
- CSV (RFC 4180, UTF-8, CRLF): a one-table report is the header and its rows; a report of several tables
  (one parent's TCA) writes each as a section: a row with the title in brackets (``[fills]``), the header,
  the rows, then an empty line.

Text that came from outside (an imported file's ids and venues) could be a formula: in the CSV a text cell
starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with ``'`` (OWASP, "CSV
injection"), so a spreadsheet shows it instead of running it; in the XLSX every text cell is written as
text, never as a formula. Numbers are never prefixed.

One sign convention (``tca.measures``): slippage, markouts and the implementation-shortfall components are
positive when better for us than the benchmark; a cost is negative. Every signed column says so in its
header (:func:`column_label`: ``slippage_arrival_bps (+ = better)``), so a file read alone reads right.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from ems.models import Fill
from ems.selectors import own_fee
from tca.api import serializers as shapes
from tca.measures import MARKOUT_HORIZONS_S, slippage_bps

CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
SHEET_TITLE_MAX = 31  # Excel's limit
SIGN_NOTE = "+ = better"
# The signed figures (scores): slippage, markouts, spread capture, the shortfall and its components.
_SIGNED = re.compile(r"^(slippage_|markout_|cost_|shortfall_|spread_capture$|is_bps$|vs_mid_bps$)")


def column_label(name: str) -> str:
    """A column's header as an export writes it: a signed figure says its sign convention
    (``slippage_arrival_bps (+ = better)``)."""
    return f"{name} ({SIGN_NOTE})" if _SIGNED.match(name) else name


@dataclass(frozen=True)
class Table:
    """One table of a report: a worksheet in the XLSX, a section (or the whole file) in the CSV."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence]


# --- the two formats ------------------------------------------------------------------------------------


def _csv_cell(value) -> str | int | Decimal | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_CHUNK_ROWS = 2_000  # rows per chunk of a streamed CSV


def csv_chunks(tables: Sequence[Table]) -> Iterator[bytes]:
    """The tables as CSV, in chunks of ``CSV_CHUNK_ROWS`` rows: one table plain, several as titled sections
    separated by an empty line. The rows are read as they are written (a streamed export holds one chunk)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # excel dialect: CRLF, minimal quoting (RFC 4180)
    sections = len(tables) > 1

    def flush() -> bytes:
        chunk = out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
        return chunk

    for i, table in enumerate(tables):
        if sections:
            if i:
                writer.writerow([])
            writer.writerow([f"[{table.title}]"])
        writer.writerow([column_label(h) for h in table.header])
        for n, row in enumerate(table.rows, 1):
            writer.writerow([_csv_cell(v) for v in row])
            if n % CSV_CHUNK_ROWS == 0:
                yield flush()
    yield flush()


def csv_bytes(tables: Sequence[Table]) -> bytes:
    """The tables as one CSV file (see :func:`csv_chunks`)."""
    return b"".join(csv_chunks(tables))


def _sheet_title(title: str, used: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", title).strip("'")[:SHEET_TITLE_MAX] or "Sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[: SHEET_TITLE_MAX - len(str(n)) - 1]}_{n}"
    used.add(name.lower())
    return name


def _xlsx_cell(sheet, value, *, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = isinstance(value, str)
    if text:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters are not allowed in the XML
    cell = WriteOnlyCell(sheet, value=value)
    if text and cell.data_type == "f":
        cell.data_type = "s"  # text, not a formula, whatever it starts with
    if bold:
        cell.font = Font(bold=True)
    return cell


def xlsx_bytes(tables: Sequence[Table]) -> bytes:
    """The tables as an XLSX workbook, one worksheet per table (write-only: rows stream to the file)."""
    book = Workbook(write_only=True)
    used: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.title, used))
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, column_label(h), bold=True) for h in table.header])
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
    if not tables:
        book.create_sheet("Sheet")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(tables: Sequence[Table], fmt: str) -> bytes:
    """The tables in ``fmt`` (csv | xlsx)."""
    if fmt == CSV:
        return csv_bytes(tables)
    if fmt == XLSX:
        return xlsx_bytes(tables)
    raise ValueError(f"unknown export format {fmt!r}")


def filename(stem: str, fmt: str) -> str:
    """A download name safe in a Content-Disposition header: ``tca-parent-42.xlsx``."""
    return f"{_FILENAME_SAFE.sub('-', stem).strip('-') or 'export'}.{fmt}"


def export_response(tables: Sequence[Table], fmt: str, stem: str, *, stream: bool = False) -> HttpResponse | StreamingHttpResponse:
    """An attachment download of the tables in ``fmt`` with its content type and file name. ``stream``: a CSV
    is sent as its rows are read (a large set); an XLSX is always built whole (a zip: the caller bounds its rows)."""
    if stream and fmt == CSV:
        response = StreamingHttpResponse(csv_chunks(tables), content_type=CONTENT_TYPES[fmt])
    else:
        response = HttpResponse(render(tables, fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename(stem, fmt)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


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
