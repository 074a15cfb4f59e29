"""Strategy selection matrix: one test per row (the row decides, and the reason names the deciding inputs),
the PM's request kept or overruled with a reason, and the table in docs/execution.md rendered from the same rows."""

from pathlib import Path

import pytest

from ems.algos.selection import MATRIX, matrix_markdown, order_features, select_strategy
from ems.algos.types import OrderSpec, StrategyName, Urgency
from ems.sim.clock import SESSION_US, US
from ems.sim.instrument import InstrumentParams

LIQUID = InstrumentParams("ACME", 100.0, 5_000_000, 0.018, 5.0)  # $500M a day, 180 bps vol
VOLATILE = InstrumentParams("VOLT", 40.0, 3_000_000, 0.045, 8.0)  # 450 bps vol
THIN = InstrumentParams("THIN", 20.0, 200_000, 0.025, 25.0)  # $4M a day: illiquid
WIDE = InstrumentParams("WIDE", 100.0, 5_000_000, 0.018, 40.0)  # liquid but a 40 bps spread


def pick(qty, inst=LIQUID, **kw):
    return select_strategy(OrderSpec("buy", qty, **kw), inst)


def test_row_block_large_orders_go_to_rfq():
    s = pick(1_500_000)  # 30% of ADV
    assert (s.rule, s.strategy, s.reason_code) == ("block", StrategyName.RFQ, "select.block")
    assert "30% of ADV" in s.reason and "RFQ" in s.reason


def test_row_illiquid_block_goes_to_rfq():
    s = pick(20_000, THIN)  # 10% of ADV of a $4M-a-day name
    assert (s.rule, s.strategy) == ("illiquid_block", StrategyName.RFQ)
    assert "10% of ADV" in s.reason and "illiquid" in s.reason


def test_row_small_urgent_is_direct_with_parallel_routing():
    s = pick(20_000, urgency=Urgency.HIGH)  # 0.4% of ADV
    assert (s.rule, s.strategy) == ("small_urgent", StrategyName.DIRECT)
    assert s.params["router_mode"] == "parallel"
    assert "0.4% of ADV" in s.reason and "high urgency" in s.reason


def test_row_tiny_is_direct():
    s = pick(1_000)  # 0.02% of ADV, 5 bps spread
    assert (s.rule, s.strategy) == ("tiny", StrategyName.DIRECT)
    assert "0.02% of ADV" in s.reason and "5 bps spread" in s.reason
    assert pick(1_000, WIDE).rule != "tiny"  # not in a 40 bps spread: worth working


def test_row_urgent_is_front_loaded_is():
    s = pick(150_000, urgency=Urgency.HIGH)  # 3% of ADV
    assert (s.rule, s.strategy) == ("urgent", StrategyName.IS)
    assert s.params["urgency"] == "high" and s.params["max_participation"] == 0.25
    assert "3% of ADV" in s.reason and "high urgency" in s.reason and "IS to" in s.reason


def test_row_volatile_is_is_with_medium_risk_aversion():
    s = pick(60_000, VOLATILE)  # 2% of ADV, 450 bps vol
    assert (s.rule, s.strategy) == ("volatile", StrategyName.IS)
    assert s.params["urgency"] == "medium"
    assert "450 bps daily vol" in s.reason


def test_row_thin_name_is_twap():
    s = pick(4_000, THIN)  # 2% of ADV, illiquid
    assert (s.rule, s.strategy) == ("thin_name", StrategyName.TWAP)
    assert "illiquid" in s.reason and "TWAP to" in s.reason


def test_row_large_is_pov_to_the_close():
    s = pick(600_000)  # 12% of ADV
    assert (s.rule, s.strategy) == ("large", StrategyName.POV)
    assert s.params["end"] == SESSION_US and s.params["end_clock"] == "16:00"
    assert "12% of ADV" in s.reason and "max 12% participation" in s.reason


def test_row_passive_limit_is_pov():
    s = pick(100_000, limit_price=99.50)  # buy limit 50 bps under the market
    assert (s.rule, s.strategy) == ("passive_limit", StrategyName.POV)
    assert "passive limit" in s.reason and s.params["limit_price"] == 99.50
    assert pick(100_000, limit_price=100.10).rule == "default"  # marketable limit: the default row


def test_row_patient_is_vwap_to_the_close():
    s = pick(100_000, urgency=Urgency.LOW)
    assert (s.rule, s.strategy) == ("patient", StrategyName.VWAP)
    assert s.params["end_clock"] == "16:00" and "low urgency" in s.reason


def test_row_default_is_vwap_ending_when_the_volume_covers_the_order():
    s = pick(105_000)  # 2.1% of ADV
    assert (s.rule, s.strategy, s.reason_code) == ("default", StrategyName.VWAP, "select.default")
    # the example shape: "2.1% of ADV, medium urgency, 180 bps daily vol -> VWAP to hh:mm, max 10% participation"
    assert s.reason.startswith("2.1% of ADV, market, medium urgency, 180 bps daily vol")
    assert f"VWAP to {s.params['end_clock']}, max 10% participation" in s.reason
    assert s.params["expected_participation"] == pytest.approx(0.05, rel=1e-6)
    later = pick(105_000, start=3 * 3600 * US)
    assert later.params["end"] > s.params["end"]  # same volume takes longer after the morning peak


