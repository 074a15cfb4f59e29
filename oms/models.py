"""OMS system of record: reference data, orders, pre-trade risk limits, the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models

from oms.states import OrderStatus


class InstrumentKind(models.TextChoices):
    EQUITY = "equity", "Equity"  # FIX 167 SecurityType=CS
    OPTION = "option", "Listed option"  # =OPT


class OptionType(models.TextChoices):
    CALL = "call", "Call"  # FIX 201 PutOrCall=1
    PUT = "put", "Put"  # =0


class ExerciseStyle(models.TextChoices):
    AMERICAN = "american", "American"  # FIX 1194 ExerciseStyle=1
    EUROPEAN = "european", "European"  # =0


OPTION_MULTIPLIER = 100  # shares per listed equity option contract (FIX 231 ContractMultiplier)


class Instrument(models.Model):
    """A tradable instrument with the reference figures the risk checks and the simulator use.

    An option (``kind`` option) names its underlying, put or call, strike, expiry and exercise style; its
    quantities are contracts and its prices per share, so every notional is price x quantity x ``multiplier``
    (1 for an equity, 100 for a listed equity option by default).
    """

    symbol = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    currency = models.CharField(max_length=3, default="USD")
    tick_size = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0.01"))
    lot_size = models.PositiveIntegerField(default=1)
    reference_price = models.DecimalField(max_digits=18, decimal_places=6)
    adv = models.PositiveBigIntegerField("ADV (shares/day)")
    daily_volatility = models.DecimalField(max_digits=8, decimal_places=6, help_text="Fraction, e.g. 0.02 = 2%/day")
    spread_bps = models.DecimalField(max_digits=8, decimal_places=2)
    is_active = models.BooleanField(default=True)
    kind = models.CharField(max_length=6, choices=InstrumentKind.choices, default=InstrumentKind.EQUITY)
    multiplier = models.PositiveIntegerField(default=1, help_text="Contract multiplier: notional = price x quantity x this")
    underlying = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="options")
    option_type = models.CharField(max_length=4, choices=OptionType.choices, blank=True)  # FIX 201
    strike = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # FIX 202 StrikePrice
    expiry = models.DateField(null=True, blank=True)  # FIX 541 MaturityDate
    exercise_style = models.CharField(max_length=8, choices=ExerciseStyle.choices, blank=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="equity", underlying__isnull=True, option_type="", strike__isnull=True, expiry__isnull=True)
                           | models.Q(kind="option", underlying__isnull=False, option_type__in=["call", "put"], strike__gt=0,
                                      expiry__isnull=False, exercise_style__in=["american", "european"])),
                name="instrument_option_terms_complete",
            ),
            models.CheckConstraint(condition=models.Q(multiplier__gt=0), name="instrument_multiplier_positive"),
        ]

    @property
    def is_option(self) -> bool:
        return self.kind == InstrumentKind.OPTION

    def __str__(self) -> str:
        return self.symbol


class Portfolio(models.Model):
    """A book of positions. PMs and API clients act only on the portfolios they are members of."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="portfolios", blank=True,
        help_text="Portfolio managers who own it and API clients granted to trade it.",
    )
    base_currency = models.CharField(max_length=3, default="USD")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Side(models.TextChoices):
    BUY = "buy", "Buy"  # FIX 54 Side=1
    SELL = "sell", "Sell"  # FIX 54 Side=2

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell (as ``ems.sim.orders.Side.sign``): ``Side(order.side).sign``."""
        return 1 if self is Side.BUY else -1


class OrderType(models.TextChoices):
    MARKET = "market", "Market"  # FIX 40 OrdType=1
    LIMIT = "limit", "Limit"  # FIX 40 OrdType=2


class TimeInForce(models.TextChoices):
    DAY = "day", "Day"  # FIX 59 TimeInForce=0
    GTC = "gtc", "Good till cancel"  # =1
    IOC = "ioc", "Immediate or cancel"  # =3


class Urgency(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Strategy(models.TextChoices):
    AUTO = "auto", "Auto"
    TWAP = "twap", "TWAP"
    VWAP = "vwap", "VWAP"
    POV = "pov", "POV"
    IS = "is", "Implementation shortfall"
    DIRECT = "direct", "Direct"
    RFQ = "rfq", "RFQ"


@pghistory.track(
    pghistory.InsertEvent(), pghistory.UpdateEvent(),
    model_name="OrderHistory", append_only=True, level=pghistory.Statement,  # one trigger run per statement (bulk COPY)
    exclude=["updated_at"],
)
class Order(models.Model):
    """The client's order (FIX: an order with a ClOrdID, tag 11)."""

    client_order_id = models.CharField(max_length=64)  # FIX 11 ClOrdID, unique per source
    # "api:" + a username (up to 150 characters) must fit.
    source = models.CharField(max_length=160, help_text="browser:<user> | api:<client> | fix:<session>")
    # Indexes are kept to what lists and filters use: every index is paid for on every order written.
    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="orders", db_index=False)  # (portfolio, -id) below
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.PositiveBigIntegerField()  # FIX 38 OrderQty
    order_type = models.CharField(max_length=6, choices=OrderType.choices)
    limit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # FIX 44 Price
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.DAY)
    urgency = models.CharField(max_length=6, choices=Urgency.choices, default=Urgency.MEDIUM)
    strategy = models.CharField(max_length=6, choices=Strategy.choices, default=Strategy.AUTO)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    max_participation = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)  # FIX 39
    filled_quantity = models.PositiveBigIntegerField(default=0)  # FIX 14 CumQty
    avg_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # FIX 6 AvgPx
    # Sum of quantity x price over the order's fills, kept as they are booked: AvgPx = fill_notional / CumQty
    # without reading the order's allocations back (a fill of a parent reaches 20 orders; each has hundreds).
    fill_notional = models.DecimalField(max_digits=30, decimal_places=6, default=Decimal("0"))
    notional = models.DecimalField(
        max_digits=22, decimal_places=2, default=Decimal("0"),
        help_text="Quantity x limit price (market orders: x reference price) at submission.",
    )
    reserved_notional = models.DecimalField(
        max_digits=22, decimal_places=2, default=Decimal("0"),
        help_text="Notional booked against the portfolio's daily credit limit (0 when no limit applied).",
    )
    deny_code = models.CharField(max_length=48, blank=True)
    deny_reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "client_order_id"], name="order_unique_client_order_id_per_source"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=models.Q(filled_quantity__lte=models.F("quantity")), name="order_never_overfilled"),
            models.CheckConstraint(
                condition=models.Q(order_type="market") | models.Q(limit_price__isnull=False),
                name="order_limit_has_price",
            ),
        ]
        indexes = [
            models.Index(fields=["portfolio", "-id"]),
            models.Index(fields=["status", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.quantity} {self.instrument_id}"

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in OrderStatus.open_statuses()


class RiskLimit(models.Model):
    """Pre-trade limits (SEC 15c3-5 / MiFID II RTS 6 style).

    One row without a portfolio holds the global limits; a row per portfolio overrides any limb it
    sets (a blank limb falls back to the global one). Blank everywhere means the limb is off.
    """

    portfolio = models.OneToOneField(Portfolio, null=True, blank=True, on_delete=models.CASCADE, related_name="risk_limit")
    max_order_quantity = models.PositiveBigIntegerField(null=True, blank=True)
    max_order_notional = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    price_collar_pct = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True,
        help_text="Limit prices further than this % from the reference price are denied.",
    )
    daily_notional_limit = models.DecimalField(
        max_digits=22, decimal_places=2, null=True, blank=True,
        help_text="Credit limit: gross notional a portfolio may submit per UTC day.",
    )
    duplicate_window_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Same source + same content within this window is denied as a duplicate.",
    )
    max_orders_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Message-rate throttle per source (orders per second).",
    )

    # Options (issue 22; oms.services.risk_greeks, docs/options.md#risk-limits).
    max_option_contracts = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Options: most contracts per order (per leg of a package).",
    )
    max_net_delta_shares = models.PositiveBigIntegerField(
        null=True, blank=True,
        help_text="Most absolute net delta per underlying, in shares (shares held + options' delta x multiplier x contracts).",
    )
    max_net_vega = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True,
        help_text="Most absolute net vega per underlying, in currency per volatility point (vega x multiplier x contracts).",
    )

    LIMBS = (
        "max_order_quantity", "max_order_notional", "price_collar_pct",
        "daily_notional_limit", "duplicate_window_seconds", "max_orders_per_second",
        "max_option_contracts", "max_net_delta_shares", "max_net_vega",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portfolio"], condition=models.Q(portfolio__isnull=True), name="one_global_risk_limit"),
        ]

    def __str__(self) -> str:
        return f"Risk limits ({self.portfolio or 'global'})"


