"""tca.exports on its own: CSV (one table, or titled sections), XLSX (one worksheet per table, numbers as
numbers, instants in UTC, text never a formula), and the download response (content type, file name)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest

from tca import exports
from tca.exports import Table

ROWS = [
    ["EXT-1", Decimal("100.100000"), 1000, datetime(2026, 3, 2, 15, 31, 5, tzinfo=timezone(timedelta(hours=1))), None, True],
    ["=HYPERLINK(\"http://x\")", Decimal("-10.0000"), -5, None, "@SUM(A1)", False],
]
HEADER = ["id", "price", "quantity", "at", "note", "flag"]


def _book(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_one_table_is_a_plain_rfc4180_csv():
    data = exports.csv_bytes([Table("fills", HEADER, ROWS)])

    assert data.startswith(b"id,price,quantity,at,note,flag\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[1] == ["EXT-1", "100.100000", "1000", "2026-03-02T14:31:05+00:00", "", "true"]  # instants in UTC
    assert rows[2][2] == "-5"  # a negative number stays a number


def test_text_that_could_be_a_formula_is_defused_in_the_csv():
    rows = list(csv.reader(io.StringIO(exports.csv_bytes([Table("t", HEADER, ROWS)]).decode())))
    assert rows[2][0] == "'=HYPERLINK(\"http://x\")" and rows[2][4] == "'@SUM(A1)"
    for start in ("+1", "-x", "\tx", "\rx"):
        out = list(csv.reader(io.StringIO(exports.csv_bytes([Table("t", ["a"], [[start]])]).decode(), newline="")))
        assert out[1][0] == "'" + start


def test_several_tables_are_titled_sections_separated_by_an_empty_line():
    data = exports.csv_bytes([Table("benchmarks", ["name", "price"], [["arrival", Decimal("100")]]), Table("fills", ["id"], [[1], [2]])])

    assert data.decode() == "[benchmarks]\r\nname,price\r\narrival,100\r\n\r\n[fills]\r\nid\r\n1\r\n2\r\n"


def test_the_xlsx_has_a_sheet_per_table_with_a_bold_frozen_header_and_typed_cells():
    book = _book(exports.xlsx_bytes([Table("fills", HEADER, ROWS), Table("totals", ["n"], [[2]])]))

    assert book.sheetnames == ["fills", "totals"]
    sheet = book["fills"]
    assert [c.value for c in sheet[1]] == HEADER and sheet["A1"].font.b and sheet.freeze_panes == "A2"
    assert sheet["B2"].value == pytest.approx(100.1) and sheet["B2"].data_type == "n"
    assert sheet["C3"].value == -5
    assert sheet["D2"].value == datetime(2026, 3, 2, 14, 31, 5)  # UTC, naive (Excel has no time zones)
    assert sheet["E2"].value is None and sheet["F2"].value is True
    # Text that looks like a formula is stored as text, not evaluated.
    assert sheet["A3"].value == "=HYPERLINK(\"http://x\")" and sheet["A3"].data_type == "s"
    assert book["totals"]["A2"].value == 2


def test_sheet_titles_are_made_legal_and_unique():
    tables = [Table("a/b:c*d?[e]", ["x"], []), Table("A/B:C*D?[E]", ["x"], []), Table("x" * 40, ["x"], [])]
    names = _book(exports.xlsx_bytes(tables)).sheetnames
    assert names[0] == "a_b_c_d__e_" and names[1] != names[0] and names[1].lower().startswith("a_b_c_d__e_")
    assert len(names[2]) == 31


def test_control_characters_do_not_break_the_workbook():
    book = _book(exports.xlsx_bytes([Table("t", ["a"], [["be\x01ll\x0b"]])]))
    assert book["t"]["A2"].value == "bell"


def test_rows_table_takes_dict_rows_and_leaves_missing_keys_empty():
    table = exports.rows_table("r", [{"a": 1, "b": 2}, {"a": 3}], ["a", "b"])
    assert list(table.rows) == [[1, 2], [3, None]]


@pytest.mark.parametrize("fmt, content_type", [("csv", "text/csv; charset=utf-8"),
                                               ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
def test_the_response_is_an_attachment_with_its_type_and_a_safe_file_name(fmt, content_type):
    response = exports.export_response([Table("t", ["a"], [[1]])], fmt, 'tca summary "by venue"/../x')

    assert response.status_code == 200 and response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="tca-summary-by-venue-..-x.{fmt}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    if fmt == "xlsx":
        assert _book(response.content)["t"]["A2"].value == 1
    else:
        assert response.content == b"a\r\n1\r\n"


def test_an_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError):
        exports.render([Table("t", ["a"], [])], "pdf")


def test_a_report_without_tables_is_still_a_valid_workbook():
    assert _book(exports.xlsx_bytes([])).sheetnames == ["Sheet"]


def test_datetimes_without_a_zone_are_written_as_given():
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert list(csv.reader(io.StringIO(exports.csv_bytes([Table("t", ["at"], [[naive]])]).decode())))[1] == ["2026-01-02T03:04:05"]
    assert _book(exports.xlsx_bytes([Table("t", ["at"], [[datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)]])]))["t"]["A2"].value == naive
