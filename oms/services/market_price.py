"""The latest market price per instrument, written by the EMS from its market model; read by pre-trade risk.

Price ticks are market data, not state changes of the system of record: they write no audit event (the
audit trail records what the firm decided and did; the price a decision used is written into that
decision's own reason, e.g. an order's deny reason). They live in ``oms_marketprice``, apart from the
instrument row, so that a tick never stamps the reference-data version (``oms.refdata``) and never
invalidates the intake's per-process reference-data cache.
"""

from __future__ import annotations

from django.db import connection

from oms.models import PriceTick


def market_prices_update(*, prices: list[PriceTick]) -> int:
    """Upsert the latest price of each instrument in one statement; return how many rows changed.

    A tick older than the stored one is ignored, so a late or re-delivered refresh task cannot move a
    price back in time.
    """
    if not prices:
        return 0
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO oms_marketprice AS p (instrument_id, bid, ask, mid, last, as_of)
            SELECT * FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[], %s::timestamptz[])
            ON CONFLICT (instrument_id) DO UPDATE
                SET bid = EXCLUDED.bid, ask = EXCLUDED.ask, mid = EXCLUDED.mid, last = EXCLUDED.last, as_of = EXCLUDED.as_of
                WHERE p.as_of < EXCLUDED.as_of
            """,
            [
                [t.instrument_id for t in prices], [t.bid for t in prices], [t.ask for t in prices],
                [t.mid for t in prices], [t.last for t in prices], [t.as_of for t in prices],
            ],
        )
        return cur.rowcount
