"""Transaction cost analysis data: per-fill and per-parent figures computed once from the deterministic
market's tape (so that every report is a grouping the database does), reconciliation runs, imported
outside executions, and what-if replays.

Sign convention everywhere (DESIGN.md §8): slippage and markouts in bps are **positive when better for
us** than the benchmark (bought below it / sold above it); so are the
implementation-shortfall components in currency (saved against the paper portfolio: a cost is negative). Prices are Decimal, quantities integers.

Units (``tca.measures``, "Units"): quantities in the instrument's unit (contracts of an option), prices per share,
every currency column (``notional``, the ``is_*`` components, slippage in currency) price x quantity x the
instrument's contract multiplier (migration ``tca 0003`` rescaled the option rows stored before).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

PX = {"max_digits": 18, "decimal_places": 6}
BPS = {"max_digits": 12, "decimal_places": 4}
CCY = {"max_digits": 24, "decimal_places": 6}


class FillMetrics(models.Model):
    """Benchmarks at one fill, from the market tape (the market model rebuilt with every fill of ours)."""

    fill = models.OneToOneField("ems.Fill", on_delete=models.CASCADE, related_name="tca", primary_key=True)
    mid = models.DecimalField(**PX, help_text="Market mid at the fill")
    spread_bps = models.DecimalField(**BPS, null=True, blank=True, help_text="Consolidated bid/ask spread at the fill, bps of the mid")
    effective_spread_bps = models.DecimalField(**BPS, help_text="2 x |price - mid| / mid, bps")
    spread_capture = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True,
                                         help_text="Share of the half-spread captured: 1 = traded at our own side's touch, 0 = at the mid, -1 = paid the far touch")
    markout_1s_bps = models.DecimalField(**BPS, null=True, blank=True)
    markout_10s_bps = models.DecimalField(**BPS, null=True, blank=True)
    markout_60s_bps = models.DecimalField(**BPS, null=True, blank=True)
    markout_300s_bps = models.DecimalField(**BPS, null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)


class ParentTCA(models.Model):
    """One parent's TCA: its benchmarks and costs, computed when it has closed (``tca.tasks.tca_refresh``)."""

    parent = models.OneToOneField("ems.ParentOrder", on_delete=models.CASCADE, related_name="tca", primary_key=True)
    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4)
    strategy = models.CharField(max_length=6, db_index=True)
    market_day = models.IntegerField(db_index=True)
    start_us = models.BigIntegerField(help_text="Execution window start (the parent's start), µs since the open")
    end_us = models.BigIntegerField(help_text="Execution window end (its last fill, or its close), µs since the open")
    quantity = models.PositiveBigIntegerField()
    filled_quantity = models.PositiveBigIntegerField()
    avg_price = models.DecimalField(**PX, null=True, blank=True)
    notional = models.DecimalField(**CCY, help_text="Currency: sum of price x quantity x the instrument's multiplier")
    fees = models.DecimalField(**CCY)
    decision_price = models.DecimalField(**PX, help_text="Quantity-weighted mid when its orders arrived")
    arrival_price = models.DecimalField(**PX, help_text="Mid when the parent was created")
    interval_vwap = models.DecimalField(**PX, null=True, blank=True, help_text="Market VWAP over the window, our own prints excluded")
    interval_twap = models.DecimalField(**PX, null=True, blank=True)
    open_price = models.DecimalField(**PX, null=True, blank=True)
    close_price = models.DecimalField(**PX, null=True, blank=True)
    prev_close = models.DecimalField(**PX, null=True, blank=True)
    slippage_arrival_bps = models.DecimalField(**BPS, null=True, blank=True)
    slippage_vwap_bps = models.DecimalField(**BPS, null=True, blank=True)
    slippage_twap_bps = models.DecimalField(**BPS, null=True, blank=True)
    slippage_open_bps = models.DecimalField(**BPS, null=True, blank=True)
    slippage_close_bps = models.DecimalField(**BPS, null=True, blank=True)
    slippage_prev_close_bps = models.DecimalField(**BPS, null=True, blank=True)
    # Implementation shortfall against the decision price (Perold), currency (x the multiplier), positive = better (a cost is negative).
    is_delay = models.DecimalField(**CCY)
    is_timing = models.DecimalField(**CCY)
    is_impact = models.DecimalField(**CCY)
    is_opportunity = models.DecimalField(**CCY)
    is_fees = models.DecimalField(**CCY)
    is_total = models.DecimalField(**CCY)
    participation = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True,
                                        help_text="Our filled quantity / market volume over the window")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["market_day", "strategy"])]


class ReconciliationRun(models.Model):
    """One reconciliation of fills, allocations, orders and internal crosses; its result is also audited."""

    ran_at = models.DateTimeField(auto_now_add=True, db_index=True)
    parents_checked = models.PositiveIntegerField(default=0)
    orders_checked = models.PositiveIntegerField(default=0)
    crosses_checked = models.PositiveIntegerField(default=0)
    ok = models.BooleanField()
    breaks = models.JSONField(default=list, help_text="[{code, object_type, object_id, detail, expected, found}]")

    class Meta:
        ordering = ["-id"]


class ImportSet(models.Model):
    """Outside executions imported as CSV for TCA (kept whole: a file with a bad row imports nothing)."""

    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=160, help_text="browser:<user> | api:<client>")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    rows = models.PositiveIntegerField()
    quantity = models.PositiveBigIntegerField()
    avg_price = models.DecimalField(**PX)
    avg_benchmark = models.DecimalField(**PX)
    slippage_bps = models.DecimalField(**BPS)
    slippage_ccy = models.DecimalField(**CCY)

    class Meta:
        ordering = ["-id"]


class ImportedExecution(models.Model):
    """One row of an imported CSV: ``child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price``."""

    import_set = models.ForeignKey(ImportSet, on_delete=models.CASCADE, related_name="executions")
    line = models.PositiveIntegerField(help_text="Line number in the file (the header is line 1)")
    child_order_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    venue = models.CharField(max_length=32)
    order_type = models.CharField(max_length=16)
    side = models.CharField(max_length=4)
    quantity = models.PositiveBigIntegerField()
    price = models.DecimalField(**PX)
    benchmark_price = models.DecimalField(**PX)
    slippage_bps = models.DecimalField(**BPS)
    slippage_ccy = models.DecimalField(**CCY)

    class Meta:
        ordering = ["import_set_id", "line"]


class WhatIf(models.Model):
    """A completed parent re-run with another algorithm or parameters on the same market path."""

    parent = models.ForeignKey("ems.ParentOrder", on_delete=models.CASCADE, related_name="what_ifs")
    strategy = models.CharField(max_length=6)
    params = models.JSONField(help_text="The AlgoParams it ran with")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    fills = models.JSONField(help_text="[[market_time_us, venue, liquidity, qty, price, fee], ...]")
    summary = models.JSONField(help_text="Filled, average price, fees, slippage vs each benchmark, by venue")

    class Meta:
        ordering = ["-id"]
