"""File exports: CSV (the csv module) and XLSX (openpyxl), the format a compliance officer files. The API
(``?format=csv|xlsx``, ``oms.api.exports``) and the pages' export links answer with the same bytes
(``export_response``). The audit trail's export (``oms.api.views``) and the TCA reports' (``tca.exports``)
are written by these writers.

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
# The signed figures of the TCA exports (scores): slippage, markouts, spread capture, the shortfall and its components.
_SIGNED = re.compile(r"^(slippage_|markout_|cost_|shortfall_|spread_capture$|is_bps$|vs_mid_bps$)")


def column_label(name: str) -> str:
    """A column's header as an export writes it: a signed figure says its sign convention
    (``slippage_arrival_bps (+ = better)``; the one convention of tca.measures)."""
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
