"""The OMS's demo reference data and accounts (idempotent), the first part ``manage.py seed_demo`` (and so
``make run``) seeds; each app seeds its own part in its ``demo.seed_demo``."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from oms import role_names
from oms.models import (
    OPTION_MULTIPLIER,
    ExerciseStyle,
    Instrument,
    InstrumentKind,
    OptionType,
    Portfolio,
    RestrictedInstrument,
    RiskLimit,
)
from oms.roles import Actor
from oms.services.tokens import api_token_issue

# symbol, name, reference price, ADV (shares/day), daily volatility, spread (bps)
INSTRUMENTS = [
    ("AAPL", "Apple Inc.", "228.50", 52_000_000, "0.0150", "1.0"),
    ("MSFT", "Microsoft Corp.", "415.20", 21_000_000, "0.0140", "1.0"),
    ("AMZN", "Amazon.com Inc.", "186.40", 38_000_000, "0.0190", "1.2"),
    ("GOOGL", "Alphabet Inc. Class A", "171.30", 27_000_000, "0.0170", "1.2"),
    ("META", "Meta Platforms Inc.", "512.80", 15_000_000, "0.0220", "1.5"),
    ("NVDA", "NVIDIA Corp.", "124.60", 240_000_000, "0.0310", "1.0"),
    ("TSLA", "Tesla Inc.", "248.90", 95_000_000, "0.0350", "1.5"),
    ("JPM", "JPMorgan Chase & Co.", "212.10", 9_000_000, "0.0130", "1.5"),
    ("V", "Visa Inc. Class A", "279.40", 6_500_000, "0.0110", "1.6"),
    ("JNJ", "Johnson & Johnson", "158.70", 7_200_000, "0.0095", "1.5"),
    ("XOM", "Exxon Mobil Corp.", "116.30", 15_500_000, "0.0140", "1.4"),
    ("PG", "Procter & Gamble Co.", "168.90", 6_800_000, "0.0090", "1.4"),
    ("KO", "Coca-Cola Co.", "69.80", 13_000_000, "0.0085", "1.7"),
    ("PFE", "Pfizer Inc.", "28.90", 34_000_000, "0.0150", "3.5"),
    ("BAC", "Bank of America Corp.", "39.70", 38_000_000, "0.0160", "2.5"),
    ("WMT", "Walmart Inc.", "80.20", 14_000_000, "0.0100", "1.6"),
    ("DIS", "Walt Disney Co.", "94.60", 9_500_000, "0.0150", "1.8"),
    ("NFLX", "Netflix Inc.", "698.10", 3_200_000, "0.0250", "2.0"),
    ("INTC", "Intel Corp.", "22.40", 60_000_000, "0.0280", "4.5"),
    ("CSCO", "Cisco Systems Inc.", "52.30", 18_000_000, "0.0110", "2.0"),
]

# Listed option chains on these underlyings (issue 22): the next OPTION_EXPIRIES monthly expiries, OPTION_STRIKES
# strikes a side of the money, a call and a put each. The EMS's part prices them (ems.demo).
OPTION_UNDERLYINGS = ("AAPL", "MSFT", "NVDA")
OPTION_EXPIRIES = 3
OPTION_STRIKES = 4


def monthly_expiries(today: date, n: int) -> list[date]:
    """The next ``n`` monthly expiries after ``today``: the third Friday of each month."""
    out, year, month = [], today.year, today.month
    while len(out) < n:
        first = date(year, month, 1)
        third_friday = first + timedelta(days=(calendar.FRIDAY - first.weekday()) % 7 + 14)
        if third_friday > today:
            out.append(third_friday)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def strike_step(price: Decimal) -> Decimal:
    """Listed strikes' spacing around ``price``, as exchanges space them."""
    for below, step in ((25, "1"), (100, "2.5"), (250, "5"), (500, "10")):
        if price < below:
            return Decimal(step)
    return Decimal("25")


def option_symbol(root: str, expiry: date, option_type: str, strike: Decimal) -> str:
    """``AAPL270115C230``: root, expiry YYMMDD, C or P, strike (an OCC-style symbol that fits 16 characters)."""
    return f"{root}{expiry:%y%m%d}{'C' if option_type == OptionType.CALL else 'P'}{strike.normalize():f}"


def option_chain_terms(underlying: Instrument, today: date) -> list[dict]:
    """The option rows of ``underlying``'s demo chain: symbol and terms."""
    step = strike_step(underlying.reference_price)
    atm = (underlying.reference_price / step).to_integral_value() * step
    rows = []
    for expiry in monthly_expiries(today, OPTION_EXPIRIES):
        for k in range(-OPTION_STRIKES, OPTION_STRIKES + 1):
            strike = atm + k * step
            for option_type in (OptionType.CALL, OptionType.PUT):
                rows.append(dict(symbol=option_symbol(underlying.symbol, expiry, option_type, strike), option_type=option_type,
                                 strike=strike, expiry=expiry))
    return rows


