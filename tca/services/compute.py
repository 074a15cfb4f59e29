"""Computing a closed parent's TCA once, so that every report is a grouping the database does.

``parent_tca_compute`` rebuilds the parent's instrument-day market exactly as the live driver does (the
seeded model plus every lit and dark fill of ours that day: ``tca.figures.day_market``), reads the
benchmarks off it (``tca.benchmarks``), computes the measures (``tca.measures``) and stores one
``FillMetrics`` row per fill (mid, spreads, spread capture, markouts) and the ``ParentTCA`` row (benchmarks,
slippage against each, implementation shortfall, participation), in one transaction. Storing is an upsert
(``INSERT ... ON CONFLICT (pk) DO UPDATE``): computing again, or two workers computing at once, leave one
row per parent and per fill with the latest figures.

``tca_refresh`` finds the parents to compute by itself (nothing in oms / ems calls into tca): closed
(FILLED, CANCELLED, EXPIRED), without a ``ParentTCA`` row, and whose last markout horizon (300 s of market
time after their last tick) has passed or whose market day is over, oldest first.

The figures are derived data (a pure function of the book and the seed, recomputable at any time): they
are not audited, unlike every change to the book itself.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ems.error_codes import ParentOrderErrorCode
from ems.models import ParentOrder
from ems.selectors import live_clock
from ems.sim.clock import SESSION_US, US
from oms.errors import NotFound
from tca.figures import CLOSED, day_market, parent_figures
from tca.measures import MARKOUT_HORIZONS_S
from tca.models import FillMetrics, ParentTCA

MATURE_US = max(MARKOUT_HORIZONS_S) * US  # the last markout needs this much market time after the last fill
_TCA_FIELDS = [f.name for f in ParentTCA._meta.concrete_fields if not f.primary_key]
log = logging.getLogger(__name__)
_METRIC_FIELDS = [f.name for f in FillMetrics._meta.concrete_fields if not f.primary_key]


def parent_tca_compute(*, parent_id: int, markets: dict | None = None) -> ParentTCA:
    """Compute and store a parent's FillMetrics and ParentTCA (upsert, one transaction); return the row.

    ``markets``: a dict the caller keeps across calls, so that the parents of one instrument-day share one
    rebuilt market (``tca_refresh`` passes one per run)."""
    parent = ParentOrder.objects.select_related("instrument").filter(pk=parent_id).first()
    if parent is None:
        raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
    market = prev = None
    if markets is not None:
        market = _market_cached(markets, parent.instrument, parent.market_day)
        prev = _market_cached(markets, parent.instrument, parent.market_day - 1) if parent.market_day > 0 else None
    figures = parent_figures(parent, market=market, prev_market=prev)
    with transaction.atomic():
        ParentTCA.objects.bulk_create([figures.tca], update_conflicts=True, unique_fields=["parent"], update_fields=_TCA_FIELDS)
        if figures.metrics:
            FillMetrics.objects.bulk_create(figures.metrics, update_conflicts=True, unique_fields=["fill"],
                                            update_fields=_METRIC_FIELDS, batch_size=1000)
    return ParentTCA.objects.get(parent_id=parent.pk)


def _market_cached(cache: dict, instrument, day: int):
    key = (instrument.pk, day)
    if key not in cache:
        cache[key] = day_market(instrument, day)
    return cache[key]


def parents_due() -> list[int]:
    """Ids of the closed parents without TCA whose markouts have matured (oldest first)."""
    mt = live_clock().market_time()
    matured = ParentOrder.objects.filter(market_day__lt=mt.day)
    if mt.t_us >= SESSION_US:
        matured = ParentOrder.objects.filter(market_day__lte=mt.day)
    else:
        matured = matured | ParentOrder.objects.filter(market_day=mt.day, last_tick_us__lte=mt.t_us - MATURE_US)
    # An empty parent (every order cancelled before a fill) has no cost to analyse: never due.
    return list(matured.filter(status__in=CLOSED, tca__isnull=True, quantity__gt=0).order_by("id").values_list("id", flat=True))


def tca_refresh(*, limit: int = 200) -> int:
    """Compute the TCA of up to ``limit`` closed parents that have none yet; return how many were computed.

    Each parent is its own transaction: one that fails is logged and left for the next run without holding
    back the others, and a run cut short leaves the rest for the next one.
    """
    markets: dict = {}
    done = 0
    for parent_id in parents_due()[:limit]:
        try:
            parent_tca_compute(parent_id=parent_id, markets=markets)
        except Exception:  # noqa: BLE001 - one parent's bad data must not stop the others' TCA
            log.exception("tca: parent %s could not be computed", parent_id)
            continue
        done += 1
    return done