def test_every_row_has_a_test():
    names = {r.name for r in MATRIX}
    tested = {n.split("test_row_")[1] for n in globals() if n.startswith("test_row_")}
    assert all(any(t.startswith(name) for t in tested) for name in names), names


def test_the_pm_request_is_kept_when_it_can_apply():
    s = pick(105_000, requested=StrategyName.TWAP)
    assert (s.strategy, s.reason_code, s.rule) == (StrategyName.TWAP, "select.requested", "requested")
    assert "requested by the PM" in s.reason and "2.1% of ADV" in s.reason
    s = pick(150_000, requested="is", urgency=Urgency.LOW)
    assert s.strategy is StrategyName.IS and s.params["urgency"] == "low"


def test_auto_lets_the_matrix_choose():
    assert pick(105_000, requested=StrategyName.AUTO).rule == "default"


def test_a_request_that_cannot_apply_is_overruled_and_the_reason_says_why():
    s = pick(600_000, requested=StrategyName.DIRECT)  # 12% of ADV "now"
    assert s.strategy is StrategyName.POV and s.reason_code == "select.requested_overridden.large"
    assert s.reason.startswith("DIRECT cannot apply: 12% of ADV at once")
    s = pick(1_000_000, requested=StrategyName.VWAP, start=5 * 3600 * US)  # 20% of ADV, 1 h before the close
    assert s.strategy is StrategyName.RFQ and s.reason_code == "select.requested_overridden.last_resort"
    assert s.reason.startswith("VWAP cannot apply: it would need") and "by 16:00" in s.reason
    assert "row large skipped: POV cannot apply" in s.reason


def test_row_last_resort_when_no_schedule_can_finish_by_the_end():
    s = pick(150_000, start=SESSION_US - 10 * 60 * US)  # 3% of ADV in the last ten minutes
    assert (s.rule, s.strategy) == ("last_resort", StrategyName.RFQ)
    assert "row default skipped: VWAP cannot apply: it would need" in s.reason


def test_order_features_classify_limit_orders():
    assert order_features(OrderSpec("buy", 100), LIQUID)["order"] == "market"
    assert order_features(OrderSpec("buy", 100, limit_price=100.03), LIQUID)["order"] == "marketable limit"
    assert order_features(OrderSpec("sell", 100, limit_price=100.01), LIQUID)["order"] == "passive limit"
    assert order_features(OrderSpec("sell", 100, limit_price=99.97), LIQUID)["order"] == "marketable limit"


def test_the_docs_show_the_matrix_as_the_code_renders_it():
    table = matrix_markdown()
    assert table.count("\n") == len(MATRIX) + 1
    doc = (Path(__file__).resolve().parents[3] / "docs" / "execution.md").read_text()
    assert "## Strategy selection" in doc
    assert table in doc


def test_a_tiny_passive_limit_is_not_sent_now_it_waits_for_the_market():
    s = pick(1_000, limit_price=99.0)  # 0.02% of ADV, a buy limit below the bid
    assert s.rule == "passive_limit" and s.strategy is StrategyName.POV
    assert "fits the displayed books" not in s.reason and "DIRECT now" not in s.why
    assert pick(1_000, limit_price=101.0).rule == "tiny"  # marketable: it does take the book now


def test_a_requested_direct_on_a_passive_limit_says_it_waits_at_the_limit():
    s = pick(1_000, limit_price=99.0, requested=StrategyName.DIRECT)
    assert s.strategy is StrategyName.DIRECT
    assert s.why.startswith("DIRECT at the limit") and "requested by the PM" in s.why


def test_why_names_the_chosen_strategy_and_its_reason():
    assert pick(1_500_000).why == "RFQ to dealers: a quarter of a day's volume or more: ask dealers for a block price"
    twap = pick(50_000, requested=StrategyName.TWAP)
    assert twap.why.startswith("TWAP to ") and twap.why.endswith("requested by the PM")
    overruled = pick(1_500_000, requested=StrategyName.TWAP)
    assert overruled.why.startswith("TWAP cannot apply") and "instead RFQ to dealers" in overruled.why


def test_row_option_sends_a_listed_option_to_rfq_whatever_its_size_and_says_so():
    option = InstrumentParams("ACME270115P95", reference_price=2.0, adv=20_000, daily_vol=0.02, spread_bps=300, lot_size=1,
                              listed_option=True)
    small = select_strategy(OrderSpec("buy", 10), option)
    assert small.strategy is StrategyName.RFQ and small.rule == "option" and "a listed option" in small.reason
    asked = select_strategy(OrderSpec("sell", 500, requested=StrategyName.VWAP), option)
    assert asked.strategy is StrategyName.RFQ
    assert asked.why.startswith("VWAP cannot apply: a listed option is worked by RFQ")
    assert select_strategy(OrderSpec("buy", 10, requested=StrategyName.RFQ), option).strategy is StrategyName.RFQ
