"""The role matrix on the RFQ API: traders and admins act, compliance reads everything, a PM or an API client
reads the RFQs of parents holding their orders and acts on none, the providers' scorecards are the desk's."""

from __future__ import annotations

import pytest

from ems.models import Fill
from rfq.models import RFQ
from rfq.states import QuoteStatus, RfqStatus
from tests.ems import factories as f
from tests.ems.live_helpers import working_parent
from tests.rfq.services_helpers import quote, rfq_for

pytestmark = [pytest.mark.django_db]

RFQS = "/api/rfqs/"
LPS = "/api/liquidity-providers/"


@pytest.fixture
def quoted(pm_parent, providers, trader):
    rfq = rfq_for(pm_parent, trader)
    return rfq, quote(rfq, "LPA", "100.10")


@pytest.fixture
def theirs(other_pm, other_portfolio, instrument, providers, trader, clock):
    """An RFQ on a parent holding only pm_b's order."""
    other = working_parent(instrument=instrument, orders=[f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=2000)])
    return rfq_for(other, trader, quantity=1000)


@pytest.mark.parametrize("who", ["pm", "compliance", "api_client_user"])
@pytest.mark.parametrize("action", ["create", "accept", "cancel"])
def test_only_traders_request_accept_and_cancel(request, api, quoted, pm_parent, who, action):
    rfq, q = quoted
    user = request.getfixturevalue(who)
    path, body = {
        "create": (RFQS, {"parent": pm_parent.id, "quantity": 100}),
        "accept": (f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}),
        "cancel": (f"{RFQS}{rfq.id}/cancel/", {}),
    }[action]

    response = api(user).post(path, body, format="json")

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission.trader_only"
    rfq.refresh_from_db()
    q.refresh_from_db()
    assert (rfq.status, q.status, RFQ.objects.count(), Fill.objects.count()) == (RfqStatus.QUOTING, QuoteStatus.LIVE, 1, 0)


def test_an_admin_may_request_and_accept(api, admin_user, pm_parent, providers):
    client = api(admin_user)
    created = client.post(RFQS, {"parent": pm_parent.id, "quantity": 500}, format="json")
    assert created.status_code == 201, created.json()
    rfq = RFQ.objects.get(pk=created.json()["id"])
    q = quote(rfq, "LPB", "100.05")

    accepted = client.post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}, format="json")

    assert accepted.status_code == 200 and accepted.json()["status"] == RfqStatus.EXECUTED


def test_compliance_reads_every_rfq_and_the_scorecards(api, compliance, quoted, theirs):
    rfq, _ = quoted
    client = api(compliance)
    assert client.get(RFQS).json()["count"] == 2
    assert {r["id"] for r in client.get(RFQS).json()["results"]} == {rfq.id, theirs.id}
    assert client.get(f"{RFQS}{theirs.id}/").json()["id"] == theirs.id
    assert client.get(f"{RFQS}{rfq.id}/").json()["ladder"][0]["provider"] == "LPA"
    assert client.get(LPS).json()["count"] == 3


def test_a_pm_reads_no_rfq_not_even_of_their_own_parent(api, pm, quoted, theirs):
    rfq, _ = quoted
    client = api(pm)

    answers = [client.get(RFQS), client.get(f"{RFQS}{rfq.id}/"), client.get(f"{RFQS}{theirs.id}/"),
               client.get(f"{RFQS}?parent={rfq.parent_id}")]

    assert [(r.status_code, r.json()["code"]) for r in answers] == [(403, "permission.desk_only")] * 4
    assert all(str(rfq.id) not in r.content.decode() for r in answers)


def test_a_pm_acting_on_an_rfq_they_cannot_see_is_still_told_trader_only(api, pm, theirs):
    response = api(pm).post(f"{RFQS}{theirs.id}/cancel/", {}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission.trader_only"


def test_an_api_client_reads_no_rfq_not_even_of_its_own_portfolios(api, api_client_user, client_portfolio, instrument, providers, trader, clock):
    mine = working_parent(instrument=instrument, orders=[f.order(portfolio=client_portfolio, instrument=instrument, user=api_client_user, quantity=3000)])
    rfq = rfq_for(mine, trader, quantity=1000)

    for path in (RFQS, f"{RFQS}{rfq.id}/"):
        response = api(api_client_user).get(path)
        assert response.status_code == 403 and response.json()["code"] == "permission.desk_only"


@pytest.mark.parametrize("who", ["pm", "api_client_user"])
def test_the_providers_scorecards_are_for_the_desk(request, api, providers, who):
    response = api(request.getfixturevalue(who)).get(LPS)
    assert response.status_code == 403 and response.json()["code"] == "permission.desk_only"


def test_a_user_without_a_role_reads_nothing(api, quoted):
    from tests.factories import UserFactory

    rfq, _ = quoted
    nobody = UserFactory(username="no_role_rfq")
    for path in (RFQS, f"{RFQS}{rfq.id}/", LPS):
        response = api(nobody).get(path)
        assert response.status_code == 403 and response.json()["code"] == "permission.no_role", path


def test_anonymous_is_told_to_authenticate(client, quoted):
    rfq, q = quoted
    for response in (client.get(RFQS), client.get(LPS), client.post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}, content_type="application/json")):
        assert response.status_code == 401 and response.json()["code"] == "auth.not_authenticated"
