"""Pre-trade risk checks, in the spirit of SEC Rule 15c3-5 and MiFID II RTS 6.

Each limb is configurable globally (the RiskLimit row without a portfolio) and per portfolio (a row that
overrides the limbs it sets). Codes are stable; the browser maps each to the field it concerns.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection
from django.db.models import F

from oms.error_codes import RiskErrorCode
from oms.models import PortfolioDailyUsage
from oms.risk_reference import plain

# code -> the order field the browser shows the reason next to
RISK_CODES = {
    RiskErrorCode.RATE_LIMIT: None,
    RiskErrorCode.RESTRICTED_INSTRUMENT: "instrument",
    RiskErrorCode.MAX_QUANTITY: "quantity",
    RiskErrorCode.MAX_NOTIONAL: "quantity",
    RiskErrorCode.PRICE_COLLAR: "limit_price",
    RiskErrorCode.DUPLICATE_ORDER: None,
    RiskErrorCode.CREDIT_LIMIT: "portfolio",
    RiskErrorCode.KILL_SWITCH: None,
    RiskErrorCode.MAX_CONTRACTS: "quantity",
    RiskErrorCode.DELTA_LIMIT: "quantity",
    RiskErrorCode.VEGA_LIMIT: "quantity",
}


def _valued_at(req) -> str:
    # A market order has no price of its own: say which one its notional was taken at.
    return "" if req.limit_price is not None else f" (market order valued at the {req.risk_reference.describe()})"


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits in force for one portfolio: its own limb where set, else the global one, else off."""

    max_order_quantity: int | None = None
    max_order_notional: Decimal | None = None
    price_collar_pct: Decimal | None = None
    daily_notional_limit: Decimal | None = None
    duplicate_window_seconds: int | None = None
    max_orders_per_second: int | None = None
    max_option_contracts: int | None = None
    max_net_delta_shares: int | None = None
    max_net_vega: Decimal | None = None


def effective_limits(portfolio_ids: Iterable[int], rows: dict) -> dict[int, EffectiveLimits]:
    """Limits per portfolio id from the risk-limit ``rows`` (portfolio id, None = global -> RiskLimit)."""
    glob = rows.get(None)
    names = [f.name for f in fields(EffectiveLimits)]
    result = {}
    for pid in set(portfolio_ids):
        own = rows.get(pid)
        values = {}
        for name in names:
            v = getattr(own, name) if own is not None else None
            if v is None and glob is not None:
                v = getattr(glob, name)
            values[name] = v
        result[pid] = EffectiveLimits(**values)
    return result


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def kill_switch_on(req, halts: dict):
    """The engaged kill switch whose scope holds ``req`` (everything, its portfolio, its instrument), or None."""
    return halts.get(("all", None)) or halts.get(("portfolio", req.portfolio.id)) or halts.get(("instrument", req.instrument.id))


def check_static(req, limits: EffectiveLimits, restricted: dict, halts: dict | None = None) -> tuple[str, str] | None:
    """The limbs that need nothing but the order, the limits, the restricted list and the engaged kill
    switches (``refdata().halts``). Return (code, reason) or None."""
    halt = kill_switch_on(req, halts or {})
    if halt is not None:
        return (RiskErrorCode.KILL_SWITCH,
                f"Kill switch engaged on {halt.target} by {halt.engaged_by} at {halt.engaged_at:%H:%M:%S} UTC: "
                "new orders are refused until a trader lifts it")
    inst = req.instrument
    reason = restricted.get((inst.id, None)) or restricted.get((inst.id, req.portfolio.id))
    if reason is not None:
        return RiskErrorCode.RESTRICTED_INSTRUMENT, f"{inst.symbol} is restricted: {reason}"
    if limits.max_order_quantity is not None and req.quantity > limits.max_order_quantity:
        return RiskErrorCode.MAX_QUANTITY, f"Quantity {req.quantity:,} exceeds the maximum of {limits.max_order_quantity:,} per order"
    if limits.max_option_contracts is not None and inst.is_option and req.quantity > limits.max_option_contracts:
        return (RiskErrorCode.MAX_CONTRACTS,
                f"{req.quantity:,} contracts exceed the maximum of {limits.max_option_contracts:,} per option order")
    notional = req.notional
    if limits.max_order_notional is not None and notional > limits.max_order_notional:
        return (
            RiskErrorCode.MAX_NOTIONAL,
            f"Notional {notional:,.2f} exceeds the maximum of {limits.max_order_notional:,.2f} per order{_valued_at(req)}",
        )
    if limits.price_collar_pct is not None and req.limit_price is not None:
        ref = req.risk_reference
        deviation = abs(req.limit_price - ref.price) / ref.price * 100
        if deviation > limits.price_collar_pct:
            return (
                RiskErrorCode.PRICE_COLLAR,
                f"Limit {req.limit_price} is {deviation:.2f}% from the {ref.describe()}; "
                f"the collar is ±{plain(limits.price_collar_pct)}%",
            )
    return None


