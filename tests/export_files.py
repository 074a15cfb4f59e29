"""Reading the exported files as a person's tools would (oms.exports): a CSV's header block and its one table,
an XLSX sheet's header block and its table."""

from __future__ import annotations

import csv
import io
import re

_SKIP = re.compile(r"skip the first (\d+) lines")


def csv_file(response_or_bytes) -> tuple[dict[str, str], list[list[str]]]:
    """A CSV export: its header block as {label: value} and its table (header row first). The block is read
    the documented way: the first line's count of lines to skip, checked against the "# " lines and the empty line."""
    data = content(response_or_bytes).decode("utf-8")
    lines = data.split("\r\n")
    meta: dict[str, str] = {}
    if lines[0].startswith("# "):
        skip = int(_SKIP.search(lines[0]).group(1))
        assert all(line.startswith("# ") for line in lines[: skip - 1]) and lines[skip - 1] == "", lines[:skip]
        for line in lines[1 : skip - 1]:
            label, _, value = line[2:].partition(": ")
            meta[label] = value
        data = "\r\n".join(lines[skip:])
    return meta, list(csv.reader(io.StringIO(data, newline="")))


def csv_table(response_or_bytes) -> list[list[str]]:
    """A CSV export's table (header row first), past its header block."""
    return csv_file(response_or_bytes)[1]


def sheet_file(sheet) -> tuple[dict[str, str], list[tuple]]:
    """An XLSX worksheet: its header block as {label: value} and its table (header row first): the block is the
    rows above the frozen pane's last row (the header)."""
    values = list(sheet.iter_rows(values_only=True))
    header_row = int(re.sub(r"\D", "", sheet.freeze_panes or "A2")) - 1  # the pane freezes the rows up to the header
    meta = {}
    for row in values[: header_row - 1]:
        if row and row[0]:
            label, _, value = str(row[0]).partition(": ")
            meta[label] = value
    return meta, values[header_row - 1 :]


def sheet_table(sheet) -> list[tuple]:
    return sheet_file(sheet)[1]


def content(response_or_bytes) -> bytes:
    if isinstance(response_or_bytes, bytes):
        return response_or_bytes
    if getattr(response_or_bytes, "streaming", False):
        return b"".join(response_or_bytes.streaming_content)
    return response_or_bytes.content
