"""The RFQ platform's data: liquidity providers (simulated market makers), requests for quote, the
providers each request went to (with exactly what they were sent) and their quotes.

Statuses move only through the tables in ``rfq/states.py``; every move writes its audit row in the same
transaction (``rfq.*`` / ``quote.*`` events), and django-pghistory keeps the row history of providers
(admin edits of a profile) and requests.
"""

from __future__ import annotations

from decimal import Decimal

import pghistory
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from oms.models import Side
from rfq.states import QuoteStatus, RfqStatus

# Quotes stay firm long enough for a person to use them (docs/rfq.md, "How long a quote is firm"): reading a
# four-row ladder and clicking takes a trader 5-8 s, so a provider of this platform holds a quote at least
# 10 s (capped at the window's end); it does not re-quote when the quote lapses.
FIRM_QUOTE_MIN_MS = 10_000


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), model_name="LiquidityProviderHistory", append_only=True)
class LiquidityProvider(models.Model):
    """A simulated market maker's profile: what it quotes, how often and how fast it answers, how wide it
    quotes for a size and a volatility, which way it leans, how much it shows and its last look.

    Spread quoted around the mid, in bps, for a request of ``q`` shares of an instrument with ADV ``adv``
    and daily volatility ``vol`` (fraction):

        half_spread_bps = base_spread_bps + size_coef_bps * 100 * q / adv + vol_coef * vol * 10_000 * sqrt(q / adv)

    The skew moves both sides of the quote by ``skew_bps`` (positive: it wants to buy, so it bids and
    offers higher). Its scorecard (response rate, hit ratio, competitiveness, markouts) is computed from
    history (``rfq.selectors.provider_scorecards``), never typed in.
    """

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)
    instruments = models.ManyToManyField("oms.Instrument", blank=True, related_name="liquidity_providers",
                                         help_text="Instruments it quotes; none selected = every instrument")
    response_probability = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.85"),
                                               help_text="Chance it answers a request at all (else it declines)")
    latency_ms_median = models.PositiveIntegerField(default=600, help_text="Median response time, ms (log-normal)")
    latency_ms_sigma = models.DecimalField(max_digits=5, decimal_places=3, default=Decimal("0.4"),
                                           help_text="Log-normal sigma of the response time")
    base_spread_bps = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("4"),
                                          help_text="Half-spread quoted for a small size, bps of the mid")
    size_coef_bps = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("1"),
                                        help_text="Extra half-spread per 1% of ADV requested, bps")
    vol_coef = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.5"),
                                   help_text="Multiplier of daily vol (bps) x sqrt(size/ADV) added to the half-spread")
    skew_bps = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("0"),
                                   help_text="Shift of both sides, bps; positive = it leans to buy (higher bid and offer)")
    max_size = models.PositiveBigIntegerField(default=500_000, help_text="Most shares it quotes for; a larger request gets a partial quote")
    partial_probability = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.2"),
                                              help_text="Chance it quotes only part of a request it could take whole")
    quote_life_ms = models.PositiveIntegerField(default=FIRM_QUOTE_MIN_MS, validators=[MinValueValidator(FIRM_QUOTE_MIN_MS)],
                                                help_text="How long a quote stays firm, ms: at least 10,000 (a person's time to "
                                                          "read the ladder and click), capped at the window's end")
    last_look_reject_probability = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.05"),
                                                       help_text="Chance it rejects an acceptance on last look")
    last_look_tolerance_bps = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("10"),
                                                  help_text="It also rejects when the mid moved more than this against it since it quoted")
    seed = models.PositiveIntegerField(default=0, help_text="Its random stream (responses are reproducible per request)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(response_probability__gte=0, response_probability__lte=1), name="lp_response_probability_range"),
            models.CheckConstraint(condition=models.Q(partial_probability__gte=0, partial_probability__lte=1), name="lp_partial_probability_range"),
            models.CheckConstraint(condition=models.Q(last_look_reject_probability__gte=0, last_look_reject_probability__lte=1),
                                   name="lp_last_look_probability_range"),
            models.CheckConstraint(condition=models.Q(base_spread_bps__gte=0), name="lp_base_spread_non_negative"),
            models.CheckConstraint(condition=models.Q(max_size__gt=0), name="lp_max_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class RfqDirection(models.TextChoices):
    """What the providers are told: our side, or a two-way request that hides it."""

    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    TWO_WAY = "two_way", "Two-way"


class RfqMode(models.TextChoices):
    CLICK = "click", "Click to trade"  # a trader clicks a quote
    AUTO = "auto", "Auto-execute"  # the platform executes against the threshold (see RFQ.execute_at)


class RfqExecuteAt(models.TextChoices):
    QUOTE = "quote", "As soon as a quote meets the threshold"
    WINDOW_END = "window_end", "At the window's end, on the best quote within the threshold"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), model_name="RFQHistory", append_only=True, exclude=["updated_at"])
