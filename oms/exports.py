"""File exports: CSV (the csv module) and XLSX (openpyxl), the format a compliance officer files. The API
(``?format=csv|xlsx``, ``oms.api.exports``) and the pages' export links answer with the same bytes
(``export_response``). The audit trail's export (``oms.audit_reading``) and the TCA reports' (``tca.exports``)
are written by these writers. Decisions (issue 19 item 11), each kept in one place here:

**Columns a person reads.** A table's columns are :class:`Column` objects: the field's code (the JSON
API's name, unchanged), a title in words and a *kind* (``int`` quantities, ``id``, ``price``, ``money``,
``bps``, ``pct``, ``decimal``, ``instant``, ``text``). Each report keeps its columns in one catalogue (the
TCA's in ``tca.exports.COLUMNS``, the audit's in ``oms.audit_reading.EXPORT_COLUMNS``); the header a file
shows is :func:`column_label`: the title with its unit, e.g. "Quantity (shares)", "Price (USD)" (a price or
an amount carries the table's currency when the table is one currency, else none: "Price"),
"Executed at (UTC)", "Slippage vs arrival (bps, + = better)". Every signed figure (slippage, markouts, the
shortfall and its components, spread capture: :data:`SIGNED`) says the sign convention in its header, so a
file read alone reads right. A share (``pct``) is a fraction in both files (0.25), shown as 25.00% by the XLSX.

**XLSX formats and widths.** Numbers stay numbers (Decimal kept exact by openpyxl) with a number format per
kind (:data:`NUMBER_FORMATS`: quantities ``#,##0``, prices ``0.0000``, bps ``0.00``, shares ``0.00%``,
instants ``yyyy-mm-dd hh:mm:ss.000`` in UTC: Excel has no time zones); a column is as wide as its header or
its kind's usual value (:func:`column_width`); the header row is bold and frozen. Text cells are text, never
formulas.

**A header block in every file** (:class:`ExportMeta`): the report, the table, the period (market days,
since/until, or "all"), the filters applied, who exported it (username and role), when (UTC), the row count
where it is known without another pass over the data, and the sign convention when a column is signed.

- CSV: a preamble of lines starting with ``# `` and one empty line, then the table (its header row, its
  rows). The first line says how many lines to skip: ``pandas.read_csv(f, skiprows=N)``, or in Python skip
  the lines up to and including the first empty one. A count is robust where a comment character is not (a
  ``#`` may start a cell: an exec id, an imported id); the preamble holds no double quote or line break, so
  a CSV parser reading it as rows sees exactly N of them.
- XLSX: the same lines in column A above the table, an empty row, then the bold header row; the rows above
  it stay in view (frozen) with it.
- ``?header=none`` (``oms.api.exports``) answers the bare table (the header row and the rows), for machine
  loaders.

**One table per file.** A CSV holds exactly one table (:func:`csv_chunks` refuses more: a programming error);
a report of several tables (one parent's TCA) answers one of them, picked by ``?table=``, and its XLSX is one
workbook with one worksheet per table, each sheet with its own header block.

**Export links on the pages** (:func:`export_links`, rendered by ``templates/_export_links.html``): a CSV
link per table of the report and one XLSX link. ``static/js/exports.js`` fetches a clicked link, shows
"Preparing… N s" on it until the file arrives (the all-fills export takes seconds), saves it under the
server's file name, and shows an error answer (JSON ``code`` / ``detail``) beside the link; without JS the
link is a plain download.

**Distinct file names** (:func:`filename`, the one place that builds them):
``<what>-<period>-<UTC timestamp>.<fmt>``, e.g. ``tca-fills-D3-D5-20261207T140312.123Z.csv``,
``audit-trail-all-20261207T140312.123Z.xlsx``: two exports a millisecond apart never share a name.

Text that came from outside (an imported file's ids and venues) could be a formula: in the CSV a text cell
starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with ``'`` (OWASP, "CSV
injection"), so a spreadsheet shows it instead of running it; in the XLSX every text cell is written as
text, never as a formula. Numbers are never prefixed. The preamble's lines start with ``#``: never a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.http import HttpResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

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
_PREAMBLE_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"]+")  # line breaks, control characters, double quotes
SHEET_TITLE_MAX = 31  # Excel's limit
SIGN_NOTE = "+ = better"
SIGN_CONVENTION = ("+ = better for us than the benchmark (bought below it, sold above it); a cost is negative; "
                   "markouts: + = the price moved our way after the fill")
# The signed figures of the TCA exports (scores): slippage, markouts, spread capture, the shortfall and its components.
SIGNED = re.compile(r"^(slippage_|markout_|cost_|shortfall_|spread_capture$|is_bps$|vs_mid_bps$)")
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"  # a file name's UTC timestamp

# --- columns: kinds, units, formats, widths --------------------------------------------------------------

ID, INT, PRICE, MONEY, BPS, PCT, DECIMAL, INSTANT, TEXT = "id", "int", "price", "money", "bps", "pct", "decimal", "instant", "text"
NUMBER_FORMATS = {
    ID: "0", INT: "#,##0", PRICE: "0.0000", MONEY: "#,##0.00", BPS: "0.00", PCT: "0.00%", DECIMAL: "0.0000",
    INSTANT: "yyyy-mm-dd hh:mm:ss.000",
}  # text: none (a date in a text column keeps openpyxl's date format)
_KIND_UNITS = {BPS: "bps", INSTANT: "UTC"}  # a price's or an amount's unit is the table's currency
_KIND_WIDTHS = {ID: 8, INT: 12, PRICE: 12, MONEY: 16, BPS: 10, PCT: 10, DECIMAL: 10, INSTANT: 24, TEXT: 12}
WIDTH_MAX = 48


@dataclass(frozen=True)
class Column:
    """One exported column: its code (the JSON API's field name), its title in words, its kind and its unit
    (``shares``; a price's or an amount's is the table's currency, a bps figure's "bps", an instant's "UTC")."""

    code: str
    title: str
    kind: str = TEXT
    unit: str = ""

    @property
    def signed(self) -> bool:
        return bool(SIGNED.match(self.code))


def catalogue(*columns: Column) -> dict[str, Column]:
    """A report's columns by code (one home for their titles)."""
    return {c.code: c for c in columns}


def column_label(column: Column | str, currency: str | None = None) -> str:
    """A column's header as an export writes it: its title, its unit and, on a signed figure, the sign
    convention: ``Slippage vs arrival (bps, + = better)``, ``Price (USD)``, ``Quantity (shares)``."""
    column = column if isinstance(column, Column) else Column(column, column)
    unit = column.unit or (currency if column.kind in (PRICE, MONEY) else _KIND_UNITS.get(column.kind, ""))
    notes = [n for n in (unit, SIGN_NOTE if column.signed else "") if n]
    return f"{column.title} ({', '.join(notes)})" if notes else column.title


def column_width(column: Column, currency: str | None = None) -> int:
    """An XLSX column's width (characters): its header's, or its kind's usual value's if wider."""
    return min(WIDTH_MAX, max(_KIND_WIDTHS.get(column.kind, 12), len(column_label(column, currency)) + 2))


def one_currency(currencies: Iterable[str | None]) -> str | None:
    """The currency of a table whose prices are all in one (else None: the header says "Price")."""
    found = {c for c in currencies if c}
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class Table:
    """One table of a report: a worksheet in the XLSX, the whole file in a CSV. ``name`` is how ``?table=``
    picks it; ``count`` its rows when known without reading them (None: not said)."""

    name: str
    columns: Sequence[Column | str]
    rows: Iterable[Sequence]
    currency: str | None = None
    count: int | None = None

    @property
    def cols(self) -> list[Column]:
        return [c if isinstance(c, Column) else Column(c, c) for c in self.columns]

    def labels(self) -> list[str]:
        return [column_label(c, self.currency) for c in self.cols]


# --- the header block ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """What the rows cover, in words (``market days 3 to 5``) and in a file name (``D3-D5``)."""

    label: str
    slug: str


ALL = Period("all", "all")


def market_days(day_from: int | None, day_to: int | None) -> Period:
    """The period of a market-day filter (``day_from`` / ``day_to`` inclusive; neither: all)."""
    if day_from is None and day_to is None:
        return ALL
    if day_from is not None and day_from == day_to:
        return Period(f"market day {day_from}", f"D{day_from}")
    if day_to is None:
        return Period(f"market day {day_from} onwards", f"D{day_from}-on")
    if day_from is None:
        return Period(f"up to market day {day_to}", f"to-D{day_to}")
    return Period(f"market days {day_from} to {day_to}", f"D{day_from}-D{day_to}")


def now() -> datetime:
    """When an export is made (UTC): its header block's "Exported at" and its file name's timestamp."""
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def instants(since: datetime | None, until: datetime | None) -> Period:
    """The period of a since (inclusive) / until (exclusive) filter, in UTC."""
    if since is None and until is None:
        return ALL
    words = " ".join(p for p in (since and f"since {_utc(since):%Y-%m-%d %H:%M:%S} UTC",
                                 until and f"until {_utc(until):%Y-%m-%d %H:%M:%S} UTC (excluded)") if p)
    slug = "-".join(p for p in (since and f"from-{_utc(since):{TIMESTAMP_FORMAT}}", until and f"to-{_utc(until):{TIMESTAMP_FORMAT}}") if p)
    return Period(words, slug)


@dataclass(frozen=True)
class ExportMeta:
    """What a file says about itself in its header block, and what names it: the report (``TCA fills``), its
    file-name stem (``tca-fills``), the period, the filters applied, who exported it (username, role) and when."""

    report: str
    stem: str
    user: str
    role: str | None
    period: Period = ALL
    filters: Mapping[str, object] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: now())

    def lines(self, table: Table, tables: Sequence[Table] = ()) -> list[tuple[str, str]]:
        """The header block's (label, value) lines for one table of the report."""
        filters = "; ".join(f"{k} = {v}" for k, v in self.filters.items() if v not in (None, "")) or "none"
        lines = [("Report", self.report)]
        if len(tables) > 1:
            lines.append(("Table", f"{table.name} ({[t.name for t in tables].index(table.name) + 1} of {len(tables)}: "
                                   f"{', '.join(t.name for t in tables)})"))
        lines += [("Period", self.period.label), ("Filters", filters),
                  ("Exported by", f"{self.user} ({self.role or 'no role'})"),
                  ("Exported at", f"{_utc(self.at):%Y-%m-%d %H:%M:%S} UTC")]
        if table.count is not None:
            lines.append(("Rows", f"{table.count:,}"))
        if any(c.signed for c in table.cols):
            lines.append(("Sign convention", SIGN_CONVENTION))
        return [(k, _PREAMBLE_UNSAFE.sub(" ", str(v))) for k, v in lines]


def _preamble(meta: ExportMeta, table: Table, tables: Sequence[Table]) -> list[str]:
    lines = [f"# {k}: {v}" for k, v in meta.lines(table, tables)]
    skip = len(lines) + 2  # the guide line, these lines and the empty line
    guide = (f"# Smart OMS export. The table starts on line {skip + 1}: skip the first {skip} lines "
             f"(pandas.read_csv(f, skiprows={skip})), or ask for ?header=none")
    return [guide, *lines]


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


def csv_chunks(table: Table | Sequence[Table], meta: ExportMeta | None = None, tables: Sequence[Table] = ()) -> Iterator[bytes]:
    """One table as CSV, in chunks of ``CSV_CHUNK_ROWS`` rows, after its header block (``meta``; None: the bare
    table). The rows are read as they are written (a streamed export holds one chunk). ``tables``: the report's
    tables, named in the header block."""
    if not isinstance(table, Table):
        if len(table) != 1:
            raise ValueError("a CSV holds one table: pick one of the report's tables")
        table = table[0]
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # excel dialect: CRLF, minimal quoting (RFC 4180)

    def flush() -> bytes:
        chunk = out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
        return chunk

    if meta is not None:
        out.write("".join(line + "\r\n" for line in _preamble(meta, table, tables)) + "\r\n")
    writer.writerow(table.labels())
    for n, row in enumerate(table.rows, 1):
        writer.writerow([_csv_cell(v) for v in row])
        if n % CSV_CHUNK_ROWS == 0:
            yield flush()
    yield flush()


def csv_bytes(table: Table | Sequence[Table], meta: ExportMeta | None = None, tables: Sequence[Table] = ()) -> bytes:
    """One table as a CSV file (see :func:`csv_chunks`)."""
    return b"".join(csv_chunks(table, meta, tables))


def _sheet_title(title: str, used: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", title).strip("'")[:SHEET_TITLE_MAX] or "Sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[: SHEET_TITLE_MAX - len(str(n)) - 1]}_{n}"
    used.add(name.lower())
    return name


def _xlsx_cell(sheet, value, *, bold: bool = False, number_format: str | None = None) -> WriteOnlyCell:
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
    if number_format and not text and value is not None and not isinstance(value, bool):
        cell.number_format = number_format
    return cell


def xlsx_bytes(tables: Sequence[Table], meta: ExportMeta | None = None) -> bytes:
    """The tables as an XLSX workbook, one worksheet per table (write-only: rows stream to the file), each
    after its header block (``meta``; None: the bare tables)."""
    book = Workbook(write_only=True)
    used: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.name, used))
        cols = table.cols
        lines = meta.lines(table, tables) if meta is not None else []
        header_row = len(lines) + 2 if lines else 1  # the block, an empty row, the header
        # Write-only sheets take their widths and panes before the first row.
        for i, col in enumerate(cols, 1):
            sheet.column_dimensions[get_column_letter(i)].width = column_width(col, table.currency)
        sheet.freeze_panes = f"A{header_row + 1}"
        for i, (label, value) in enumerate(lines):
            sheet.append([_xlsx_cell(sheet, f"{label}: {value}", bold=i == 0)])
        if lines:
            sheet.append([])
        sheet.append([_xlsx_cell(sheet, label, bold=True) for label in table.labels()])
        formats = [NUMBER_FORMATS.get(c.kind) for c in cols]
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, v, number_format=f) for v, f in zip(row, formats, strict=False)])
    if not tables:
        book.create_sheet("Sheet")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(tables: Sequence[Table], fmt: str, meta: ExportMeta | None = None) -> bytes:
    """The tables in ``fmt`` (csv: exactly one table | xlsx)."""
    if fmt == CSV:
        return csv_bytes(tables, meta)
    if fmt == XLSX:
        return xlsx_bytes(tables, meta)
    raise ValueError(f"unknown export format {fmt!r}")


