"""A listed option's whole path on a real Celery worker (issue 22, "how it is checked"): a PM's 500-lot put order
passes the option risk limbs, is aggregated into a parent whose strategy is RFQ with the reason naming the option,
the simulated market makers quote it on the worker, the RFQ executes at its window's end, the order fills, the
position shows the contracts with their delta and vega on /positions/, the parent's TCA measures the RFQ execution
against the model mid, the best and the cover quote, and the audit trail verifies."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from ems.models import ParentOrder
from ems.selectors import position_marks
from ems.services import venues_sync_from_sim
from ems.services.aggregation import aggregation_cycle
from ems.services.ticks import parent_tick_enqueue
from oms.demo import seed_option_chains
from oms.models import Instrument, InstrumentKind, Order, Position, RiskLimit
from oms.roles import Actor
from oms.services import audit_verify
from oms.services.audit_seal import audit_seal
from oms.states import OrderStatus
from rfq.models import RFQ
from rfq.states import RfqStatus
from tca.reports import parent_report
from tests.ems.live_helpers import MarketClock
from tests.rfq.services_helpers import provider
from tests.servers import celery_worker, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pms_500_lot_put_is_worked_by_rfq_and_shows_its_greeks_and_tca(settings, instrument, pm, portfolio, trader, api, client):
    queue = f"test-opt-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue
    settings.RFQ_AUTO_THRESHOLD_BPS = 5000.0
    MarketClock(settings, speed=1.0)
    venues_sync_from_sim()
    seed_option_chains(date.today(), ("ACME",))
    put = (Instrument.objects.filter(kind=InstrumentKind.OPTION, underlying=instrument, option_type="put", strike=Decimal("95"))
           .order_by("expiry")[1])  # the second monthly expiry
    RiskLimit.objects.create(portfolio=None, max_option_contracts=1000, max_net_delta_shares=1_000_000, max_net_vega=Decimal("10000000"))
    for code, latency in (("MMA", 100), ("MMB", 200), ("MMC", 300)):
        provider(code, latency_ms_median=latency, max_size=10_000)
    env = {"DATABASE_URL": database_url(connection.settings_dict), "SIM_ANCHOR": repr(settings.SIM_ANCHOR), "SIM_SPEED": "1",
           "EMS_QUEUE": queue, "EMS_TICK_S": "0.2", "RFQ_WINDOW_S": "1.5", "RFQ_AUTO_THRESHOLD_BPS": "5000"}

    posted = api(pm).post("/api/orders/", {
        "client_order_id": "PUT-500", "portfolio": portfolio.code, "instrument": put.symbol, "side": "buy", "quantity": 500,
        "order_type": "market", "time_in_force": "day", "urgency": "medium", "strategy": "auto"}, format="json")
    assert posted.status_code == 201, posted.json()
    order = Order.objects.get(pk=posted.json()["id"])

    with celery_worker(env, queue) as log:
        result = aggregation_cycle(actor=Actor.system("test"))
        assert len(result.parents) == 1, result
        parent = ParentOrder.objects.get(pk=result.parents[0])
        assert parent.strategy == "rfq" and "option" in parent.selection_reason, parent.selection_reason
        parent_tick_enqueue(parent.id, countdown=0)
        done = wait_for(lambda: ParentOrder.objects.filter(pk=parent.id, status="FILLED").exists(), 90, every_s=0.3)
        worker_log = log.read_text()
    parent.refresh_from_db()
    assert done, (parent.status, parent.filled_quantity, worker_log[-4000:])
    assert "Traceback" not in worker_log, worker_log[-4000:]

    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and order.filled_quantity == 500
    rfq = RFQ.objects.get(parent=parent, status=RfqStatus.EXECUTED)
    assert rfq.executed_quantity == 500 and rfq.source == "ems"
    position = Position.objects.get(portfolio=portfolio, instrument=put)
    assert position.quantity == 500

    client.force_login(pm)
    page = client.get("/positions/").content.decode()
    mark = position_marks([Position.objects.select_related("portfolio", "instrument", "instrument__market_price").get(pk=position.pk)])[0]
    assert mark["greeks"]["delta"] < 0 < mark["greeks"]["vega"]  # a long put: short delta, long vega
    delta = float(re.search(r'<td class="num delta">([^<]+)</td>', page).group(1).replace(",", "").replace("\u2212", "-"))
    vega = float(re.search(r'<td class="num vega">([^<]+)</td>', page).group(1).replace(",", ""))
    assert delta == pytest.approx(mark["greeks"]["delta"], rel=0.1) and vega == pytest.approx(mark["greeks"]["vega"], rel=0.1)
    assert put.symbol in page and "Net delta (sh)" in page

    [x] = parent_report(user=trader, parent_id=parent.pk)["rfq_executions"]
    bench = {b["name"]: b for b in x["benchmarks"]}
    assert x["quotes_received"] >= 1 and x["quantity"] == 500 and x["multiplier"] == 100
    assert bench["model_mid"]["price"] is not None and bench["model_mid"]["slippage_ccy"] is not None
    assert bench["best_quote"]["slippage_bps"] == 0  # the auto-execution took the best quote

    audit_seal()
    assert audit_verify().ok
