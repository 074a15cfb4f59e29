"""The kill switch's target, from the API and from the desk's form: a symbol matches in any case, as on
every other endpoint (``msft`` halts the MSFT parent); an unknown instrument or portfolio is a 400
``kill_switch.unknown_target`` naming the field, with nothing halted, no child cancelled and no audit row."""

from __future__ import annotations

import html

import pytest

from ems.models import ChildOrder, ParentOrder
from ems.states import Control, ExecStatus
from oms.models import AuditEvent
from tests.ems import factories as f
from tests.factories import InstrumentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

KILL = "/api/kill-switch/"
FORM = "/desk/execution/kill-switch/"


@pytest.fixture
def msft_and_acme(pm, portfolio, instrument):
    """A working MSFT parent and a working ACME parent, each with an open child, both for portfolio A."""
    msft = InstrumentFactory(symbol="MSFT", reference_price="400.00")
    parents = []
    for inst in (msft, instrument):
        p = f.parent(instrument=inst, orders=[f.order(portfolio=portfolio, instrument=inst, user=pm)])
        f.child(parent=p)
        parents.append(p)
    return parents


def _controls() -> dict[str, str]:
    return dict(ParentOrder.objects.values_list("instrument__symbol", "control"))


def _nothing_happened(audit_before: int) -> None:
    assert set(_controls().values()) == {Control.RUNNING}
    assert not ChildOrder.objects.filter(status=ExecStatus.PENDING_CANCEL).exists()
    assert AuditEvent.objects.count() == audit_before  # a refused request writes no audit row


def test_a_lower_case_symbol_halts_that_instruments_parent(trader_api, msft_and_acme):
    msft, acme = msft_and_acme

    response = trader_api.post(KILL, {"scope": "instrument", "instrument": "msft"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["instrument"] == "MSFT" and body["parent_ids"] == [msft.id] and body["parents_halted"] == 1
    assert body["children_cancelled"] == 1
    assert _controls() == {"MSFT": Control.HALTED, "ACME": Control.RUNNING}
    engaged = AuditEvent.objects.get(event_type="kill_switch.engaged")
    assert engaged.object_id == "instrument:MSFT" and engaged.after["target"] == "MSFT"


@pytest.mark.parametrize(("body", "field"), [
    ({"scope": "instrument", "instrument": "NOPE"}, "instrument"),
    ({"scope": "portfolio", "portfolio": "NO-SUCH-BOOK"}, "portfolio"),
])
def test_an_unknown_target_is_refused_and_halts_nothing(trader_api, msft_and_acme, body, field):
    before = AuditEvent.objects.count()

    response = trader_api.post(KILL, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    error = response.json()
    assert error["code"] == "kill_switch.unknown_target" and error["field"] == field and body[field] in error["detail"]
    _nothing_happened(before)


def test_a_portfolio_code_matches_exactly_as_on_the_order_endpoints(trader_api, msft_and_acme, portfolio):
    before = AuditEvent.objects.count()
    response = trader_api.post(KILL, {"scope": "portfolio", "portfolio": portfolio.code.lower() + "x"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "kill_switch.unknown_target"
    _nothing_happened(before)

    response = trader_api.post(KILL, {"scope": "portfolio", "portfolio": portfolio.code}, format="json")
    assert response.status_code == 200 and response.json()["parents_halted"] == 2


def test_the_desk_form_halts_by_a_lower_case_symbol(client, trader, msft_and_acme):
    client.force_login(trader)

    response = client.post(FORM, {"scope": "instrument", "instrument": "msft"})

    assert response.status_code == 200
    assert "Kill switch: halted instrument MSFT" in response.content.decode()
    assert _controls() == {"MSFT": Control.HALTED, "ACME": Control.RUNNING}


@pytest.mark.parametrize(("form", "shown"), [
    ({"scope": "instrument", "instrument": "NOPE"}, "Unknown instrument 'NOPE'"),
    ({"scope": "portfolio", "portfolio": "NO-SUCH-BOOK"}, "Unknown portfolio 'NO-SUCH-BOOK'"),
])
def test_the_desk_form_shows_the_refusal_of_an_unknown_target(client, trader, msft_and_acme, form, shown):
    client.force_login(trader)
    before = AuditEvent.objects.count()

    response = client.post(FORM, form)

    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert 'role="alert"' in page and shown in page and "kill_switch.unknown_target" in page
    _nothing_happened(before)
