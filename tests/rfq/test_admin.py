"""Admin of the RFQ platform: provider profiles editable with their scorecards beside them; requests,
disseminations and quotes read-only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rfq.models import RFQ, Dissemination, LiquidityProvider, Quote
from rfq.states import QuoteStatus
from tests.rfq.test_selectors import DAY, disseminate, execute, lp, make_parent, make_quote, make_rfq

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(instrument, settings):
    from ems.sim import US
    from tests.ems import factories as f
    from tests.ems.live_helpers import MarketClock

    MarketClock(settings, day=DAY, t_us=60 * 60 * US)
    f.venue()
    parent = make_parent(instrument)
    good, silent = lp("GOOD"), lp("SLNT")
    r = make_rfq(parent)
    make_quote(r, good, "100.04", bps="4")
    disseminate(r, silent, "declined")
    execute(parent, good, quantity=1_000, price="100.03", t_us=600 * US)
    return r, good, silent


def test_provider_changelist_shows_scorecards(admin_client, history):
    rfq, good, silent = history
    page = admin_client.get(reverse("admin:rfq_liquidityprovider_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    for header in ("Response rate", "Hit ratio", "Bps from mid", "Markout bps (n)", "Score"):
        assert f"<span>{header}</span>" in html
    rows = {row.code: row for row in page.context["cl"].result_list}
    assert rows["GOOD"].card.requests == 2 and rows["GOOD"].card.responses == 2 and rows["GOOD"].card.executions == 1
    assert rows["SLNT"].card.requests == 1 and rows["SLNT"].card.responses == 0
    assert "100%" in html and "0%" in html


def test_provider_changelist_computes_scorecards_once_per_page(admin_client, history, instrument):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(reverse("admin:rfq_liquidityprovider_changelist")).status_code == 200
        return len(ctx)

    count()  # warm up (session, content types)
    before = count()
    parent = make_parent(instrument)
    for i in range(5):
        r = make_rfq(parent)
        make_quote(r, lp(f"NEW{i}"), "100.05")
    assert count() == before


def test_provider_change_and_add_pages_render(admin_client, history):
    _, good, _ = history
    page = admin_client.get(reverse("admin:rfq_liquidityprovider_change", args=[good.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for legend in ("Identity", "What it quotes", "Response", "Pricing", "Size", "Last look", "Scorecard"):
        assert legend in html
    assert "response 100% (2/2)" in html
    add = admin_client.get(reverse("admin:rfq_liquidityprovider_add"))
    assert add.status_code == 200 and "no history yet" in add.content.decode()


def test_provider_is_editable(admin_client, history):
    _, good, _ = history
    data = {
        "code": "GOOD", "name": "Good Markets", "is_active": "on", "seed": "5", "response_probability": "0.5",
        "latency_ms_median": "400", "latency_ms_sigma": "0.3", "quote_life_ms": "12000", "base_spread_bps": "2",
        "size_coef_bps": "1", "vol_coef": "0.2", "skew_bps": "1.5", "max_size": "100000", "partial_probability": "0.1",
        "last_look_reject_probability": "0.02", "last_look_tolerance_bps": "5",
    }
    response = admin_client.post(reverse("admin:rfq_liquidityprovider_change", args=[good.pk]), data)
    assert response.status_code == 302
    good.refresh_from_db()
    assert (str(good.response_probability), good.max_size, good.name) == ("0.5000", 100_000, "Good Markets")


def test_rfq_pages_render_read_only_with_their_disseminations_and_quotes(admin_client, history):
    rfq, *_ = history
    assert admin_client.get(reverse("admin:rfq_rfq_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:rfq_rfq_change", args=[rfq.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "SLNT" in html and "GOOD" in html and "100.04" in html and "declined" in html.lower()
    for model in (RFQ, Dissemination, Quote):
        meta = model._meta
        assert admin_client.get(reverse(f"admin:rfq_{meta.model_name}_changelist")).status_code == 200
        assert admin_client.get(reverse(f"admin:rfq_{meta.model_name}_add")).status_code == 403
    obj = Quote.objects.filter(status=QuoteStatus.LIVE).first()
    assert admin_client.get(reverse("admin:rfq_quote_change", args=[obj.pk])).status_code == 200
    response = admin_client.post(reverse("admin:rfq_quote_change", args=[obj.pk]), {"status": "accepted"})
    assert response.status_code == 403
    assert admin_client.post(reverse("admin:rfq_rfq_delete", args=[rfq.pk]), {"post": "yes"}).status_code == 403
    assert RFQ.objects.filter(pk=rfq.pk).exists() and Quote.objects.get(pk=obj.pk).status == QuoteStatus.LIVE


def test_provider_pages_are_for_staff_only(client, trader):
    client.force_login(trader)
    response = client.get(reverse("admin:rfq_liquidityprovider_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert LiquidityProvider.objects.count() == 0