def filename(what: str, period: Period | str, fmt: str, at: datetime) -> str:
    """A download name, distinct per millisecond and safe in a Content-Disposition header:
    ``<what>-<period>-<UTC timestamp>.<fmt>`` (``tca-fills-D3-D5-20261207T140312.123Z.csv``): two clicks
    a moment apart never overwrite each other in a Downloads folder."""
    slug = period.slug if isinstance(period, Period) else period
    stem = _FILENAME_SAFE.sub("-", f"{what}-{slug}").strip("-") or "export"
    utc = _utc(at)
    return f"{stem}-{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z.{fmt}"


def export_links(path: str, query: dict, *, tables: Sequence[str] = (), id_prefix: str = "") -> list[dict]:
    """A page's download links of a report at the API ``path`` with its ``query`` (empty values left out): one
    CSV link per table (``tables``: a report of several, each picked by ``?table=``; none: one CSV) and an XLSX."""
    query = {k: v for k, v in query.items() if v not in (None, "")}

    def link(fmt: str, label: str, title: str, table: str = "") -> dict:
        params = {**query, "format": fmt, **({"table": table} if table else {})}
        return {"url": f"{path}?{urlencode(params)}", "format": fmt, "label": label, "title": title, "table": table,
                "id": f"{id_prefix}{fmt}{'-' + table if table else ''}" if id_prefix else ""}

    csvs = [link(CSV, t, f"The {t} table as CSV", t) for t in tables] or [link(CSV, "CSV", "The table as CSV (RFC 4180, UTF-8)")]
    return [*csvs, link(XLSX, "XLSX" if not tables else "XLSX · all tables", "An XLSX workbook" + (", a sheet per table" if tables else ""))]


