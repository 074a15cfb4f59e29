"""EMS reference data. Parent/child orders, fills and allocations arrive with the execution issues."""

from decimal import Decimal

from django.db import models


class Venue(models.Model):
    """A destination the smart order router can send to: its profile is the simulator's reference data.

    Scorecard figures (fill rate, latency, cost, markouts) are derived from fills, never typed in here.
    """

    class Kind(models.TextChoices):
        LIT = "lit", "Lit exchange"
        DARK = "dark", "Dark pool"
        RFQ = "rfq", "RFQ platform"
        INTERNAL = "internal", "Internal cross"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        HALTED = "halted", "Halted"

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    maker_fee = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"), help_text="Per share; negative = rebate paid to us")
    taker_fee = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"), help_text="Per share; negative = rebate paid to us")
    latency_us = models.PositiveIntegerField(default=500, help_text="One-way order-to-ack latency, microseconds")
    depth_factor = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("1"), help_text="Displayed depth relative to a typical venue")
    market_share = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0"), help_text="Share of lit prints that print here")
    fill_probability = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0"), help_text="Dark: chance per check of hidden contra interest")
    min_size = models.PositiveIntegerField(default=0, help_text="Dark: minimum order size accepted")
    mid_fee = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"), help_text="Dark: fee per share on a midpoint fill")

    class Meta:
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_kind_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE
