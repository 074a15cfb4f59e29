"""tca.exports: every column of every TCA table has a readable title with its unit in the one catalogue
(tca.exports.COLUMNS), signed figures say "+ = better", and the tables of a parent's report."""

from __future__ import annotations

import pytest

from oms.exports import column_label
from tca import exports
from tca.api import serializers as shapes
from tca.api.filters import GROUP_BY

SIGNED = {"slippage_arrival_bps", "slippage_vwap_bps", "slippage_arrival_ccy", "slippage_bps", "slippage_ccy", "is_bps",
          "vs_mid_bps", "cost_arrival_bps", "shortfall_ccy", "shortfall_bps", "spread_capture",
          "markout_1s_bps", "markout_10s_bps", "markout_60s_bps", "markout_300s_bps"}


def _every_code() -> set[str]:
    codes = {*exports.FILL_COLUMNS, *exports.SUMMARY_COLUMNS[1:], *(g for g, _ in GROUP_BY), *exports.BEST_EXECUTION_COLUMNS,
             *exports.IMPORT_COLUMNS, *exports.PARENT_COLUMNS, "component", "shortfall_ccy", "shortfall_bps"}
    for shape in (shapes.BenchmarkSerializer, shapes.ReportVenueSerializer, shapes.ReportChildSerializer,
                  shapes.ReportOrderSerializer, shapes.ReportFillSerializer):
        codes |= set(shape().fields)
    return codes


def test_every_exported_column_has_a_title_in_the_catalogue():
    assert _every_code() - set(exports.COLUMNS) == set()
    assert all(exports.COLUMNS[c].title != c for c in _every_code())  # words, not the field code


def test_every_signed_figure_says_plus_is_better_and_nothing_else_does():
    labelled = {c for c in _every_code() if "+ = better" in column_label(exports.COLUMNS[c])}
    assert labelled == SIGNED & _every_code()


@pytest.mark.parametrize(("code", "label"), [
    ("quantity", "Quantity (shares)"), ("price", "Price (USD)"), ("slippage_arrival_bps", "Slippage vs arrival (bps, + = better)"),
    ("executed_at", "Executed at (UTC)"), ("clock", "Market time"), ("market_time_us", "Market time (µs since the open)"),
    ("notional", "Notional (USD)"), ("markout_300s_bps", "Markout 5 min (bps, + = better)"),
])
def test_the_tca_titles_read_as_a_person_would_say_them(code, label):
    assert column_label(exports.COLUMNS[code], "USD") == label


def test_rows_table_takes_dict_rows_and_leaves_missing_keys_empty():
    table = exports.rows_table("r", [{"quantity": 1, "price": 2}, {"quantity": 3}], ["quantity", "price"], currency="EUR")
    assert list(table.rows) == [[1, 2], [3, None]]
    assert table.labels() == ["Quantity (shares)", "Price (EUR)"]