class RestrictedInstrument(models.Model):
    """An instrument nobody (or one portfolio) may trade: the restricted / watch list."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="restrictions")
    portfolio = models.ForeignKey(
        Portfolio, null=True, blank=True, on_delete=models.CASCADE, related_name="restrictions",
        help_text="Blank: restricted for every portfolio.",
    )
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instrument", "portfolio"], name="restriction_unique")]

    def __str__(self) -> str:
        return f"{self.instrument} restricted ({self.portfolio or 'all'})"


class KillSwitch(models.Model):
    """An engaged kill switch (MiFID II RTS 6 art. 12, SEC 15c3-5): while ``lifted_at`` is empty, new orders
    in its scope (every order, one portfolio's or one instrument's) are denied at intake
    (``risk.kill_switch``) and none in scope is aggregated into a parent. Engaged and lifted by a trader
    (``ems.services.control``), each audited; a lifted row is kept as the record."""

    SCOPES = (("all", "Everything"), ("portfolio", "Portfolio"), ("instrument", "Instrument"))

    scope = models.CharField(max_length=16, choices=SCOPES)
    portfolio = models.ForeignKey(Portfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="kill_switches")
    instrument = models.ForeignKey(Instrument, null=True, blank=True, on_delete=models.PROTECT, related_name="kill_switches")
    engaged_at = models.DateTimeField()
    engaged_by = models.CharField(max_length=150)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "portfolio", "instrument"], condition=models.Q(lifted_at__isnull=True),
                                    nulls_distinct=False, name="one_engaged_kill_switch_per_scope"),
        ]

    @property
    def code(self) -> str:
        """The portfolio code or instrument symbol it is engaged on ("" for everything)."""
        return self.portfolio.code if self.portfolio else self.instrument.symbol if self.instrument else ""

    @property
    def target(self) -> str:
        return {"all": "everything", "portfolio": f"portfolio {self.code}", "instrument": f"instrument {self.code}"}[self.scope]

    def __str__(self) -> str:
        return f"Kill switch on {self.target}" + (" (lifted)" if self.lifted_at else "")


class PortfolioDailyUsage(models.Model):
    """Gross notional a portfolio has used against its daily credit limit (one row per UTC day)."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="daily_usage")
    trade_date = models.DateField()
    gross_notional = models.DecimalField(max_digits=24, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portfolio", "trade_date"], name="usage_unique_per_day")]


class AuditEvent(models.Model):
    """One entry of the append-only audit trail, written in the transaction of the change it records.

    Since issue 18 writers take no shared lock: an event is inserted with ``seq``, ``prev_hash`` and ``hash``
    null, and the sealer (``oms.services.audit_seal``) links it into the Merkle tree as it sees it committed and
    hands out its ``seq`` (its position in the log, continuing the chain's numbering). Events written before
    the switch keep their hash chain (``hash = sha256(prev_hash | seq | ts | body)``, gapless ``seq``), verified
    and checkpointed as before. Database triggers refuse DELETE, and every UPDATE but the sealer's one move:
    ``seq`` null -> a value, nothing else changed. (TRUNCATE is a table-owner privilege: in production the
    app's role does not own this table; tests keep it so that the test database can be flushed.)
    """

    seq = models.PositiveBigIntegerField(unique=True, null=True, blank=True)  # null until sealed (chain events: set at write)
    ts = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150)
    actor_type = models.CharField(max_length=16)  # user | api_client | system
    source = models.CharField(max_length=160, blank=True)
    event_type = models.CharField(max_length=48)
    object_type = models.CharField(max_length=48)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # the chain's, for events before the switch
    hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "seq"]),
            models.Index(fields=["actor", "seq"]),
            models.Index(fields=["event_type", "seq"]),
            # The sealer's work list: only the events not sealed yet, so finding them costs what is pending.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="oms_auditevent_unsealed"),
        ]
        triggers = [
            pgtrigger.Protect(name="audit_append_only", operation=pgtrigger.Delete),
            # The sealer's one update: seq null -> a value, every other column as it was.
            pgtrigger.Protect(
                name="audit_sealed_once", operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.seq IS NOT NULL OR NEW.seq IS NULL OR (to_jsonb(OLD) - 'seq') IS DISTINCT FROM (to_jsonb(NEW) - 'seq')"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{'#' + str(self.seq) if self.seq else f'id {self.pk} (sealing)'} {self.event_type} {self.object_type}:{self.object_id}"


class AuditCheckpoint(models.Model):
    """A signed statement of the audit chain's head: (seq, hash, count, seq high-water mark, time) sealed with an
    HMAC whose key lives in the settings/environment, never in the database. Also appended to a file outside the
    database. The recorded mark anchors ``AuditSeqHighWater``: it may never be found below it again.
    """

    seq = models.PositiveBigIntegerField(help_text="Head seq of the chain when the checkpoint was taken (0: empty chain).")
    head_hash = models.CharField(max_length=64)
    event_count = models.PositiveBigIntegerField()
    high_water = models.PositiveBigIntegerField(help_text="The highest audit seq ever handed out when the checkpoint was signed.")
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=16, help_text="Which HMAC key signed it (keys can be rotated).")
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        triggers = [
            pgtrigger.Protect(name="audit_checkpoint_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"checkpoint #{self.pk} at seq {self.seq}"


class AuditSeqHighWater(models.Model):
    """The highest audit ``seq`` ever handed out (a single row, moved by ``oms_audit_head``).

    New events are numbered above both this mark and the table's head, so a seq freed by deleting the
    newest events is never handed out again and the gap stays visible. The database refuses to lower the
    mark or delete the row; it moves in the transaction of the events it numbers, so a rollback leaves no gap.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_seq_high_water_single_row")]
        triggers = [
            pgtrigger.Protect(name="audit_seq_high_water_kept", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="audit_seq_high_water_never_lowered", operation=pgtrigger.Update,
                condition=pgtrigger.Q(new__seq__lt=pgtrigger.F("old__seq")),
            ),
        ]

    def __str__(self) -> str:
        return f"audit seq high-water {self.seq}"


# The audit log's Merkle tree (oms.audit_merkle, RFC 9162), written by the sealer only (oms.services.audit_seal),
# each seal in one transaction: the leaves it sealed, the perfect subtrees they completed, the signed head.
# All three are append-only in the database, as the events are.


class AuditLeaf(models.Model):
    """An event's place in the Merkle tree: leaf ``leaf_index`` (from 0) is the hash of ``leaf_bytes(event)``."""

    leaf_index = models.PositiveBigIntegerField(primary_key=True)
    # No foreign-key constraint: AuditEvent's trigger already refuses a DELETE, an event deleted past it is
    # verification's to report (audit.leaf_event_missing), and the sealer takes no row lock on the events it seals.
    event = models.OneToOneField(AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="leaf")

    class Meta:
        triggers = [pgtrigger.Protect(name="audit_leaf_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"leaf {self.leaf_index}: event {self.event_id}"


class AuditTreeNode(models.Model):
    """A perfect subtree of the Merkle tree: ``hash`` covers leaves [index * 2**level, (index + 1) * 2**level).

    Level 0 holds the leaf hashes. Stored once, when its last leaf is sealed; never changes after.
    """

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        triggers = [pgtrigger.Protect(name="audit_tree_node_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"node ({self.level}, {self.index})"


class AuditTreeHead(models.Model):
    """A signed tree head (oms.audit_tree_head): the tree of ``tree_size`` leaves had ``root_hash`` at ``timestamp``.

    ``prev_size`` names the head signed by the seal before (0 for the first): not signed, it lets verification
    notice a head row deleted from the middle.
    """

    tree_size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.BinaryField(max_length=32)
    timestamp = models.PositiveBigIntegerField(help_text="Milliseconds since the epoch, UTC (RFC 9162 §4.9); signed.")
    key_id = models.CharField(max_length=64, help_text="Which Ed25519 key signed it (keys can be rotated).")
    signature = models.BinaryField(max_length=64)
    prev_size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-tree_size"]
        triggers = [pgtrigger.Protect(name="audit_tree_head_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"tree head of {self.tree_size} events"


class MarketPrice(models.Model):
    """The latest market price of an instrument, kept current from the market model through an OMS service.

    Kept apart from ``Instrument`` so that a price tick does not stamp the reference-data version.
    """

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, primary_key=True, related_name="market_price")
    bid = models.DecimalField(max_digits=18, decimal_places=6)
    ask = models.DecimalField(max_digits=18, decimal_places=6)
    mid = models.DecimalField(max_digits=18, decimal_places=6)
    last = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    as_of = models.DateTimeField(help_text="Wall-clock UTC time of the market state this price was taken from.")

    def __str__(self) -> str:
        return f"{self.instrument_id} mid {self.mid} @ {self.as_of:%H:%M:%S}"


@dataclass(frozen=True, slots=True)
class PriceTick:
    """One instrument's market at one moment: consolidated best bid and offer, their mid, the last print.

    What the EMS reads off its market model (``ems.selectors.market_prices``) and the OMS stores as a
    ``MarketPrice`` row (``oms.services.market_prices_update``)."""

    instrument_id: int
    bid: Decimal
    ask: Decimal
    mid: Decimal
    last: Decimal | None
    as_of: datetime  # wall-clock UTC time of the market state the figures were taken from


class Position(models.Model):
    """What a portfolio holds of an instrument, from its allocations: signed quantity (short < 0) and the
    average cost of the open quantity (FIFO-free average-cost method; realised P&L on reductions)."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    quantity = models.BigIntegerField(default=0)
    avg_cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    realized_pnl = models.DecimalField(max_digits=24, decimal_places=6, default=Decimal("0"))
    bought_quantity = models.PositiveBigIntegerField(default=0)
    sold_quantity = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio_id", "instrument_id"]
        constraints = [models.UniqueConstraint(fields=["portfolio", "instrument"], name="position_one_per_portfolio_instrument")]

    def __str__(self) -> str:
        return f"{self.portfolio_id}/{self.instrument_id}: {self.quantity}"
