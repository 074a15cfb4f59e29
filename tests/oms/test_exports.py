"""oms.exports on its own: the readable column titles with units and the sign note, the header block (CSV
preamble and XLSX rows above the table), one table per CSV, XLSX number formats and widths, text never a
formula, and the download response (content type, distinct file names)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest

from oms import exports
from oms.exports import BPS, ID, INSTANT, INT, MONEY, PCT, PRICE, Column, ExportMeta, Table
from tests.export_files import csv_file, sheet_file

COLUMNS = [Column("id", "ID", ID), Column("price", "Price", PRICE), Column("quantity", "Quantity", INT, "shares"),
           Column("at", "Executed at", INSTANT), Column("note", "Note"), Column("flag", "Flag")]
ROWS = [
    ["EXT-1", Decimal("100.100000"), 1000, datetime(2026, 3, 2, 15, 31, 5, tzinfo=timezone(timedelta(hours=1))), None, True],
    ["=HYPERLINK(\"http://x\")", Decimal("-10.0000"), -5, None, "@SUM(A1)", False],
]
LABELS = ["ID", "Price (USD)", "Quantity (shares)", "Executed at (UTC)", "Note", "Flag"]
AT = datetime(2026, 12, 7, 14, 3, 12, 456000, tzinfo=UTC)


def _meta(**kw) -> ExportMeta:
    return ExportMeta(**{"report": "TCA fills", "stem": "tca-fills", "user": "desk_trader", "role": "trader",
                         "period": exports.market_days(3, 5), "filters": {"instrument": "ACME", "side": "buy"}, "at": AT, **kw})


def _table(**kw) -> Table:
    return Table(kw.pop("name", "fills"), COLUMNS, ROWS, currency="USD", **kw)


def _book(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def _bare(table) -> list[list[str]]:
    return list(csv.reader(io.StringIO(exports.csv_bytes(table).decode("utf-8"), newline="")))


# --- titles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "currency", "label"), [
    (Column("quantity", "Quantity", INT, "shares"), "USD", "Quantity (shares)"),
    (Column("price", "Price", PRICE), "USD", "Price (USD)"),
    (Column("price", "Price", PRICE), None, "Price"),  # several currencies: none is said
    (Column("fees", "Fees", MONEY), "EUR", "Fees (EUR)"),
    (Column("slippage_arrival_bps", "Slippage vs arrival", BPS), None, "Slippage vs arrival (bps, + = better)"),
    (Column("slippage_ccy", "Slippage vs benchmark", MONEY), "USD", "Slippage vs benchmark (USD, + = better)"),
    (Column("markout_60s_bps", "Markout 1 min", BPS), None, "Markout 1 min (bps, + = better)"),
    (Column("effective_spread_bps", "Effective spread", BPS), None, "Effective spread (bps)"),  # unsigned: no note
    (Column("executed_at", "Executed at", INSTANT), None, "Executed at (UTC)"),
    (Column("clock", "Market time"), None, "Market time"),
    (Column("passive_share", "Passive share", PCT), None, "Passive share"),
])
def test_a_column_header_is_its_title_with_its_unit_and_the_sign_note_on_a_signed_figure(column, currency, label):
    assert exports.column_label(column, currency) == label


def test_one_currency_is_said_only_when_the_table_has_one():
    assert exports.one_currency(["USD", "USD", None]) == "USD"
    assert exports.one_currency(["USD", "EUR"]) is None and exports.one_currency([]) is None


# --- CSV: the header block and one table -----------------------------------------------------------


def test_the_csv_starts_with_a_header_block_saying_how_many_lines_to_skip():
    data = exports.csv_bytes(_table(count=2), _meta())

    meta, table = csv_file(data)  # reads the block the documented way: the first line's count
    assert meta == {
        "Report": "TCA fills", "Period": "market days 3 to 5", "Filters": "instrument = ACME; side = buy",
        "Exported by": "desk_trader (trader)", "Exported at": "2026-12-07 14:03:12 UTC", "Rows": "2",
    }
    assert table[0] == LABELS and len(table) == 3
    text = data.decode()
    assert text.startswith("# Smart OMS export. The table starts on line 9: skip the first 8 lines (pandas.read_csv(f, skiprows=8))")
    assert text.split("\r\n")[8] == ",".join(LABELS)  # line 9


def test_a_table_with_a_signed_column_states_the_sign_convention_in_its_block():
    table = Table("t", [Column("slippage_arrival_bps", "Slippage vs arrival", BPS)], [[Decimal("1.5")]])

    meta, rows = csv_file(exports.csv_bytes(table, _meta()))
    assert meta["Sign convention"].startswith("+ = better for us than the benchmark")
    assert rows == [["Slippage vs arrival (bps, + = better)"], ["1.5"]]
    assert "Rows" not in meta  # not known cheaply: not said


def test_the_header_block_cannot_be_broken_by_what_a_filter_holds():
    meta = _meta(filters={"q": 'a "quoted"\r\nnext, line\x00', "actor": ""}, period=exports.ALL)

    text = exports.csv_bytes(_table(), meta).decode()
    block, rows = csv_file(text.encode())
    assert block["Filters"] == "q = a  quoted next, line " and block["Period"] == "all"
    assert '"' not in text.split("\r\n\r\n")[0]  # nothing a CSV parser would read as a quoted, multi-line field
    assert rows[0] == LABELS


def test_without_a_block_the_csv_is_the_bare_rfc4180_table():
    data = exports.csv_bytes(_table())

    assert data.startswith(",".join(LABELS).encode() + b"\r\n")
    rows = _bare(_table())
    assert rows[1] == ["EXT-1", "100.100000", "1000", "2026-03-02T14:31:05+00:00", "", "true"]  # instants in UTC
    assert rows[2][2] == "-5"  # a negative number stays a number


def test_a_csv_holds_one_table_only():
    with pytest.raises(ValueError, match="one table"):
        exports.csv_bytes([_table(), _table(name="other")])


def test_the_block_names_the_table_among_the_reports_tables():
    tables = [Table("summary", ["a"], [[1]]), Table("fills", ["a"], [[2]])]

    meta, rows = csv_file(exports.csv_bytes(tables[1], _meta(), tables))
    assert meta["Table"] == "fills (2 of 2: summary, fills)" and rows == [["a"], ["2"]]


def test_text_that_could_be_a_formula_is_defused_in_the_csv():
    rows = _bare(_table())
    assert rows[2][0] == "'=HYPERLINK(\"http://x\")" and rows[2][4] == "'@SUM(A1)"
    for start in ("+1", "-x", "\tx", "\rx"):
        out = _bare(Table("t", ["a"], [[start]]))
        assert out[1][0] == "'" + start


# --- XLSX ------------------------------------------------------------------------------------------


def test_the_xlsx_has_a_sheet_per_table_each_with_its_header_block_and_a_bold_frozen_header():
    book = _book(exports.xlsx_bytes([_table(count=2), Table("totals", [Column("n", "N", INT)], [[2]])], _meta()))

    assert book.sheetnames == ["fills", "totals"]
    sheet = book["fills"]
    meta, values = sheet_file(sheet)
    assert meta["Report"] == "TCA fills" and meta["Period"] == "market days 3 to 5"
    assert meta["Exported by"] == "desk_trader (trader)" and meta["Table"] == "fills (1 of 2: fills, totals)"
    assert sheet["A1"].font.b  # the report's line
    header_row = len([k for k in meta]) + 2
    assert sheet.freeze_panes == f"A{header_row + 1}"  # the block and the header stay in view
    assert list(values[0]) == LABELS and sheet.cell(header_row, 1).font.b
    assert sheet_file(book["totals"])[0]["Table"] == "totals (2 of 2: fills, totals)"


def test_xlsx_cells_are_typed_with_a_number_format_per_kind_and_a_width_per_column():
    sheet = _book(exports.xlsx_bytes([_table()]))["fills"]  # bare: the header on row 1

    assert sheet.freeze_panes == "A2" and [c.value for c in sheet[1]] == LABELS
    price, qty, at = sheet["B2"], sheet["C2"], sheet["D2"]
    assert (price.value, price.data_type, price.number_format) == (pytest.approx(100.1), "n", "0.0000")
    assert (qty.value, qty.number_format) == (1000, "#,##0")
    assert at.value == datetime(2026, 3, 2, 14, 31, 5) and at.number_format == "yyyy-mm-dd hh:mm:ss.000"  # UTC, naive
    assert sheet["C3"].value == -5
    assert sheet["E2"].value is None and sheet["F2"].value is True
    # Text that looks like a formula is stored as text, not evaluated.
    assert sheet["A3"].value == "=HYPERLINK(\"http://x\")" and sheet["A3"].data_type == "s"
    widths = {col: sheet.column_dimensions[col].width for col in "ABCD"}
    assert widths["B"] == len("Price (USD)") + 2 and widths["C"] == len("Quantity (shares)") + 2
    assert widths["D"] == 24  # an instant's usual width is wider than its header
    assert widths["A"] == 8


def test_every_kind_has_its_number_format():
    cols = [Column(k, k, k) for k in (ID, INT, PRICE, MONEY, BPS, PCT)]
    sheet = _book(exports.xlsx_bytes([Table("t", cols, [[7, 1234567, Decimal("1.5"), Decimal("12345.678"), 1.25, 0.3]])]))["t"]

    assert [c.number_format for c in sheet[2]] == ["0", "#,##0", "0.0000", "#,##0.00", "0.00", "0.00%"]


def test_sheet_titles_are_made_legal_and_unique():
    tables = [Table("a/b:c*d?[e]", ["x"], []), Table("A/B:C*D?[E]", ["x"], []), Table("x" * 40, ["x"], [])]
    names = _book(exports.xlsx_bytes(tables)).sheetnames
    assert names[0] == "a_b_c_d__e_" and names[1] != names[0] and names[1].lower().startswith("a_b_c_d__e_")
    assert len(names[2]) == 31


def test_control_characters_do_not_break_the_workbook():
    book = _book(exports.xlsx_bytes([Table("t", ["a"], [["be\x01ll\x0b"]])], _meta(filters={"q": "x\x00y"})))
    assert sheet_file(book["t"])[1][1][0] == "bell"


def test_a_report_without_tables_is_still_a_valid_workbook():
    assert _book(exports.xlsx_bytes([])).sheetnames == ["Sheet"]


def test_datetimes_without_a_zone_are_written_as_given():
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert _bare(Table("t", ["at"], [[naive]]))[1] == ["2026-01-02T03:04:05"]
    assert _book(exports.xlsx_bytes([Table("t", ["at"], [[datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)]])]))["t"]["A2"].value == naive


# --- periods, file names, the response -------------------------------------------------------------


@pytest.mark.parametrize(("day_from", "day_to", "label", "slug"), [
    (None, None, "all", "all"), (3, 5, "market days 3 to 5", "D3-D5"), (4, 4, "market day 4", "D4"),
    (3, None, "market day 3 onwards", "D3-on"), (None, 5, "up to market day 5", "to-D5"),
])
def test_a_market_day_period_in_words_and_in_a_file_name(day_from, day_to, label, slug):
    assert exports.market_days(day_from, day_to) == exports.Period(label, slug)


def test_a_since_until_period_is_in_utc():
    period = exports.instants(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, 1, tzinfo=timezone(timedelta(hours=1))))
    assert period.label == "since 2026-12-01 00:00:00 UTC until 2026-12-02 00:00:00 UTC (excluded)"
    assert period.slug == "from-20261201T000000Z-to-20261202T000000Z"


def test_file_names_say_what_when_and_the_period_and_differ_a_millisecond_apart():
    first = exports.filename("tca-fills", exports.market_days(3, 5), "csv", AT)
    later = exports.filename("tca-fills", exports.market_days(3, 5), "csv", AT + timedelta(milliseconds=1))

    assert first == "tca-fills-D3-D5-20261207T140312.456Z.csv" and later == "tca-fills-D3-D5-20261207T140312.457Z.csv"
    assert exports.filename("audit-trail", exports.ALL, "xlsx", AT) == "audit-trail-all-20261207T140312.456Z.xlsx"
    assert exports.filename('x "by venue"/../y', "all", "csv", AT) == "x-by-venue-..-y-all-20261207T140312.456Z.csv"


@pytest.mark.parametrize("fmt, content_type", [("csv", "text/csv; charset=utf-8"),
                                               ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
def test_the_response_is_an_attachment_with_its_type_and_a_distinct_file_name(fmt, content_type):
    response = exports.export_response([Table("t", ["a"], [[1]])], fmt, _meta(stem='tca summary "by venue"/../x'), preamble=False)

    assert response.status_code == 200 and response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="tca-summary-by-venue-..-x-D3-D5-20261207T140312.456Z.{fmt}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    if fmt == "xlsx":
        assert _book(response.content)["t"]["A2"].value == 1
    else:
        assert response.content == b"a\r\n1\r\n"


def test_a_report_of_several_tables_answers_the_named_one_as_csv_and_names_the_file_after_it():
    tables = [Table("summary", ["a"], [[1]]), Table("fills", ["b"], [[2]])]

    first = exports.export_response(tables, "csv", _meta(stem="tca-parent-42"))
    fills = exports.export_response(tables, "csv", _meta(stem="tca-parent-42"), table="fills")

    assert csv_file(first.content)[1] == [["a"], ["1"]] and csv_file(fills.content)[1] == [["b"], ["2"]]
    assert fills["Content-Disposition"] == 'attachment; filename="tca-parent-42-fills-D3-D5-20261207T140312.456Z.csv"'


def test_an_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError):
        exports.render([Table("t", ["a"], [])], "pdf")


def test_a_table_the_report_does_not_have_is_a_programming_error():
    with pytest.raises(ValueError, match="no table"):
        exports.export_response([Table("summary", ["a"], [])], "csv", _meta(), table="fills")
