"""EMS data: venues, parent and child orders, internal crosses, fills and allocations."""

from decimal import Decimal

from django.db import models

from ems.states import Control, ExecStatus
from oms.models import Side


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


# --- execution: parent orders, child orders, fills, allocations (issue 8) -------------------------------
# Statuses (ExecStatus, Control) and their transition tables live in ems/states.py.

class ParentOrder(models.Model):
    """A meta-order: compatible client orders of one instrument and side, net of internal crosses,
    worked by one execution algorithm."""

    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="parent_orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.PositiveBigIntegerField(help_text="After netting; reduced when a constituent is cancelled")
    filled_quantity = models.PositiveBigIntegerField(default=0)
    reserved_quantity = models.PositiveBigIntegerField(
        default=0, help_text="Held by an outside destination (an open RFQ): the algorithm does not work it")
    notional = models.DecimalField(max_digits=24, decimal_places=6, default=Decimal("0"), help_text="Sum of fill qty x price")
    avg_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    fees = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal("0"), help_text="Currency; negative = net rebate")
    # The intent every constituent shares (the aggregation key).
    order_type = models.CharField(max_length=6, default="market")
    limit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    urgency = models.CharField(max_length=6, default="medium")
    requested_strategy = models.CharField(max_length=6, default="auto")
    max_participation = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True, help_text="Requested end of the working window")
    group_key = models.CharField(max_length=255, db_index=True)
    # What the selection matrix chose, and why.
    strategy = models.CharField(max_length=6)
    params = models.JSONField(default=dict, help_text="The algorithm's AlgoParams as JSON")
    selection_reason = models.TextField(blank=True)
    arrival_price = models.DecimalField(max_digits=18, decimal_places=6, help_text="Mid when the parent was created")
    status = models.CharField(max_length=16, choices=ExecStatus.choices, default=ExecStatus.ACCEPTED)
    control = models.CharField(max_length=8, choices=Control.choices, default=Control.RUNNING)
    # Market time (the simulator's day and µs since the open) of the working window and the last tick.
    market_day = models.IntegerField()
    start_us = models.BigIntegerField()
    end_us = models.BigIntegerField()
    last_tick_us = models.BigIntegerField()
    epoch = models.PositiveIntegerField(default=1, help_text="Plan number: a re-plan (strategy change, cancel, resume) starts a new one")
    replan = models.CharField(max_length=64, blank=True, help_text="Why the next tick must re-plan (empty: no re-plan pending)")
    algo_state = models.JSONField(default=dict, help_text="ExecutionAlgo.state() of the current plan")
    driver_state = models.JSONField(default=dict, help_text="The algorithm context (timers, open orders) between ticks")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(filled_quantity__lte=models.F("quantity")), name="parent_never_overfilled"),
            # What an RFQ holds can never be filled by the algorithm as well.
            models.CheckConstraint(condition=models.Q(reserved_quantity__lte=models.F("quantity") - models.F("filled_quantity")),
                                   name="parent_reserved_within_remaining"),
            models.CheckConstraint(condition=models.Q(side__in=["buy", "sell"]), name="parent_side_valid"),
        ]
        indexes = [models.Index(fields=["status", "control"]), models.Index(fields=["instrument", "market_day"])]

    def __str__(self) -> str:
        return f"P{self.pk} {self.side} {self.quantity} {self.instrument_id} {self.strategy}"

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def workable_quantity(self) -> int:
        """What the algorithm may work: the remaining quantity less what an outside destination holds."""
        return self.quantity - self.filled_quantity - self.reserved_quantity

    @property
    def is_open(self) -> bool:
        return self.status in ExecStatus.open()

    @property
    def is_empty(self) -> bool:
        """Every order of it was cancelled before anything was worked: nothing to execute, show or analyse."""
        return self.quantity == 0


class InstrumentDay(models.Model):
    """The live execution state of one instrument on one market day, shared by all our parents on it.

    One worker process at a time owns it (``owner`` until ``lease_until``) and keeps its market and venue
    simulator in memory; the row holds what a new owner rebuilds from: the simulator's state (``sim_state``:
    our orders at the venues, queues, cursors) and ``version``, which every tick moves on (an owner's
    in-memory copy is good only while its version is the row's). ``chain`` names the one live chain of tick
    tasks (a tick carrying an older one was superseded and does nothing).
    """

    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="+")
    market_day = models.IntegerField()
    owner = models.CharField(max_length=200, blank=True, help_text="The worker process that holds the lease")
    owner_queue = models.CharField(max_length=200, blank=True, help_text="Where that worker takes its ticks")
    lease_until = models.DateTimeField(null=True, blank=True)
    version = models.BigIntegerField(default=0)
    chain = models.BigIntegerField(default=0)
    takeovers = models.PositiveIntegerField(default=0, help_text="How many times a worker took it over (rebuilt it)")
    sim_state = models.JSONField(default=dict, help_text="VenueSimulator.state() after the last tick")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instrument", "market_day"], name="one_live_state_per_instrument_day")]

    def __str__(self) -> str:
        return f"{self.instrument_id}@{self.market_day} v{self.version} {self.owner or '-'}"