def export_response(tables: Sequence[Table], fmt: str, meta: ExportMeta, *, table: str | None = None, preamble: bool = True,
                    stream: bool = False) -> HttpResponse | StreamingHttpResponse:
    """An attachment download of a report in ``fmt`` with its content type and file name. A CSV is one table:
    ``table`` names it (default: the report's first); an XLSX holds them all. ``preamble``: the header block
    (False: the bare tables). ``stream``: a CSV is sent as its rows are read (a large set); an XLSX is always
    built whole (a zip: the caller bounds its rows)."""
    head = meta if preamble else None
    what = meta.stem
    if fmt == CSV:
        chosen = next((t for t in tables if t.name == table), None) if table else tables[0]
        if chosen is None:  # the view validates ?table= against the report's tables first
            raise ValueError(f"no table {table!r} in this report")
        if len(tables) > 1:
            what = f"{meta.stem}-{chosen.name}"
        if stream:
            response = StreamingHttpResponse(csv_chunks(chosen, head, tables), content_type=CONTENT_TYPES[fmt])
        else:
            response = HttpResponse(csv_bytes(chosen, head, tables), content_type=CONTENT_TYPES[fmt])
    else:
        response = HttpResponse(render(tables, fmt, head), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename(what, meta.period, fmt, meta.at)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
