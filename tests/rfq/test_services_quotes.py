"""Providers' answers and the response window (rfq.services.quote_submit / quote_decline / rfq_window_close /
rfqs_sweep): the window is the server's, late quotes are refused and kept, a quote's life is enforced, and
a request nobody answers or everybody declines closes and gives its shares back to the parent."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from oms.errors import Conflict, DomainError, NotFound
from rfq.models import RFQ, Dissemination, Quote
from rfq.services import quote_accept, quote_submit, rfq_cancel, rfq_create, rfq_window_close, rfqs_sweep
from rfq.states import QuoteStatus, RfqStatus
from tests.oms.audit_helpers import event_types
from tests.rfq.services_helpers import PROVIDER_ACTOR, decline, dissemination, mid_price, providers, quote

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("three_makers")]


@pytest.fixture
def three_makers(db):
    """Providers MMA, MMB and MMC, each answering and quoting whole."""
    return providers("MMA", "MMB", "MMC")


@pytest.fixture
def rfq(pooled_parent, actor):
    return rfq_create(parent_id=pooled_parent.pk, actor=actor)


def _end_window(rfq: RFQ, seconds_ago: float = 0.5) -> None:
    """Arrange: the window ended ``seconds_ago`` (what the server's clock will say when the next call runs)."""
    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() - timedelta(seconds=seconds_ago))
    rfq.refresh_from_db()


def test_a_quote_in_the_window_is_live_on_our_side_and_moves_the_rfq_to_quoting(rfq):
    q = quote(rfq, "MMA", mid_price(rfq, 5), life_ms=60_000)

    rfq.refresh_from_db()
    assert q.status == QuoteStatus.LIVE and rfq.status == RfqStatus.QUOTING
    assert q.price == q.ask_price and q.size == q.ask_size == rfq.quantity  # we buy: the provider's offer
    assert q.bid_price is not None  # a two-way request got both sides
    assert q.bps_from_mid == ((q.price - rfq.mid_at_request) / rfq.mid_at_request * 10_000).quantize(Decimal("0.001"))
    assert q.valid_until == rfq.window_ends_at  # its life (60 s) is capped at the window's end
    assert dissemination(rfq, "MMA").response == "quoted"
    assert event_types("quote", q.pk) == ["quote.received"] and event_types("rfq", rfq.pk)[-1] == "rfq.quoting"


def test_a_quote_after_the_window_is_stored_refused_and_kept_off_the_rfq(rfq):
    _end_window(rfq)

    q = quote(rfq, "MMA", mid_price(rfq, 5))

    rfq.refresh_from_db()
    assert q.status == QuoteStatus.REFUSED and "after the window closed" in q.status_reason
    assert rfq.status == RfqStatus.SENT  # a refused quote does not count as quoting
    assert dissemination(rfq, "MMA").response == "late"
    assert event_types("quote", q.pk) == ["quote.refused"]


def test_the_window_is_the_servers_a_real_short_window_refuses_what_comes_after_it(pooled_parent, actor):
    # Short, yet long enough that the first answer is in it on a loaded machine.
    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor, window_s=Decimal("2"))
    on_time = quote(rfq, "MMA", mid_price(rfq, 5))
    # Past the window: no client said so, the server's clock does.
    time.sleep(max(0.0, (rfq.window_ends_at - timezone.now()).total_seconds()) + 0.1)

    late = quote(rfq, "MMB", mid_price(rfq, 4))

    assert on_time.status == QuoteStatus.LIVE and late.status == QuoteStatus.REFUSED
    with pytest.raises(Conflict) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=on_time.pk, actor=actor)
    assert exc.value.code == "rfq.window_closed"


def test_a_quote_for_a_closed_rfq_is_refused(rfq, actor):
    rfq_cancel(rfq_id=rfq.pk, actor=actor)
    q = quote(rfq, "MMA", mid_price(rfq, 5))
    assert q.status == QuoteStatus.REFUSED and q.status_reason == "arrived after the RFQ was cancelled"


def test_accept_after_the_window_is_refused_with_window_closed_and_changes_nothing(rfq, actor, pooled_parent):
    q = quote(rfq, "MMA", mid_price(rfq, 5))
    _end_window(rfq)

    with pytest.raises(Conflict) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor)

    assert exc.value.code == "rfq.window_closed" and exc.value.status == 409
    q.refresh_from_db()
    pooled_parent.refresh_from_db()
    assert q.status == QuoteStatus.LIVE and pooled_parent.reserved_quantity == rfq.quantity and pooled_parent.filled_quantity == 0


def test_accept_of_a_quote_past_its_life_is_refused_with_quote_expired(rfq, actor):
    q = quote(rfq, "MMA", mid_price(rfq, 5), life_ms=1)
    time.sleep(0.01)

    with pytest.raises(Conflict) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor)

    assert exc.value.code == "rfq.quote_expired"
    q.refresh_from_db()
    assert q.status == QuoteStatus.LIVE  # refusals change nothing; its lapse (quotes_lapse) expires it