def seed_option_chains(today: date, symbols: tuple[str, ...] = OPTION_UNDERLYINGS) -> int:
    """Create the demo chains (idempotent) and retire expired options; return how many options are listed.

    Each option is listed at its intrinsic value (at least a cent) until the EMS prices it (ems.demo)."""
    Instrument.objects.filter(kind=InstrumentKind.OPTION, expiry__lt=today, is_active=True).update(is_active=False)
    listed = 0
    for underlying in Instrument.objects.filter(symbol__in=symbols):
        for terms in option_chain_terms(underlying, today):
            s, k = underlying.reference_price, terms["strike"]
            intrinsic = max(s - k, Decimal(0)) if terms["option_type"] == OptionType.CALL else max(k - s, Decimal(0))
            Instrument.objects.get_or_create(symbol=terms["symbol"], defaults=dict(
                name=f"{underlying.symbol} {terms['expiry']:%d %b %y} {k.normalize():f} {terms['option_type']}",
                kind=InstrumentKind.OPTION, underlying=underlying, option_type=terms["option_type"], strike=k,
                expiry=terms["expiry"], exercise_style=ExerciseStyle.AMERICAN, multiplier=OPTION_MULTIPLIER,
                reference_price=max(intrinsic, Decimal("0.01")), adv=20_000, daily_volatility=underlying.daily_volatility,
                spread_bps=Decimal("300"), tick_size=Decimal("0.01"), lot_size=1, currency=underlying.currency))
            listed += 1
    return listed


PORTFOLIOS = [
    ("GROWTH-US", "US Large-Cap Growth", ["pm1"]),
    ("VALUE-US", "US Value Equity", ["pm1"]),
    ("MACRO-EQ", "Global Macro Equity Sleeve", ["pm2"]),
    ("QUANT-LS", "Quant Long/Short", ["pm2", "bridge"]),
    ("INDEX-500", "Index Replication", ["bridge"]),
]

# username, role group (None = superuser), password shown by `make run`
ACCOUNTS = [
    ("pm1", role_names.PM, "pm1-demo-pass"),
    ("pm2", role_names.PM, "pm2-demo-pass"),
    ("trader", role_names.TRADER, "trader-demo-pass"),
    ("compliance", role_names.COMPLIANCE, "compliance-demo-pass"),
    ("bridge", role_names.API_CLIENT, "bridge-demo-pass"),
    ("admin", None, "admin-demo-pass"),
]
API_CLIENT = "bridge"
# The demo's global per-order limits (VALUE-US keeps a tighter notional of its own).
BLOCK_MAX_QUANTITY = 5_000_000
BLOCK_MAX_NOTIONAL = Decimal("500000000")
OPTION_MAX_CONTRACTS = 2_000
NET_DELTA_LIMIT_SHARES = 10_000_000  # per portfolio and underlying
NET_VEGA_LIMIT = Decimal("1000000")  # currency per volatility point, per portfolio and underlying


@transaction.atomic
def seed_demo() -> dict:
    """Create or refresh the OMS's demo data; return the logins and the API token to print."""
    for name in role_names.ROLE_GROUPS:
        Group.objects.get_or_create(name=name)
    users = {}
    for username, role, password in ACCOUNTS:
        user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
        if created:
            user.set_password(password)
        user.is_superuser = user.is_staff = role is None
        user.save()
        if role:
            user.groups.set([Group.objects.get(name=role)])
        users[username] = user

    for symbol, name, price, adv, vol, spread in INSTRUMENTS:
        Instrument.objects.update_or_create(
            symbol=symbol,
            defaults=dict(name=name, reference_price=Decimal(price), adv=adv, daily_volatility=Decimal(vol),
                          spread_bps=Decimal(spread), tick_size=Decimal("0.01"), lot_size=1, currency="USD"),
        )
    seed_option_chains(timezone.now().date())
    for code, name, members in PORTFOLIOS:
        p, _ = Portfolio.objects.update_or_create(code=code, defaults={"name": name})
        p.members.set([users[m] for m in members])

    # Sized so that the selection matrix's block route (RFQ from 25% of a day's volume, ems.algos.selection)
    # is reachable from the ticket: a quarter of a day in the mid-caps (KO, DIS, CSCO, WMT, JNJ, PG) fits; a
    # quarter of a day of AAPL (about 3 bn USD) does not, and the ticket's estimate says so before sending.
    RiskLimit.objects.update_or_create(
        portfolio=None,
        defaults=dict(
            max_order_quantity=BLOCK_MAX_QUANTITY, max_order_notional=BLOCK_MAX_NOTIONAL, price_collar_pct=Decimal("10"),
            daily_notional_limit=Decimal("750000000"), duplicate_window_seconds=5, max_orders_per_second=2000,
            # Options (docs/options.md#risk-limits): a 500-lot fits; the delta limit is above the largest equity
            # order, so it bites on books, not on a single order from flat.
            max_option_contracts=OPTION_MAX_CONTRACTS, max_net_delta_shares=NET_DELTA_LIMIT_SHARES, max_net_vega=NET_VEGA_LIMIT,
        ),
    )
    RiskLimit.objects.update_or_create(
        portfolio=Portfolio.objects.get(code="VALUE-US"),
        defaults=dict(max_order_notional=Decimal("10000000"), daily_notional_limit=Decimal("150000000")),
    )
    RestrictedInstrument.objects.get_or_create(
        instrument=Instrument.objects.get(symbol="NFLX"), portfolio=None,
        defaults={"reason": "On the firm's restricted list (pending corporate action)"},
    )
    # The token printed for the demo must work: an expired one (an old database) is replaced, audited.
    token = api_token_issue(user=users[API_CLIENT], actor=Actor.system("seed_demo"))
    return {"accounts": [(u, r or "admin", p) for u, r, p in ACCOUNTS], "api_token": token.key, "api_client": API_CLIENT}