class RFQ(models.Model):
    """A request for quote for (part of) a parent order, sent anonymously to a short list of providers."""

    parent = models.ForeignKey("ems.ParentOrder", on_delete=models.PROTECT, related_name="rfqs")
    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="rfqs")
    side = models.CharField(max_length=4, choices=Side.choices, help_text="Our side (the parent's)")
    direction = models.CharField(max_length=8, choices=RfqDirection.choices, help_text="What the providers are told")
    quantity = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=RfqStatus.choices, default=RfqStatus.CREATED)
    mode = models.CharField(max_length=6, choices=RfqMode.choices, default=RfqMode.CLICK)
    execute_at = models.CharField(max_length=10, choices=RfqExecuteAt.choices, default=RfqExecuteAt.QUOTE)
    threshold_bps = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True,
                                        help_text="Worst acceptable distance from the mid at request, bps (cost to us)")
    threshold_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True,
                                          help_text="Worst acceptable price (a buy pays at most this, a sell gets at least this)")
    window_s = models.DecimalField(max_digits=6, decimal_places=3, help_text="Response window, seconds")
    mid_at_request = models.DecimalField(max_digits=18, decimal_places=6, help_text="Market mid when the request was created")
    market_day = models.IntegerField()
    market_time_us = models.BigIntegerField(help_text="Market time of the request, µs since the open")
    package = models.BooleanField(default=False, help_text="A multi-leg package (its legs in RfqLeg): quantity is packages, prices are net "
                                                           "(what we pay per package; negative = we receive)")
    round = models.PositiveSmallIntegerField(default=1, help_text="Nth request for its parent started by the EMS (0: by a trader)")
    source = models.CharField(max_length=8, choices=[("ems", "EMS strategy"), ("desk", "Trader desk"), ("api", "API")])
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    selection_reason = models.TextField(blank=True, help_text="Why these providers (from their scorecards)")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    window_ends_at = models.DateTimeField(null=True, blank=True, help_text="Server-enforced end of the window")
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True)
    executed_quote = models.ForeignKey("Quote", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey("ems.ChildOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              help_text="The child order the execution was booked on")
    executed_quantity = models.PositiveBigIntegerField(default=0)
    executed_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "RFQ"
        verbose_name_plural = "RFQs"
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="rfq_quantity_positive"),
            models.CheckConstraint(condition=models.Q(executed_quantity__lte=models.F("quantity")), name="rfq_never_overexecuted"),
            models.CheckConstraint(condition=models.Q(window_s__gt=0), name="rfq_window_positive"),
        ]
        indexes = [models.Index(fields=["status", "window_ends_at"]), models.Index(fields=["parent", "status"])]

    def __str__(self) -> str:
        return f"RFQ{self.pk} {self.direction} {self.quantity} {self.instrument_id}"

    @property
    def is_open(self) -> bool:
        return self.status in RfqStatus.open()


class Dissemination(models.Model):
    """One provider a request went to: why it was chosen, exactly what it was sent, whether it answered.

    ``payload`` is the whole message the provider receives (the simulated market maker sees nothing else):
    instrument, size, side or two-way, the window and an opaque ``reference`` that is new for every
    provider and request; never the portfolio, the PM, the parent or any order id.
    """

    rfq = models.ForeignKey(RFQ, on_delete=models.PROTECT, related_name="disseminations")
    provider = models.ForeignKey(LiquidityProvider, on_delete=models.PROTECT, related_name="disseminations")
    reference = models.CharField(max_length=40, unique=True, help_text="Opaque id the provider quotes back")
    rank = models.PositiveSmallIntegerField(help_text="1 = best score")
    score = models.DecimalField(max_digits=10, decimal_places=4)
    reason = models.CharField(max_length=240, help_text="The scorecard figures behind the choice")
    payload = models.JSONField(help_text="Exactly what the provider received")
    sent_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    response = models.CharField(max_length=8, blank=True,
                                choices=[("quoted", "Quoted"), ("declined", "Declined"), ("late", "Late (refused)")])

    class Meta:
        ordering = ["rfq_id", "rank"]
        constraints = [models.UniqueConstraint(fields=["rfq", "provider"], name="dissemination_once_per_provider")]


