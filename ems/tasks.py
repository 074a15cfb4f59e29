"""Celery tasks of the EMS (thin: load, call a service)."""

from __future__ import annotations

import logging

from celery import shared_task

from ems import selectors
from oms.selectors import instrument_list
from oms.services import market_prices_update

log = logging.getLogger(__name__)


@shared_task(name="ems.tasks.market_prices_refresh", ignore_result=True)
def market_prices_refresh() -> int:
    """Write the current market price of every active instrument to the OMS (beat: every 2 s).

    Idempotent: a run only ever moves a price forward in time (see ``market_prices_update``).
    """
    ticks = selectors.market_prices(instrument_list())
    written = market_prices_update(prices=ticks)
    log.debug("market prices refreshed: %s of %s instruments", written, len(ticks))
    return written
