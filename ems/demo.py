"""The EMS's demo data: venues seeded from the simulator's default profiles, the first market prices, and
(``manage.py demo_orders``) a morning's first orders."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from ems.option_market import is_expired, option_quote_now
from ems.selectors import live_clock
from ems.services import venues_sync_from_sim
from ems.tasks import market_prices_refresh
from oms.models import Instrument, InstrumentKind
from oms.roles import Actor
from oms.services import orders_submit


def seed_demo() -> None:
    """The EMS's part of ``manage.py seed_demo`` (after the OMS's instruments): venues, the options' reference
    prices, then market prices."""
    seed_venues()
    seed_option_reference_prices()
    seed_market_prices()


def seed_option_reference_prices() -> int:
    """Give each listed option the model's value with its underlying at its reference price (the OMS lists them
    at intrinsic value); return how many were priced."""
    now = timezone.now()
    options = list(Instrument.objects.filter(is_active=True, kind=InstrumentKind.OPTION).select_related("underlying"))
    for o in options:
        if is_expired(o, now):
            continue
        q = option_quote_now(o, o.underlying, o.underlying.reference_price, now)
        o.reference_price = max(Decimal(f"{q.mid:.2f}"), o.tick_size)
    Instrument.objects.bulk_update(options, ["reference_price"])
    return len(options)


def seed_venues() -> None:
    venues_sync_from_sim()


def seed_market_prices() -> None:
    """Refresh the market prices once now, so the first order after start-up is checked against the market
    (beat refreshes them every 2 s from then on)."""
    market_prices_refresh()


# A morning's first orders, so the execution desk has parents at work on a fresh start: two PMs buying
# AAPL together (one parent), a sell that nets against them, a few single names with other intents and a
# block sent to the RFQ platform.
DEMO_ORDERS = [
    ("pm1", "GROWTH-US", "AAPL", "buy", 60_000, "medium", "auto"),
    ("pm2", "MACRO-EQ", "AAPL", "buy", 40_000, "medium", "auto"),
    ("pm2", "QUANT-LS", "AAPL", "sell", 15_000, "medium", "auto"),
    ("pm1", "VALUE-US", "JPM", "buy", 25_000, "low", "vwap"),
    ("pm2", "MACRO-EQ", "MSFT", "sell", 30_000, "medium", "twap"),
    ("pm1", "GROWTH-US", "NVDA", "buy", 200_000, "high", "auto"),
    # A block the PM sends to dealers: the RFQ platform asks the liquidity providers and executes within its threshold.
    ("pm2", "MACRO-EQ", "XOM", "buy", 120_000, "medium", "rfq"),
]


def seed_demo_orders() -> int:
    """Submit the demo orders through the OMS intake, once per market day (client order ids carry the day).

    Return how many were created (0 when today's are already there)."""
    day = live_clock().market_time().day
    users = get_user_model().objects.in_bulk([u for u, *_ in DEMO_ORDERS], field_name="username")
    created = 0
    for n, (username, portfolio, symbol, side, qty, urgency, strategy) in enumerate(DEMO_ORDERS, 1):
        user = users[username]
        item = {"client_order_id": f"DEMO-D{day}-{n}", "portfolio": portfolio, "instrument": symbol, "side": side,
                "quantity": qty, "order_type": "market", "time_in_force": "day", "urgency": urgency, "strategy": strategy}
        results = orders_submit(user=user, actor=Actor.for_user(user, "browser"), items=[item])
        created += results[0].outcome == "created"
    return created