class Quote(models.Model):
    """A provider's firm quote for a request: a bid and/or an offer with sizes, good until ``valid_until``.

    ``price`` / ``size`` are the side we would trade (the offer when we buy, the bid when we sell);
    ``bps_from_mid`` is its cost against the mid at request time, bps (positive = we pay away from the mid).
    """

    rfq = models.ForeignKey(RFQ, on_delete=models.PROTECT, related_name="quotes")
    provider = models.ForeignKey(LiquidityProvider, on_delete=models.PROTECT, related_name="quotes")
    dissemination = models.OneToOneField(Dissemination, on_delete=models.PROTECT, related_name="quote")
    bid_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    bid_size = models.PositiveBigIntegerField(null=True, blank=True)
    ask_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    ask_size = models.PositiveBigIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=18, decimal_places=6)
    size = models.PositiveBigIntegerField()
    bps_from_mid = models.DecimalField(max_digits=10, decimal_places=3)
    mid_at_quote = models.DecimalField(max_digits=18, decimal_places=6, help_text="Market mid when the provider priced it")
    leg_values = models.JSONField(null=True, blank=True, help_text="A package quote: each leg's model value when the provider "
                                                                   "priced it (decimal strings, in leg order); the split of an execution")
    status = models.CharField(max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.LIVE)
    received_at = models.DateTimeField()
    valid_until = models.DateTimeField()
    status_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rfq_id", "id"]
        constraints = [
            # A package's net price may be zero or negative (a credit); a one-instrument price never is.
            models.CheckConstraint(condition=models.Q(price__gt=0) | models.Q(leg_values__isnull=False), name="quote_price_positive"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="quote_size_positive"),
        ]
        indexes = [models.Index(fields=["rfq", "status"])]


class RfqLeg(models.Model):
    """One leg of a package RFQ: the instrument, our side, its ratio (units per package) and the OMS order's
    parent it executes on (each leg is an order of its own, submitted through the intake, in a parent of its
    own). ``model_value`` / ``vega`` are the model's at request time (per unit); an execution fills every leg
    (``child``, ``executed_price``) in one transaction."""

    rfq = models.ForeignKey(RFQ, on_delete=models.PROTECT, related_name="legs")
    leg_no = models.PositiveSmallIntegerField(help_text="1-4, in the order given")
    parent = models.ForeignKey("ems.ParentOrder", on_delete=models.PROTECT, related_name="rfq_legs")
    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    ratio = models.PositiveIntegerField(help_text="Units of this leg per package (contracts or shares)")
    quantity = models.PositiveBigIntegerField(help_text="ratio x the package quantity")
    model_value = models.DecimalField(max_digits=18, decimal_places=6, help_text="Model value per unit at request")
    vega = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0), help_text="Vega per unit and volatility point at request")
    child = models.ForeignKey("ems.ChildOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    executed_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)

    @property
    def weight(self) -> int:
        """Shares per package (``rfq.package_pricing``: ratio x the contract multiplier)."""
        return self.ratio * self.instrument.multiplier

    class Meta:
        ordering = ["rfq_id", "leg_no"]
        constraints = [
            models.UniqueConstraint(fields=["rfq", "leg_no"], name="rfq_leg_no_unique"),
            models.UniqueConstraint(fields=["rfq", "instrument"], name="rfq_leg_instrument_unique"),
            models.CheckConstraint(condition=models.Q(ratio__gt=0), name="rfq_leg_ratio_positive"),
            models.CheckConstraint(condition=models.Q(leg_no__gte=1, leg_no__lte=4), name="rfq_leg_no_range"),
        ]

    @property
    def sign(self) -> int:
        return 1 if self.side == Side.BUY else -1
