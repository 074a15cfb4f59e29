"""Celery tasks of TCA (thin: call a service). Beat runs both (config/settings.py CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="tca.tasks.tca_refresh", ignore_result=True)
def tca_refresh(limit: int = 200) -> int:
    """Compute the TCA of closed parents whose markouts have matured (beat: every 5 s).

    Idempotent: a parent with a ``ParentTCA`` row is not picked again, and storing is an upsert, so two
    runs at once compute a parent twice at worst and leave one row.
    """
    from tca.services import tca_refresh as refresh

    done = refresh(limit=limit)
    if done:
        log.info("tca: %s parent(s) computed", done)
    return done


@shared_task(name="tca.tasks.reconciliation_run", ignore_result=True)
def reconciliation_run() -> dict:
    """Reconcile fills, allocations, orders and internal crosses; the run and its audit row are written
    together (beat: every 5 minutes)."""
    from oms.roles import Actor
    from tca.services import reconciliation_run as run

    result = run(actor=Actor.system("tca.reconciliation"))
    if not result.ok:
        log.warning("tca reconciliation %s: %s break(s)", result.pk, len(result.breaks))
    return {"id": result.pk, "ok": result.ok, "breaks": len(result.breaks)}