_namespaces: dict[str, str] = {}


def _namespace() -> str:
    # Counters are namespaced by database (name and OID), so deployments or test databases sharing one
    # Redis never see each other's, nor those of an earlier database of the same name.
    name = connection.settings_dict["NAME"]
    if name not in _namespaces:
        with connection.cursor() as cur:
            cur.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
            _namespaces[name] = f"{name}.{cur.fetchone()[0]}"
    return _namespaces[name]


def _key(kind: str, *parts) -> str:
    return ":".join(["oms", kind, _namespace(), *map(str, parts)])


def _dup_key(source: str, content: tuple) -> str:
    return _key("dup", source, hashlib.sha1("|".join(map(str, content)).encode()).hexdigest())


GATE_PASSED, GATE_THROTTLED, GATE_DUPLICATE = 0, 1, 2

# One atomic round trip for the two limbs kept in Redis. ARGV: count (0 = already counted), n, then per
# message its rate cap (0 = none) and duplicate window in seconds (0 = no claim). KEYS: the source's
# counter for this second, then one content key per message. The k-th message of the batch is
# throttled once this second's count passes its cap; otherwise SET NX EX claims its content for the
# window, and finding the content already claimed makes it a duplicate.
_GATE_LUA = """
local count = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local before = 0
if count > 0 then
    before = redis.call('INCRBY', KEYS[1], count) - count
    redis.call('EXPIRE', KEYS[1], 2)
end
local out = {}
for k = 1, n do
    local cap = tonumber(ARGV[1 + 2 * k])
    local window = tonumber(ARGV[2 + 2 * k])
    if count > 0 and cap > 0 and before + k > cap then
        out[k] = 1
    elseif window > 0 then
        out[k] = redis.call('SET', KEYS[1 + k], '1', 'NX', 'EX', window) and 0 or 2
    else
        out[k] = 0
    end
end
return out
"""


@lru_cache(maxsize=1)
def _gate_script():
    return _redis().register_script(_GATE_LUA)


def intake_gate(source: str, entries: list[tuple[int, int, tuple | None]], *, count: bool = True) -> list[int]:
    """Count ``source``'s messages and claim their contents, atomically across processes.

    ``entries``: per message (rate cap or 0, duplicate window seconds or 0, content or None). Return per
    message GATE_PASSED, GATE_THROTTLED or GATE_DUPLICATE. Claims of orders that end up not accepted are
    given back with ``dedupe_release``; a claim lapses by itself when its window ends.
    """
    if not entries:
        return []
    rate_key = _key("rate", source, int(time.time()))
    keys = [rate_key] + [_dup_key(source, content) if content is not None else rate_key for _, _, content in entries]
    args = [len(entries) if count else 0, len(entries)]
    for cap, window, _ in entries:
        args += [int(cap), int(window)]
    return [int(x) for x in _gate_script()(keys=keys, args=args)]


def dedupe_release(source: str, contents: Iterable[tuple]) -> None:
    keys = [_dup_key(source, c) for c in contents]
    if keys:
        _redis().delete(*keys)


class CreditRace(Exception):
    """Another order took the headroom this one was planned against; the intake transaction is retried."""


def _credit_decide(reqs_by_portfolio: dict[int, list], limits: dict[int, EffectiveLimits], used: dict[int, Decimal]):
    """Admit orders in submission order while each portfolio's usage stays within its daily limit.

    Return (denials by request index, amount to book per portfolio).
    """
    denied, added = {}, {}
    for pid, items in reqs_by_portfolio.items():
        cap = limits[pid].daily_notional_limit
        if cap is None:
            continue
        total = used.get(pid, Decimal(0))
        for index, req in items:
            n = req.notional
            if total + n > cap:
                denied[index] = (
                    RiskErrorCode.CREDIT_LIMIT,
                    f"Portfolio {req.portfolio.code} would use {total + n:,.2f} of its daily limit of {cap:,.2f}{_valued_at(req)}",
                )
            else:
                total += n
        if total != used.get(pid, Decimal(0)):
            added[pid] = total - used.get(pid, Decimal(0))
    return denied, added


def _limited(reqs_by_portfolio, limits) -> list[int]:
    return sorted(pid for pid in reqs_by_portfolio if limits[pid].daily_notional_limit is not None)


@dataclass
class CreditPlan:
    denied: dict[int, tuple[str, str]]  # request index -> (code, reason)
    added: dict[int, Decimal]  # portfolio id -> notional to book
    have_rows: frozenset[int] = frozenset()  # portfolios whose usage row for the day exists already


@dataclass(frozen=True)
class UsageSnapshot:
    """Usage rows read ahead (in the intake's first round trip) for the portfolios in ``covers``."""

    trade_date: date
    covers: frozenset[int]
    used: dict[int, Decimal]


