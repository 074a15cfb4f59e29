"""Websocket pushes of the RFQ platform: ``/ws/rfq/<id>/`` (quotes as they arrive, the execution, the
close) and the trader desk. Sent after commit; hints carrying the changed quote so a page can show it at
once, and a page re-fetches its ladder on (re)connect, so a dropped push never leaves a stale screen."""

from __future__ import annotations

import time

from django.db import transaction

from ems.broadcast import DESK_GROUP, parent_group
from oms.broadcast import publisher

QUOTE_EVENTS = frozenset({"quote", "declined", "refused", "last_look_rejected", "lapsed"})


def rfq_group(rfq_id: int) -> str:
    return f"rfq.{rfq_id}"


def quote_payload(quote) -> dict:
    """The quote as the ladder shows it (JSON-ready)."""
    return {
        "id": quote.pk, "provider": quote.provider.code, "provider_name": quote.provider.name,
        "price": str(quote.price), "size": quote.size, "bps_from_mid": str(quote.bps_from_mid),
        "bid_price": None if quote.bid_price is None else str(quote.bid_price), "bid_size": quote.bid_size,
        "ask_price": None if quote.ask_price is None else str(quote.ask_price), "ask_size": quote.ask_size,
        "status": quote.status, "received_at": quote.received_at.isoformat(), "valid_until": quote.valid_until.isoformat(),
    }


def rfq_changed_on_commit(rfq, *, event: str, quote=None) -> None:
    """After commit, tell the RFQ's page and its parent's page (and the desk, when the request opens or
    closes) what changed: ``event`` is one of sent | quote |
    declined | refused | lapsed (a quote's own life ended) | executed | last_look_rejected | expired | cancelled |
    rejected.

    ``published_at`` (unix seconds, taken when the message is handed to the channel layer) lets a client
    and the benchmark measure the push latency."""
    base = {"type": "rfq.changed", "id": rfq.pk, "parent_id": rfq.parent_id, "status": rfq.status, "event": event}
    q = None if quote is None else quote_payload(quote)

    groups = [rfq_group(rfq.pk), parent_group(rfq.parent_id)]
    if event not in QUOTE_EVENTS:  # the desk's list cares about requests opening and closing, not each quote
        groups.append(DESK_GROUP)

    def send() -> None:
        payload = {**base, "quote": q, "published_at": time.time()}
        publisher.publish([(group, payload) for group in groups])

    transaction.on_commit(send)
