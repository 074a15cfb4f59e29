"""Celery tasks of the RFQ platform (thin: take ids, load, call a service). Sent by name, after commit, on
the EMS's queue (``ems.destinations.work_queue()``, through ``rfq.services.common.tasks_send_on_commit``).

``provider_respond`` is the simulated market maker: it sees exactly what a real dealer would, the
dissemination's ``payload`` (instrument, side or two-way, size, the window and an opaque reference), plus
its own profile and the market it prices from now; it answers through the same inbound services a
provider's adapter would call (``quote_submit`` / ``quote_decline``).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from celery import shared_task
from django.utils import timezone

from oms.models import Instrument
from oms.money import PRICE_Q
from oms.roles import Actor
from rfq import services
from rfq.models import Dissemination
from rfq.package_pricing import package_respond, signed_sum
from rfq.pricing import QuoteRequest, respond
from rfq.selectors import leg_markets, market_snapshot, provider_profile
from rfq.services.common import PROVIDER_RESPOND, QUOTES_LAPSE, WINDOW_CLOSE, tasks_send_on_commit

log = logging.getLogger(__name__)



@shared_task(name=PROVIDER_RESPOND, ignore_result=True, acks_late=True)
def provider_respond(dissemination_id: int) -> str:
    """Answer one request as its (simulated) provider: a quote or a decline. Idempotent: a dissemination
    answered already is left alone (and the services keep one answer per dissemination)."""
    d = Dissemination.objects.select_related("provider").filter(pk=dissemination_id).first()
    if d is None or d.response:
        return "answered" if d else "unknown"
    payload = d.payload
    if "legs" in payload:
        return _package_respond(d, payload)
    request = QuoteRequest(reference=payload["reference"], symbol=payload["instrument"], side=payload["side"],
                           quantity=int(payload["quantity"]))
    market = market_snapshot(Instrument.objects.get(symbol=request.symbol))
    answer = respond(provider_profile(d.provider), request, market)
    actor = Actor.system("rfq.provider_respond")
    if not answer.quotes:
        services.quote_decline(reference=request.reference, actor=actor, reason=answer.reason)
        return "declined"
    quote = services.quote_submit(
        reference=request.reference, bid_price=_price(answer.bid), bid_size=answer.bid_size, ask_price=_price(answer.ask),
        ask_size=answer.ask_size, life_ms=answer.life_ms, mid_at_quote=_price(market.mid), actor=actor, reason=answer.reason,
    )
    return quote.status


def _package_respond(d: Dissemination, payload: dict) -> str:
    """A package request: the dealer prices every leg from the market now (options on the model) and quotes a
    net price for the whole package (``rfq.package_pricing.package_respond``)."""
    instruments = Instrument.objects.select_related("underlying").in_bulk([leg["instrument"] for leg in payload["legs"]],
                                                                           field_name="symbol")
    legs = leg_markets([(instruments[leg["instrument"]], leg["side"], int(leg["ratio"])) for leg in payload["legs"]])
    answer = package_respond(provider_profile(d.provider), reference=payload["reference"], side=payload["side"],
                             quantity=int(payload["quantity"]), legs=legs)
    actor = Actor.system("rfq.provider_respond")
    if not answer.quotes:
        services.quote_decline(reference=payload["reference"], actor=actor, reason=answer.reason)
        return "declined"
    values = [Decimal(repr(leg.value)).quantize(PRICE_Q) for leg in legs]
    quote = services.quote_submit(
        reference=payload["reference"], bid_price=_price(answer.bid), bid_size=answer.bid_size, ask_price=_price(answer.ask),
        ask_size=answer.ask_size, life_ms=answer.life_ms, mid_at_quote=signed_sum(legs, values), leg_values=values, actor=actor,
        reason=answer.reason,
    )
    return quote.status


def _price(x: float | None) -> Decimal | None:
    # Quoted prices sit on the tick grid, rounded to its decimals: their shortest repr is the exact price.
    return None if x is None else Decimal(repr(x)).quantize(PRICE_Q)


@shared_task(name=WINDOW_CLOSE, ignore_result=True, acks_late=True)
def rfq_window_close(rfq_id: int) -> str | None:
    """Close one request at its window's end (sent for that moment; run early, it sends itself again)."""
    rfq = services.rfq_window_close(rfq_id=rfq_id, actor=Actor.system("rfq.rfq_window_close"))
    if rfq.is_open and rfq.window_ends_at is not None:
        left = (rfq.window_ends_at - timezone.now()).total_seconds()
        if left > 0:
            tasks_send_on_commit([(WINDOW_CLOSE, [rfq_id], left)])
    return rfq.status


@shared_task(name=QUOTES_LAPSE, ignore_result=True, acks_late=True)
def quotes_lapse(rfq_id: int) -> int:
    """Expire the quotes of one request whose life has ended (sent for the instant a quote lapses)."""
    return len(services.quotes_lapse(rfq_id=rfq_id, actor=Actor.system("rfq.quotes_lapse")))


@shared_task(name="rfq.tasks.rfqs_sweep", ignore_result=True)
def rfqs_sweep() -> int:
    """Close the requests whose window ended but whose close task was lost (beat: every second)."""
    return services.rfqs_sweep()