class Constituent(models.Model):
    """An original order's place in a parent: the quantity it sent to the market (after its internal
    cross) and what has been allocated to it.

    An order is worked by one parent at a time (``current``), enforced by the database; a GTC order still
    open at the close is carried into a new parent for the next market day (``ems.services.carry_over``),
    and keeps its place in the earlier parents (``current`` false) with that day's allocations."""

    parent = models.ForeignKey(ParentOrder, on_delete=models.PROTECT, related_name="constituents")
    order = models.ForeignKey("oms.Order", on_delete=models.PROTECT, related_name="constituents")
    quantity = models.PositiveBigIntegerField()
    allocated_quantity = models.PositiveBigIntegerField(default=0)
    current = models.BooleanField(default=True, db_default=True, help_text="The parent working the order now (false: an earlier day's)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(allocated_quantity__lte=models.F("quantity")), name="constituent_never_overallocated"),
            models.UniqueConstraint(fields=["parent", "order"], name="one_constituent_per_parent_and_order"),
            models.UniqueConstraint(fields=["order"], condition=models.Q(current=True), name="one_current_parent_per_order"),
        ]


class InternalCross(models.Model):
    """Opposing client orders of one instrument filled against each other at the mid (no fee, no impact)."""

    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="internal_crosses")
    quantity = models.PositiveBigIntegerField()
    price = models.DecimalField(max_digits=18, decimal_places=6)
    market_day = models.IntegerField()
    market_time_us = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="cross_quantity_positive")]


class ChildOrder(models.Model):
    """A slice of a parent sent to one venue (FIX: our ClOrdID here, the venue's OrderID in venue_order_id)."""

    parent = models.ForeignKey(ParentOrder, on_delete=models.PROTECT, related_name="children")
    epoch = models.PositiveIntegerField(default=1)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="child_orders")
    client_order_id = models.CharField(max_length=64, unique=True)  # FIX 11
    venue_order_id = models.CharField(max_length=96, unique=True)  # FIX 37
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=6)
    time_in_force = models.CharField(max_length=3, default="day")
    price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    quantity = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=16, blank=True, help_text="passive | take | dark | finish | route | rfq")
    status = models.CharField(max_length=16, choices=ExecStatus.choices, default=ExecStatus.PENDING_NEW)
    filled_quantity = models.PositiveBigIntegerField(default=0)
    notional = models.DecimalField(max_digits=24, decimal_places=6, default=Decimal("0"))
    avg_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    reason = models.CharField(max_length=64, blank=True, help_text="Venue's reason on reject / cancel / expiry")
    sent_us = models.BigIntegerField(help_text="Market time it was sent, µs since the open")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(filled_quantity__lte=models.F("quantity")), name="child_never_overfilled"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="child_quantity_positive"),
        ]
        indexes = [models.Index(fields=["parent", "status"])]

    @property
    def is_open(self) -> bool:
        return self.status in ExecStatus.open()


class Fill(models.Model):
    """One execution (FIX 35=8 with 150=F). ``exec_id`` is unique: a duplicate report is ignored.

    A fill has one name per stage, and keeps its ``exec_id`` through all of them:

    1. ``ems.sim.orders.Fill``: what a simulated venue reports (inside an ``ExecutionReport``); floats,
       ``qty`` / ``time`` / ``day`` / ``venue``.
    2. ``ems.services.booking.Execution``: the booking input from any destination (a venue's fill, an RFQ
       trade), what ``fill_book`` / ``fills_book`` take; Decimals, ``quantity`` / ``market_time_us`` /
       ``market_day`` / ``venue_code``.
    3. This row: the booked fill, with its child, parent and venue.
    4. ``oms.services.lifecycle.OrderFill``: one original order's share of it (an ``Allocation`` row), applied
       to the order and its position.
    """

    class Liquidity(models.TextChoices):  # FIX 851 LastLiquidityInd, plus our own kinds
        MAKER = "maker", "Maker (passive)"
        TAKER = "taker", "Taker (aggressive)"
        MID = "mid", "Midpoint (dark)"
        RFQ = "rfq", "RFQ"
        INTERNAL = "internal", "Internal cross"

    exec_id = models.CharField(max_length=128, unique=True)  # FIX 17
    instrument = models.ForeignKey("oms.Instrument", on_delete=models.PROTECT, related_name="fills")
    parent = models.ForeignKey(ParentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="fills")
    child = models.ForeignKey(ChildOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="fills")
    cross = models.ForeignKey(InternalCross, null=True, blank=True, on_delete=models.PROTECT, related_name="fills")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="fills")
    side = models.CharField(max_length=4)
    quantity = models.PositiveBigIntegerField()  # FIX 32 LastQty
    price = models.DecimalField(max_digits=18, decimal_places=6)  # FIX 31 LastPx
    liquidity = models.CharField(max_length=8, choices=Liquidity.choices)
    fee = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal("0"), help_text="Currency; negative = rebate")
    allocated_quantity = models.PositiveBigIntegerField(default=0)
    market_day = models.IntegerField()
    market_time_us = models.BigIntegerField(help_text="Transact time, µs since the open (FIX 60)")
    executed_at = models.DateTimeField(help_text="Wall-clock instant of the transact time under the live clock")
    booked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="fill_quantity_positive"),
            models.CheckConstraint(condition=models.Q(allocated_quantity__lte=models.F("quantity")), name="fill_never_overallocated"),
        ]
        indexes = [models.Index(fields=["instrument", "market_day", "market_time_us"]), models.Index(fields=["parent", "id"])]


class Allocation(models.Model):
    """Part of a fill given to one original order (pro rata over a parent's constituents, in whole lots)."""

    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="allocations")
    order = models.ForeignKey("oms.Order", on_delete=models.PROTECT, related_name="allocations")
    parent = models.ForeignKey(ParentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveBigIntegerField()
    price = models.DecimalField(max_digits=18, decimal_places=6)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["fill", "order"], name="allocation_once_per_fill_and_order"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="allocation_quantity_positive"),
        ]