def test_accept_of_an_unknown_quote_or_rfq_is_not_found(rfq, actor):
    other = quote(rfq, "MMA", mid_price(rfq, 5))
    with pytest.raises(NotFound) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=other.pk + 1000, actor=actor)
    assert exc.value.code == "rfq.quote_not_found"
    with pytest.raises(NotFound) as exc:
        quote_accept(rfq_id=rfq.pk + 1000, quote_id=other.pk, actor=actor)
    assert exc.value.code == "rfq.not_found"


def test_accept_on_a_cancelled_rfq_is_refused_with_not_open(rfq, actor):
    q = quote(rfq, "MMA", mid_price(rfq, 5))
    rfq_cancel(rfq_id=rfq.pk, actor=actor)
    with pytest.raises(Conflict) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor)
    assert exc.value.code == "rfq.not_open"
    with pytest.raises(Conflict) as exc:
        rfq_cancel(rfq_id=rfq.pk, actor=actor)
    assert exc.value.code == "rfq.not_open"


def test_a_provider_answering_twice_keeps_its_first_answer(rfq):
    first = quote(rfq, "MMA", mid_price(rfq, 5))
    again = quote(rfq, "MMA", mid_price(rfq, 1))
    assert again.pk == first.pk and again.price == first.price and Quote.objects.filter(rfq=rfq).count() == 1
    decline(rfq, "MMA")  # a late decline of a quoted request changes nothing
    assert dissemination(rfq, "MMA").response == "quoted"


def test_bad_answers_are_refused_with_codes(rfq, pooled_parent, actor):
    ref = dissemination(rfq, "MMA").reference
    good = {"bid_price": Decimal("99.90"), "bid_size": 100, "ask_price": Decimal("100.10"), "ask_size": 100, "life_ms": 1000,
            "mid_at_quote": Decimal("100"), "actor": PROVIDER_ACTOR}
    for change, code in [({"ask_price": Decimal("-1")}, "quote.bad_price"), ({"ask_size": 0}, "quote.bad_size"),
                         ({"life_ms": 0}, "quote.bad_life"), ({"mid_at_quote": 100.0}, "quote.bad_mid"),
                         ({"ask_price": None, "ask_size": None}, "quote.missing_side")]:
        with pytest.raises(DomainError) as exc:
            quote_submit(reference=ref, **{**good, **change})
        assert exc.value.code == code
    with pytest.raises(NotFound) as exc:
        quote_submit(reference="not-a-reference", **good)
    assert exc.value.code == "rfq.reference_not_found"
    assert not Quote.objects.exists()


def test_every_provider_declining_rejects_the_rfq_but_one_quote_keeps_it_open(pooled_parent, actor):
    rejected = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=4_000)
    kept = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=4_000)
    for code in ("MMA", "MMB", "MMC"):
        decline(rejected, code)
    quote(kept, "MMA", mid_price(kept, 5))
    decline(kept, "MMB")
    decline(kept, "MMC")

    rejected.refresh_from_db()
    kept.refresh_from_db()
    pooled_parent.refresh_from_db()
    assert rejected.status == RfqStatus.REJECTED and kept.status == RfqStatus.QUOTING
    assert pooled_parent.reserved_quantity == 4_000  # only the rejected one gave its shares back
    assert list(Dissemination.objects.filter(rfq=rejected).values_list("response", flat=True)) == ["declined"] * 3


def test_the_window_close_does_nothing_early_then_expires_the_rfq_its_quotes_and_releases_the_parent(rfq, pooled_parent, actor):
    q = quote(rfq, "MMA", mid_price(rfq, 5))
    assert rfq_window_close(rfq_id=rfq.pk, actor=actor).status == RfqStatus.QUOTING  # not yet: the window is open

    _end_window(rfq)
    closed = rfq_window_close(rfq_id=rfq.pk, actor=actor)

    q.refresh_from_db()
    pooled_parent.refresh_from_db()
    assert closed.status == RfqStatus.EXPIRED and closed.close_reason == "window ended without an execution"
    assert q.status == QuoteStatus.EXPIRED
    assert pooled_parent.reserved_quantity == 0 and pooled_parent.replan.startswith(f"RFQ {rfq.pk} expired")
    assert rfq_window_close(rfq_id=rfq.pk, actor=actor).status == RfqStatus.EXPIRED  # idempotent
    assert event_types("rfq", rfq.pk).count("rfq.expired") == 1 and event_types("quote", q.pk)[-1] == "quote.expired"
    assert event_types("parent_order", pooled_parent.pk)[-1] == "parent_order.released"


def test_a_window_with_no_quote_expires_and_the_sweep_closes_windows_whose_task_was_lost(pooled_parent, actor):
    silent = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=3_000)
    quoted = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=3_000)
    still_open = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=3_000)
    quote(quoted, "MMB", mid_price(quoted, 5))
    _end_window(silent)
    _end_window(quoted)

    assert rfqs_sweep() == 2

    for r in (silent, quoted, still_open):
        r.refresh_from_db()
    assert silent.status == quoted.status == RfqStatus.EXPIRED and still_open.status == RfqStatus.SENT
    assert silent.close_reason == "window ended with no quote"
    pooled_parent.refresh_from_db()
    assert pooled_parent.reserved_quantity == 3_000
