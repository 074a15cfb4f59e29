"""Import of executions done elsewhere, for their TCA: a CSV in, per-row slippage and totals out.

The file (UTF-8, an optional byte-order mark) has exactly this header, then one execution per line::

    child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price

* ``child_order_id``: 1-64 characters; ``venue``: 1-32; ``order_type``: 1-16 (kept as given, lower-cased);
* ``timestamp``: ISO 8601 **with** a UTC offset (``2026-11-26T14:30:00.250+01:00`` or ``...Z``); a time
  without an offset is refused, not guessed;
* ``side``: ``buy`` or ``sell``; ``quantity``: a whole number > 0;
* ``price``, ``benchmark_price``: decimal numbers > 0 with at most 6 decimals (no exponent, no NaN).

Each row gets its slippage against its benchmark, ``bps = s (B - P) / B * 1e4`` and ``ccy = s (B - P) q``
(s = +1 buy, -1 sell: **positive = better than the benchmark**); the set gets quantity-weighted totals:
``avg_price = sum q P / sum q``, ``avg_benchmark = sum q B / sum q``, ``slippage_bps = sum s q (B - P) /
sum q B * 1e4`` (the bps of the summed currency amounts) and ``slippage_ccy = sum s q (B - P)``.

All or nothing: a file with any bad row is refused whole (``ImportRejected``, code ``tca.import_invalid``,
every bad row listed as ``{line, field, code, detail}``, line 1 being the header), as is an empty file
(``tca.import_empty``: nothing, or only a header), a wrong header (``tca.import_bad_header``) and a file over
``MAX_ROWS`` rows or ``MAX_BYTES`` (``tca.import_too_large``). A good file is stored as one ``ImportSet`` with
its ``ImportedExecution`` rows (COPY) and the audit event ``tca.import`` in one transaction, and can be
reopened (``tca.selectors.import_set_get`` / ``tca.reports.import_set_report``).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import ROUND_DOWN, Context, Decimal, DecimalException, InvalidOperation, Overflow, localcontext

from django.db import transaction
from django.utils import timezone

from ems.sim.measures import slippage_bps
from oms import role_names, roles
from oms.audit_events import AuditEventType
from oms.db import insert_rows
from oms.error_codes import FieldErrorCode
from oms.errors import DomainError, NotPermitted, ValidationFailed
from oms.models import Side
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.services.order_parse import has_invalid_characters, printable
from tca.error_codes import ImportRowErrorCode, TcaErrorCode
from tca.models import ImportedExecution, ImportSet

HEADER = ("child_order_id", "timestamp", "venue", "order_type", "side", "quantity", "price", "benchmark_price")
MAX_ROWS = 100_000
MAX_BYTES = 20 * 1024 * 1024
ERRORS_LISTED = 1000  # a file of 100,000 bad rows lists this many (``errors_total`` counts all)
BPS_Q = Decimal("0.0001")
MAX_PRICE = Decimal("999999999999.999999")  # what the price columns (18 digits, 6 decimals) hold
MAX_BPS = Decimal("99999999.9999")
MAX_CCY = Decimal("999999999999999999.999999")
MAX_QTY = 2**63 - 1  # the bigint columns, for a row and for a set's total
MAX_QTY_DIGITS = len(str(MAX_QTY))
# Exact for every product and sum of in-range values (quantity 19 digits x price 18 = 37, times 100,000 rows),
# trapping what would otherwise round silently or raise later; values are range-checked before any arithmetic.
ARITHMETIC = Context(prec=60, Emax=99, Emin=-99, traps=[InvalidOperation, Overflow])
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INT = re.compile(r"^[+-]?\d+$")
IMPORTERS = frozenset({role_names.PM, role_names.TRADER, role_names.API_CLIENT, role_names.ADMIN})


class ImportRejected(DomainError):
    """A CSV that imports nothing: ``code`` says why; ``extra["errors"]`` lists each bad row."""

    status = 400


def _text_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _error(line: int, field: str | None, code: str, detail: str) -> dict:
    return {"line": line, "field": field, "code": code, "detail": detail}


def _decimal(raw: str, line: int, field: str, errors: list) -> Decimal | None:
    if not _DECIMAL.match(raw):
        errors.append(_error(line, field, ImportRowErrorCode.NOT_A_NUMBER, f"{field} {raw[:40]!r} is not a decimal number"))
        return None
    try:
        value = Decimal(raw)  # plain digits only (no exponent): exact, whatever its length
    except InvalidOperation:
        errors.append(_error(line, field, ImportRowErrorCode.NOT_A_NUMBER, f"{field} {raw[:40]!r} is not a decimal number"))
        return None
    if value <= 0:
        errors.append(_error(line, field, ImportRowErrorCode.NOT_POSITIVE, f"{field} must be greater than 0, not {raw}"))
        return None
    if value > MAX_PRICE:
        errors.append(_error(line, field, ImportRowErrorCode.TOO_LARGE, f"{field} {raw} is too large"))
        return None
    if value.as_tuple().exponent < PRICE_Q.as_tuple().exponent and value != value.quantize(PRICE_Q, rounding=ROUND_DOWN, context=ARITHMETIC):
        errors.append(_error(line, field, ImportRowErrorCode.TOO_MANY_DECIMALS, f"{field} {raw} has more than 6 decimals"))
        return None
    return value


def _row(values: list[str], line: int, errors: list) -> dict | None:
    """Parse one data row; append its problems to ``errors`` (all of them, not just the first)."""
    before = len(errors)
    if len(values) != len(HEADER):
        errors.append(_error(line, None, ImportRowErrorCode.COLUMN_COUNT, f"expected {len(HEADER)} values, found {len(values)}"))
        return None
    raw = dict(zip(HEADER, (v.strip() for v in values), strict=True))
    for field in HEADER:  # the rule for every text input (oms.services.order_parse.has_invalid_characters)
        if has_invalid_characters(raw[field]):
            errors.append(_error(line, field, FieldErrorCode.INVALID_CHARACTERS,
                                 f"{field} {printable(raw[field])[:60]!r} contains control, format or invalid Unicode characters"))
            raw[field] = ""
    if len(errors) > before:
        return None
    for field, most in (("child_order_id", 64), ("venue", 32), ("order_type", 16)):
        if not raw[field]:
            errors.append(_error(line, field, FieldErrorCode.REQUIRED, f"{field} is required"))
        elif len(raw[field]) > most:
            errors.append(_error(line, field, ImportRowErrorCode.TOO_LONG, f"{field} is longer than {most} characters"))
    ts = None
    try:
        ts = datetime.fromisoformat(raw["timestamp"]) if raw["timestamp"] else None
        if ts is None:
            errors.append(_error(line, "timestamp", FieldErrorCode.REQUIRED, "timestamp is required"))
        elif ts.tzinfo is None or ts.utcoffset() is None:
            errors.append(_error(line, "timestamp", ImportRowErrorCode.TIMESTAMP_NO_OFFSET,
                                 f"timestamp {raw['timestamp'][:40]!r} has no UTC offset (add Z or +hh:mm)"))
            ts = None
    except ValueError:
        errors.append(_error(line, "timestamp", ImportRowErrorCode.BAD_TIMESTAMP, f"timestamp {raw['timestamp'][:40]!r} is not ISO 8601"))
    side = raw["side"].lower()
    if side not in ("buy", "sell"):
        errors.append(_error(line, "side", ImportRowErrorCode.BAD_SIDE, f"side must be buy or sell, not {raw['side'][:20]!r}"))
    qty = None
    if not _INT.match(raw["quantity"]):
        errors.append(_error(line, "quantity", ImportRowErrorCode.NOT_INTEGER, f"quantity {raw['quantity'][:40]!r} is not a whole number"))
    elif len(raw["quantity"].lstrip("+-").lstrip("0")) > MAX_QTY_DIGITS:  # before int(), which refuses 4,300+ digits
        errors.append(_error(line, "quantity", ImportRowErrorCode.TOO_LARGE, "quantity is too large"))
    else:
        digits = int(raw["quantity"].lstrip("+-").lstrip("0") or "0")  # leading zeros count towards int()'s limit
        qty = -digits if raw["quantity"].startswith("-") else digits
        if qty <= 0:
            errors.append(_error(line, "quantity", ImportRowErrorCode.NOT_POSITIVE, f"quantity must be greater than 0, not {qty}"))
        elif qty > MAX_QTY:
            errors.append(_error(line, "quantity", ImportRowErrorCode.TOO_LARGE, "quantity is too large"))
    price = _decimal(raw["price"], line, "price", errors)
    bench = _decimal(raw["benchmark_price"], line, "benchmark_price", errors)
    if len(errors) > before:
        return None
    s = Side(side).sign
    with localcontext(ARITHMETIC):
        bps = slippage_bps(side, price, bench)
        ccy = s * (bench - price) * qty
        if abs(bps) > MAX_BPS or abs(ccy) > MAX_CCY:
            errors.append(_error(line, "price", ImportRowErrorCode.OUT_OF_RANGE, "the slippage of this row against its benchmark is out of range"))
            return None
        bps, ccy = bps.quantize(BPS_Q), ccy.quantize(PRICE_Q)
    return {"line": line, "child_order_id": raw["child_order_id"], "timestamp": ts, "venue": raw["venue"],
            "order_type": raw["order_type"].lower(), "side": side, "quantity": qty, "price": price,
            "benchmark_price": bench, "slippage_bps": bps, "slippage_ccy": ccy}


def executions_parse(text: str) -> list[dict]:
    """Parse and check a whole file; return its rows or raise ``ImportRejected`` (see the module docstring)."""
    if _text_size(text) > MAX_BYTES:
        raise ImportRejected(TcaErrorCode.IMPORT_TOO_LARGE, f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ImportRejected(TcaErrorCode.IMPORT_EMPTY, "The file is empty: expected the header " + ",".join(HEADER) + " and rows")
    if "\x00" in text:
        lines = [n for n, chunk in enumerate(text.split("\n"), start=1) if "\x00" in chunk][:ERRORS_LISTED]
        errors = [_error(n, None, ImportRowErrorCode.NUL_BYTE, "the line contains a NUL byte (not a text CSV?)") for n in lines]
        raise ImportRejected(TcaErrorCode.IMPORT_INVALID, f"{len(lines)} line(s) contain NUL bytes", extra={"errors": errors, "errors_total": len(errors)})
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ImportRejected(TcaErrorCode.IMPORT_BAD_HEADER, f"The header cannot be read: {exc}") from None
    found = tuple(h.strip().lower() for h in header)
    if found != HEADER:
        shown = [printable(h.strip()) for h in header]  # safe to echo: no surrogate or control character
        raise ImportRejected(TcaErrorCode.IMPORT_BAD_HEADER,
                             f"The header must be exactly {','.join(HEADER)}; found {','.join(shown)[:200]}",
                             extra={"expected": list(HEADER), "found": shown[:20]})
    rows: list[dict] = []
    errors: list[dict] = []
    line = reader.line_num
    n = 0
    while True:
        start = line + 1  # a quoted value may span lines: a row is named by the line it starts on
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(_error(start, None, ImportRowErrorCode.BAD_CSV, str(exc)))
            break
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue  # a blank line
        n += 1
        if n > MAX_ROWS:
            raise ImportRejected(TcaErrorCode.IMPORT_TOO_LARGE, f"The file has more than {MAX_ROWS:,} rows")
        try:
            row = _row(values, start, errors)
        except DecimalException:  # not reachable with the checks above; a row error all the same, never a 500
            errors.append(_error(start, "price", ImportRowErrorCode.OUT_OF_RANGE, "the values of this row are out of range"))
            row = None
        if row is not None:
            rows.append(row)
    if errors:
        raise ImportRejected(TcaErrorCode.IMPORT_INVALID, f"{len(errors)} problem(s) in the file; nothing was imported",
                             extra={"errors": errors[:ERRORS_LISTED], "errors_total": len(errors)})
    if not rows:
        raise ImportRejected(TcaErrorCode.IMPORT_EMPTY, "The file has a header but no executions")
    _check_totals(rows)
    return rows


def _check_totals(rows: list[dict]) -> None:
    """Refuse a set whose totals the set's columns cannot hold, naming the row at which the running total
    passes the bound: the quantity (bigint) or the slippage in currency (``slippage_ccy``, numeric(24, 6))."""
    qty = 0
    ccy = Decimal(0)
    with localcontext(ARITHMETIC):
        for r in rows:
            qty += r["quantity"]
            ccy += r["slippage_ccy"]
            if qty > MAX_QTY:
                problem = _error(r["line"], "quantity", ImportRowErrorCode.TOTAL_OUT_OF_RANGE,
                                 f"the total quantity passes {MAX_QTY:,} (the most a set can hold) at this row: split the file")
            elif abs(ccy) > MAX_CCY:
                problem = _error(r["line"], "price", ImportRowErrorCode.TOTAL_OUT_OF_RANGE,
                                 "the total slippage in currency passes what a set can hold at this row: split the file")
            else:
                continue
            raise ImportRejected(TcaErrorCode.IMPORT_INVALID, "The set's totals are out of range; nothing was imported",
                                 extra={"errors": [problem], "errors_total": 1})


def executions_totals(rows: list[dict]) -> dict:
    """Quantity-weighted totals of parsed rows: quantity, avg_price, avg_benchmark, slippage_bps and _ccy."""
    with localcontext(ARITHMETIC):
        return _totals(rows)


def _totals(rows: list[dict]) -> dict:
    qty = sum(r["quantity"] for r in rows)
    notional = sum(r["quantity"] * r["price"] for r in rows)
    bench = sum(r["quantity"] * r["benchmark_price"] for r in rows)
    ccy = sum(r["slippage_ccy"] for r in rows)
    return {"rows": len(rows), "quantity": qty, "avg_price": (notional / qty).quantize(PRICE_Q),
            "avg_benchmark": (bench / qty).quantize(PRICE_Q),
            "slippage_bps": max(-MAX_BPS, min(MAX_BPS, (ccy / bench * 10_000).quantize(BPS_Q))),
            "slippage_ccy": ccy.quantize(PRICE_Q)}


_COLUMNS = ["import_set_id", "line", "child_order_id", "timestamp", "venue", "order_type", "side", "quantity", "price",
            "benchmark_price", "slippage_bps", "slippage_ccy"]


def executions_import(*, name: str, text: str, user, actor: Actor) -> ImportSet:
    """Import a CSV of outside executions whole (or raise ``ImportRejected``); audited "tca.import".

    Anyone who works orders may import (PM, trader, API client, admin); compliance reads imported sets but
    changes nothing, so it is refused (``tca.import_not_permitted``).
    """
    if roles.role_of(user) not in IMPORTERS:
        raise NotPermitted(TcaErrorCode.IMPORT_NOT_PERMITTED, "Your role may not import executions")
    if name and has_invalid_characters(name):  # the API checks it first; the browser's upload form relies on this
        raise ValidationFailed({"name": [{"code": FieldErrorCode.INVALID_CHARACTERS,
                                          "detail": "name must not contain control characters, format characters or invalid Unicode"}]})
    name = (name or "").strip()[:200] or f"import {timezone.now():%Y-%m-%d %H:%M:%S}"
    rows = executions_parse(text)
    totals = executions_totals(rows)
    with transaction.atomic():
        import_set = ImportSet.objects.create(name=name, uploaded_by=user if getattr(user, "pk", None) else None,
                                              source=actor.source, **totals)
        insert_rows(ImportedExecution._meta.db_table, "id", _COLUMNS,
                    [[import_set.pk, *(r[c] for c in _COLUMNS[1:])] for r in rows])
        audit_append([PendingEvent(actor, AuditEventType.TCA_IMPORT, "import_set", import_set.pk, after={"name": name, **totals})])
    return import_set
