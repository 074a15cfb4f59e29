"""Import of outside executions: a good file gets per-row slippage and quantity-weighted totals and can be
reopened; any bad row, an empty file, a wrong header or a file too large imports nothing, with a code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import DomainError
from oms.models import AuditEvent
from oms.roles import Actor
from tca.models import ImportedExecution, ImportSet
from tca.reports import import_set_report
from tca.selectors import import_set_get, import_sets
from tca.services import ImportRejected, executions_import
from tca.services import imports as imports_module

pytestmark = pytest.mark.django_db
HEADER = "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price"
GOOD = (
    f"{HEADER}\n"
    "C-1,2026-11-26T14:30:00.250+01:00,XLON,limit,buy,1000,100.10,100.00\n"
    "C-2,2026-11-26T13:31:00Z,XPAR,market,BUY,3000,99.95,100.00\n"
    "C-3,2026-11-26T09:32:00-05:00,XNYS,limit,sell,500,50.25,50.00\n"
)


def _import(user, text, name="broker fills"):
    return executions_import(name=name, text=text, user=user, actor=Actor.for_user(user, "api"))


def _rejected(user, text) -> ImportRejected:
    before = (ImportSet.objects.count(), ImportedExecution.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ImportRejected) as exc:
        _import(user, text)
    assert (ImportSet.objects.count(), ImportedExecution.objects.count(), AuditEvent.objects.count()) == before
    assert exc.value.status == 400
    return exc.value


def test_a_good_file_gets_per_row_slippage_and_weighted_totals(trader):
    s = _import(trader, GOOD)

    report = import_set_report(s)
    rows = report["rows"]
    assert [r["line"] for r in rows] == [2, 3, 4]
    # buy 1,000 at 100.10 vs 100.00: paid 10 bps more -> -10 bps, -100.00
    assert rows[0]["slippage_bps"] == Decimal("-10.0000") and rows[0]["slippage_ccy"] == Decimal("-100.000000")
    # buy 3,000 at 99.95 vs 100.00: +5 bps, +150.00; side normalised to lower case
    assert rows[1]["slippage_bps"] == Decimal("5.0000") and rows[1]["slippage_ccy"] == Decimal("150.000000") and rows[1]["side"] == "buy"
    # a sell above its benchmark is better: +50 bps, +125.00
    assert rows[2]["slippage_bps"] == Decimal("50.0000") and rows[2]["slippage_ccy"] == Decimal("125.000000")
    assert rows[0]["timestamp"].isoformat() == "2026-11-26T13:30:00.250000+00:00"
    t = report["totals"]
    assert t["quantity"] == 4500 and t["rows"] == 3
    assert t["avg_price"] == Decimal("94.461111")  # (100100 + 299850 + 25125) / 4500
    assert t["avg_benchmark"] == Decimal("94.444444")  # (100000 + 300000 + 25000) / 4500
    assert t["slippage_ccy"] == Decimal("175.000000")
    assert t["slippage_bps"] == Decimal("4.1176")  # 175 / 425,000 x 1e4: the bps of the summed currency
    event = AuditEvent.objects.get(event_type="tca.import", object_id=str(s.pk))
    assert event.object_type == "import_set" and event.after["rows"] == 3
    assert s.source == "api:desk_trader" and s.uploaded_by == trader


def test_an_imported_set_can_be_reopened_by_its_owner_and_the_desk(pm, other_pm, trader, compliance):
    s = _import(pm, GOOD)
    assert import_set_report(import_set_get(user=pm, set_id=s.pk))["totals"]["quantity"] == 4500
    assert import_set_get(user=trader, set_id=str(s.pk)) is not None
    assert import_set_get(user=compliance, set_id=s.pk) is not None
    assert import_set_get(user=other_pm, set_id=s.pk) is None
    assert import_set_get(user=pm, set_id="not-a-number") is None
    assert list(import_sets(user=other_pm)) == [] and list(import_sets(user=pm)) == [s]


def test_every_bad_row_is_reported_with_its_line_field_and_code_and_nothing_is_imported(trader):
    text = (
        f"{HEADER}\n"
        "C-1,2026-11-26T14:30:00+01:00,XLON,limit,buy,1000,100.10,100.00\n"  # good
        "C-2,2026-11-26T14:30:00,XLON,limit,buy,1000,100.10,100.00\n"  # 3: no offset
        "C-3,yesterday,XLON,limit,buy,0,abc,100.00\n"  # 4: timestamp, quantity 0, price
        "C-4,2026-11-26T14:30:00Z,XLON,limit,hold,-5,100.1234567,-1\n"  # 5: side, qty < 0, decimals, benchmark
        "C-5,2026-11-26T14:30:00Z,XLON,limit,sell,10.5,1e3,NaN\n"  # 6: qty not integer, price exponent, NaN
        ",2026-11-26T14:30:00Z,,,buy,10,1,1\n"  # 7: three required
        "C-7,2026-11-26T14:30:00Z,XLON\n"  # 8: too few values
    )
    err = _rejected(trader, text)
    assert err.code == "tca.import_invalid"
    found = {(e["line"], e["field"], e["code"]) for e in err.extra["errors"]}
    assert found == {
        (3, "timestamp", "timestamp_no_offset"),
        (4, "timestamp", "bad_timestamp"), (4, "quantity", "not_positive"), (4, "price", "not_a_number"),
        (5, "side", "bad_side"), (5, "quantity", "not_positive"), (5, "price", "too_many_decimals"),
        (5, "benchmark_price", "not_positive"),
        (6, "quantity", "not_integer"), (6, "price", "not_a_number"), (6, "benchmark_price", "not_a_number"),
        (7, "child_order_id", "required"), (7, "venue", "required"), (7, "order_type", "required"),
        (8, None, "column_count"),
    }
    assert err.extra["errors_total"] == len(found)
    assert all(e["detail"] for e in err.extra["errors"])


@pytest.mark.parametrize("text", ["", "   \n\n", HEADER + "\n", "\ufeff" + HEADER + "\n\n"])
def test_an_empty_file_or_a_header_alone_is_refused(trader, text):
    assert _rejected(trader, text).code == "tca.import_empty"


@pytest.mark.parametrize("header", [
    "child_order_id,timestamp,venue,order_type,side,quantity,price",  # a column missing
    "child_order_id,timestamp,venue,order_type,side,qty,price,benchmark_price",  # renamed
    "timestamp,child_order_id,venue,order_type,side,quantity,price,benchmark_price",  # reordered
    "a;b;c",
])
def test_wrong_columns_are_refused(trader, header):
    err = _rejected(trader, header + "\nC-1,2026-11-26T14:30:00Z,XLON,limit,buy,1,1,1\n")
    assert err.code == "tca.import_bad_header" and err.extra["expected"][0] == "child_order_id"


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(trader):
    s = _import(trader, "\ufeff" + GOOD.replace("\n", "\r\n"))
    assert s.rows == 3


def test_nul_bytes_are_refused_with_their_line(trader):
    err = _rejected(trader, GOOD + "C-9,2026-11-26T14:30:00Z,XL\x00N,limit,buy,1,1,1\n")
    assert err.code == "tca.import_invalid" and err.extra["errors"] == [
        {"line": 5, "field": None, "code": "nul_byte", "detail": "the line contains a NUL byte (not a text CSV?)"}]


def test_a_file_over_the_row_limit_is_refused(trader, monkeypatch):
    monkeypatch.setattr(imports_module, "MAX_ROWS", 5)
    row = "C-1,2026-11-26T14:30:00Z,XLON,limit,buy,1,1,1\n"
    assert _import(trader, HEADER + "\n" + row * 5).rows == 5
    assert _rejected(trader, HEADER + "\n" + row * 6).code == "tca.import_too_large"


def test_a_file_over_20_mb_is_refused_before_it_is_parsed(trader):
    huge = HEADER + "\n" + ("C-1,2026-11-26T14:30:00Z,XLON,limit,buy,1,1,1\n" * (21 * 1024 * 1024 // 46))
    assert len(huge.encode()) > 20 * 1024 * 1024
    assert _rejected(trader, huge).code == "tca.import_too_large"


def test_a_large_good_file_imports_whole(trader):
    rows = "".join(f"C-{i},2026-11-26T14:30:{i % 60:02d}Z,XLON,limit,{'buy' if i % 2 else 'sell'},{100 + i % 7},{100 + i % 13 / 100:.2f},100.00\n"
                   for i in range(20_000))
    s = _import(trader, HEADER + "\n" + rows)
    assert s.rows == 20_000 and ImportedExecution.objects.filter(import_set=s).count() == 20_000
    assert s.quantity == sum(100 + i % 7 for i in range(20_000))


def test_compliance_reads_but_may_not_import(compliance):
    with pytest.raises(DomainError) as exc:
        _import(compliance, GOOD)
    assert exc.value.code == "tca.import_not_permitted" and exc.value.status == 403
    assert not ImportSet.objects.exists()