def credit_plan(
    reqs_by_portfolio: dict[int, list], limits: dict[int, EffectiveLimits], trade_date: date,
    snapshot: UsageSnapshot | None = None,
) -> CreditPlan:
    """Decide credit against the committed usage, without locking (see ``credit_book``).

    ``reqs_by_portfolio`` maps portfolio id -> [(index, request)] in submission order. A ``snapshot``
    read earlier in the request is as good as reading now: the booking re-checks the limit anyway.
    """
    limited = _limited(reqs_by_portfolio, limits)
    if not limited:
        return CreditPlan({}, {})
    if snapshot is not None and snapshot.trade_date == trade_date and snapshot.covers.issuperset(limited):
        used = {pid: snapshot.used[pid] for pid in limited if pid in snapshot.used}
        return CreditPlan(*_credit_decide(reqs_by_portfolio, limits, used), have_rows=frozenset(used))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT portfolio_id, gross_notional FROM oms_portfoliodailyusage WHERE trade_date = %s AND portfolio_id = ANY(%s)",
            [trade_date, limited],
        )
        used = dict(cur.fetchall())
    return CreditPlan(*_credit_decide(reqs_by_portfolio, limits, used), have_rows=frozenset(used))


def credit_book(plan: CreditPlan, limits: dict[int, EffectiveLimits], trade_date: date) -> None:
    """Book planned amounts; raise CreditRace if a portfolio no longer has the headroom.

    The conditional UPDATE re-checks the limit on the row as committed by whoever held it before us,
    so the limit holds under any concurrency; its row lock is the last thing the intake takes before
    the audit chain, which keeps the section other orders of the same portfolio queue for short.
    """
    added = plan.added
    if not added:
        return
    pids = sorted(added)
    with connection.cursor() as cur:
        if not plan.have_rows.issuperset(pids):  # the first order of the day for a portfolio
            cur.execute(
                "INSERT INTO oms_portfoliodailyusage (portfolio_id, trade_date, gross_notional) "
                "SELECT pid, %s, 0 FROM unnest(%s::bigint[]) AS pid ON CONFLICT (portfolio_id, trade_date) DO NOTHING",
                [trade_date, pids],
            )
        if len(pids) > 1:  # lock in portfolio order, so that two multi-portfolio bulks cannot deadlock
            cur.execute(
                "SELECT 1 FROM oms_portfoliodailyusage WHERE trade_date = %s AND portfolio_id = ANY(%s) ORDER BY portfolio_id FOR UPDATE",
                [trade_date, pids],
            )
        cur.execute(
            """
            UPDATE oms_portfoliodailyusage u SET gross_notional = u.gross_notional + a.amount
            FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS a(portfolio_id, amount, cap)
            WHERE u.portfolio_id = a.portfolio_id AND u.trade_date = %s AND u.gross_notional + a.amount <= a.cap
            RETURNING u.portfolio_id
            """,
            [pids, [added[p] for p in pids], [limits[p].daily_notional_limit for p in pids], trade_date],
        )
        if len(cur.fetchall()) != len(pids):
            raise CreditRace()


def credit_reserve(reqs_by_portfolio: dict[int, list], limits: dict[int, EffectiveLimits], trade_date: date):
    """Lock the usage rows first, then decide and book: the path that cannot lose a race (used on retries).

    One upsert creates and locks the rows (in portfolio-id order, so concurrent intakes cannot deadlock);
    one update books what was admitted. Return denials by request index.
    """
    limited = _limited(reqs_by_portfolio, limits)
    if not limited:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO oms_portfoliodailyusage (portfolio_id, trade_date, gross_notional)
            SELECT pid, %s, 0 FROM unnest(%s::bigint[]) AS pid ORDER BY pid
            ON CONFLICT (portfolio_id, trade_date) DO UPDATE SET gross_notional = oms_portfoliodailyusage.gross_notional
            RETURNING portfolio_id, gross_notional
            """,
            [trade_date, limited],
        )
        used = dict(cur.fetchall())
    denied, added = _credit_decide(reqs_by_portfolio, limits, used)
    if added:
        with connection.cursor() as cur:
            cur.execute(
                """
                UPDATE oms_portfoliodailyusage u SET gross_notional = u.gross_notional + a.amount
                FROM unnest(%s::bigint[], %s::numeric[]) AS a(portfolio_id, amount)
                WHERE u.portfolio_id = a.portfolio_id AND u.trade_date = %s
                """,
                [list(added), list(added.values()), trade_date],
            )
    return denied


def credit_release(*, portfolio_id: int, trade_date: date, notional: Decimal) -> None:
    """Give back headroom (the unfilled part of a cancelled order)."""
    PortfolioDailyUsage.objects.filter(portfolio_id=portfolio_id, trade_date=trade_date).update(
        gross_notional=F("gross_notional") - notional
    )
