"""Celery tasks of the EMS (thin: load, call a service)."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from django.conf import settings

from ems import selectors
from ems.services.ticks import TICK_TASK
from oms.selectors import instrument_list
from oms.services import market_prices_update

log = logging.getLogger(__name__)


@shared_task(name="ems.tasks.market_prices_refresh", ignore_result=True)
def market_prices_refresh() -> int:
    """Write the current market price of every active instrument to the OMS (beat: every 2 s).

    Idempotent: a run only ever moves a price forward in time (see ``market_prices_update``).
    """
    equities = list(instrument_list())
    # Options are priced off their underlying's mid at the same moment (ems.option_market).
    ticks = selectors.market_prices([*equities, *selectors.options_on(i.pk for i in equities)])
    written = market_prices_update(prices=ticks)
    log.debug("market prices refreshed: %s of %s instruments", written, len(ticks))
    return written


@shared_task(name=TICK_TASK, bind=True, ignore_result=True, acks_late=True)
def instrument_tick(self, instrument_id: int, day: int, token: int | None = None) -> dict | None:
    """Work every parent of one instrument-day up to market time now; the tick enqueues the next one after its
    commit, on this worker's own queue (see ``ems.services.working.instrument``).

    Idempotent and safe under ``acks_late``: a redelivered tick of a chain that has moved on does nothing (its
    ``token`` is behind), a tick finding the instrument-day locked by another returns at once, and each fill's
    unique exec_id is the last word on double booking.
    """
    from ems.services.ticks import Worker, worker_queue
    from ems.services.working.instrument import instrument_day_tick, this_process

    host = self.request.hostname
    worker = Worker(host, worker_queue(host)) if host else this_process()
    result = instrument_day_tick(instrument_id=instrument_id, day=day, token=token, worker=worker)
    if result is None:
        return None
    return {"version": result.version, "active": result.active, "rebuilt": result.rebuilt, "parents": len(result.parents),
            "fills": sum(r.fills for r in result.parents.values())}


@shared_task(name="ems.tasks.instrument_days_sweep", ignore_result=True)
def instrument_days_sweep() -> int:
    """Restart the tick chains that stopped (a worker died mid-chain); beat runs it every few seconds."""
    from ems.services.ticks import instrument_days_rebalance
    from ems.services.ticks import instrument_days_sweep as sweep

    n = sweep()
    if settings.EMS_REBALANCE:
        # The workers that answer a ping now: a worker just added gets its share of the instrument-days.
        replies = current_app.control.ping(timeout=0.5) or []
        moves = instrument_days_rebalance([name for reply in replies for name in reply])
        if moves:
            log.info("instrument-days handed over: %s", moves)
    return n


@shared_task(name="ems.tasks.aggregation_cycle", ignore_result=True, acks_late=True)
def aggregation_cycle() -> dict:
    """Group accepted orders into parent orders, netting opposing ones (safe when two run at once)."""
    from ems.services.aggregation import aggregation_cycle as cycle
    from oms.roles import Actor

    result = cycle(actor=Actor.system("ems.aggregation_cycle"))
    return {"aggregated": result.aggregated, "crossed_quantity": result.crossed_quantity}


@shared_task(name="ems.tasks.orders_expire_day", ignore_result=True)
def orders_expire_day() -> int:
    """Expire DAY orders from an earlier market day that no parent works (beat: every 10 s).

    Market days follow one another under the live clock (SIM_SPEED), so "the end of the day" is the open
    of the current market day, in wall time. Orders in a parent expire with their parent instead.
    """
    from datetime import UTC, datetime

    from oms.roles import Actor
    from oms.services.lifecycle import orders_expire_day as expire

    clock = selectors.live_clock()
    opened = datetime.fromtimestamp(clock.wall_time(clock.day, 0), UTC)
    return expire(before=opened, actor=Actor.system("orders_expire_day"))
