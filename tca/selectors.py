"""TCA reads: visibility, the reads one parent's figures and report are made of, the per-parent and
desk-wide groupings (summary, best execution) the database computes, exports, imported sets, what-ifs.

The figures are computed in ``tca.figures`` and the reports assembled in ``tca.reports``, both from these
reads.

**Signs** (``tca.measures``): slippage and markouts in bps are scores, **positive = better than the
benchmark**, and so are the implementation shortfall components (currency saved against the paper portfolio;
a cost is negative). One convention for every figure.

**Groupings are SQL.** :func:`summary` and :func:`best_execution` are ``GROUP BY`` aggregates over Fill,
FillMetrics, ParentTCA, Allocation and Order (one query per figure family, never a loop over fills), on
the per-fill and per-parent figures stored once by ``tca.services.parent_tca_compute``. Every average is
quantity-weighted, with notional weights where the benchmark prices differ: the slippage of a group is
``sum s q (B - p) m / sum q B m * 1e4``, i.e. the bps of the summed currency amounts.

**Currency** (``tca.measures``, "Units"): every amount is price x quantity x the instrument's contract multiplier
``m`` (:func:`tca.measures.currency` in Python; :func:`_ccy` / :func:`_ccy_f` apply the same rule in SQL, each
grouping joining the instrument of its rows), so a group mixing equities and options (quantities in contracts)
sums one unit. Quantities stay in each instrument's unit. Only parents whose TCA
has been computed (closed ones, ``tca.tasks.tca_refresh``) are in the groupings.

**Who sees what** (``ems.selectors.parent_list``): traders, compliance and admins everything; a PM (or an
API client) the parents holding an order of a portfolio they may see, and of a shared parent only their
own share (``ems.selectors.parent_share`` / ``own_fills``: their constituent lines, the fills allocated to them
in their quantity); nobody else anything.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import NullIf

from ems.models import Allocation, ChildOrder, Constituent, Fill, ParentOrder
from ems.selectors import MARKET_KINDS, own_fills, parent_list, parents_seen_whole
from ems.sim.clock import format_clock
from oms import roles
from oms.errors import DomainError
from oms.models import AuditEvent, Instrument, Portfolio
from oms.money import PRICE_Q
from tca.error_codes import TcaErrorCode
from tca.measures import MARKOUT_HORIZONS_S, currency, notional, slippage_bps, slippage_ccy_paid
from tca.models import FillMetrics, ImportSet, ParentTCA, ReconciliationRun, WhatIf

GROUP_BYS = ("venue", "algorithm", "portfolio", "period")
FILTERS = ("instrument", "strategy", "portfolio", "side", "day_from", "day_to")
GROUPING_WORK_MEM = "64MB"  # per sort / hash node of a grouping query (see _rollup)
_DEC = DecimalField(max_digits=38, decimal_places=10)


# --- visibility -------------------------------------------------------------------------------------------

def _desk_wide(user) -> bool:
    return roles.role_of(user) in roles.DESK_WIDE


def _my_parent_ids(user):
    """Subquery of the parents the user may see (None: every parent)."""
    if _desk_wide(user):
        return None
    return parent_list(user=user).values("id")


def tca_parent_get(*, user, parent_id: int) -> ParentOrder | None:
    """The parent if the user may see it (``ems.selectors.parent_list`` semantics)."""
    return parent_list(user=user).filter(pk=parent_id).first()


# --- one parent: its reads and SQL groupings -----------------------------------------------------------

def parent_fills_in_time(parent: ParentOrder) -> list[Fill]:
    """The parent's fills with their venues, in time order."""
    return list(Fill.objects.filter(parent=parent).select_related("venue").order_by("market_time_us", "id"))


def parent_fill_metrics(parent: ParentOrder) -> dict[int, FillMetrics]:
    """The stored FillMetrics of the parent's fills, by fill id."""
    return {m.fill_id: m for m in FillMetrics.objects.filter(fill__parent=parent)}


def parent_tca_stored(parent: ParentOrder) -> ParentTCA | None:
    """The parent's stored ParentTCA (None until ``tca.services.parent_tca_compute`` ran)."""
    return ParentTCA.objects.filter(parent=parent).first()


def parent_what_ifs(parent: ParentOrder, *, limit: int = 20) -> QuerySet[WhatIf]:
    """The parent's latest what-if replays, newest first."""
    return WhatIf.objects.filter(parent=parent).order_by("-id")[:limit]


def market_fills_stamp(instrument_id: int, day: int) -> tuple[int, int | None]:
    """``(count, highest id)`` of our lit / dark fills on the instrument-day: fills are append-only, so the
    pair changes exactly when one arrives."""
    stamp = Fill.objects.filter(instrument_id=instrument_id, market_day=day, venue__kind__in=MARKET_KINDS).aggregate(
        n=Count("id"), last=Max("id"))
    return stamp["n"], stamp["last"]


def constituent_intakes(parent: ParentOrder) -> list[tuple[int, object]]:
    """``(quantity, created_at of the order)`` of each of the parent's constituents."""
    return list(Constituent.objects.filter(parent=parent).values_list("quantity", "order__created_at"))


def _sign():
    return Case(When(side="buy", then=Value(1)), default=Value(-1))


def _wavg(num, den) -> float | None:
    return float(num) / float(den) if num is not None and den else None


def _ccy(expr: str) -> str:
    """SQL: ``expr`` (price x quantity of one instrument, or a sum of such) in currency, x the contract multiplier
    of the instrument joined as ``i`` (:func:`tca.measures.currency`)."""
    return f"i.multiplier * ({expr})"


def _ccy_f(expr, prefix: str = ""):
    """ORM: ``expr`` (price x quantity) in currency, x the multiplier of the ``{prefix}instrument``
    (:func:`tca.measures.currency`)."""
    return expr * F(f"{prefix}instrument__multiplier")


def parent_venue_breakdown(parent_id: int, arrival: Decimal, multiplier: int = 1) -> tuple[list[dict], dict]:
    """The parent's fills grouped by venue in SQL, with their quantity-weighted markout curve (``notional`` in
    currency: x the instrument's ``multiplier``)."""
    q, p = F("quantity"), F("price")
    markouts = {f"m{h}": Sum(q * F(f"tca__markout_{h}s_bps"), output_field=_DEC) for h in MARKOUT_HORIZONS_S}
    markout_w = {f"w{h}": Sum("quantity", filter=Q(**{f"tca__markout_{h}s_bps__isnull": False})) for h in MARKOUT_HORIZONS_S}
    rows = list(
        Fill.objects.filter(parent_id=parent_id).values("venue__code", "venue__kind").annotate(
            n_fills=Count("id"), qty=Sum("quantity"), value=Sum(q * p, output_field=_DEC), sum_fees=Sum("fee"),
            slip=Sum(_sign() * q * (Value(arrival) - p), output_field=_DEC),
            eff=Sum(q * F("tca__effective_spread_bps"), output_field=_DEC),
            eff_w=Sum("quantity", filter=Q(tca__effective_spread_bps__isnull=False)),
            **markouts, **markout_w,
        ).order_by("-qty", "venue__code")
    )
    total = sum(r["qty"] for r in rows) or 0
    venues, curve_rows = [], []
    for r in rows:
        venues.append({
            "venue": r["venue__code"], "kind": r["venue__kind"], "fills": r["n_fills"], "quantity": r["qty"],
            "share": r["qty"] / total if total else None, "notional": currency(r["value"], multiplier),
            "avg_price": (r["value"] / r["qty"]).quantize(PRICE_Q), "fees": r["sum_fees"],
            "slippage_arrival_bps": _wavg(r["slip"] * 10_000, r["qty"] * arrival) if arrival else None,
            "effective_spread_bps": _wavg(r["eff"], r["eff_w"]),
            **{f"markout_{h}s_bps": _wavg(r[f"m{h}"], r[f"w{h}"]) for h in MARKOUT_HORIZONS_S},
        })
        curve_rows.append({"venue": r["venue__code"], "bps": [_wavg(r[f"m{h}"], r[f"w{h}"]) for h in MARKOUT_HORIZONS_S]})
    totals = {h: (sum(float(r[f"m{h}"] or 0) for r in rows), sum(r[f"w{h}"] or 0 for r in rows)) for h in MARKOUT_HORIZONS_S}
    curve = {"horizons_s": list(MARKOUT_HORIZONS_S), "by_venue": curve_rows,
             "all": [(n / w if w else None) for n, w in totals.values()]}
    return venues, curve


def parent_child_breakdown(parent_id: int, side: str, arrival: Decimal, multiplier: int = 1) -> list[dict]:
    """The parent's child orders with what they filled, against the arrival price and against the mid at each
    fill (the spread and impact the child paid), grouped in SQL; quantity-weighted, positive = better; currency x
    the instrument's ``multiplier``."""
    q, p = F("quantity"), F("price")
    sign = 1 if side == "buy" else -1  # (vs_mid_bps: a ratio of one instrument's amounts, no multiplier)
    rows = (
        Fill.objects.filter(parent_id=parent_id, child__isnull=False)
        .values("child_id", "child__client_order_id", "child__venue__code", "child__kind", "child__order_type",
                "child__quantity", "child__status", "child__sent_us")
        .annotate(n_fills=Count("id"), qty=Sum("quantity"), value=Sum(q * p, output_field=_DEC),
                  vs_mid=Sum(q * (F("tca__mid") - p), output_field=_DEC), mid_value=Sum(q * F("tca__mid"), output_field=_DEC))
        .order_by("child__sent_us", "child_id")
    )
    out = []
    for r in rows:
        saved = slippage_ccy_paid(side, arrival, r["qty"], currency(r["value"], multiplier), multiplier)
        out.append({
            "child_id": r["child_id"], "client_order_id": r["child__client_order_id"], "venue": r["child__venue__code"],
            "kind": r["child__kind"], "order_type": r["child__order_type"], "quantity": r["child__quantity"],
            "status": r["child__status"], "sent_clock": format_clock(r["child__sent_us"])[:12], "fills": r["n_fills"],
            "filled_quantity": r["qty"], "avg_price": (r["value"] / r["qty"]).quantize(PRICE_Q),
            "slippage_arrival_bps": _wavg(saved * 10_000, notional(arrival, r["qty"], multiplier)) if arrival else None,
            "slippage_arrival_ccy": saved.quantize(PRICE_Q),
            "vs_mid_bps": _wavg(sign * r["vs_mid"] * 10_000, r["mid_value"]) if r["mid_value"] else None,
        })
    return out


def parent_constituent_lines(user, parent: ParentOrder, tca: ParentTCA) -> list[dict]:
    """Each original order's fills through its allocations (SQL grouping), with its slippage against the
    parent's arrival and interval VWAP. A PM sees only their own orders' lines."""
    qs = Allocation.objects.filter(parent=parent)
    cons = Constituent.objects.filter(parent=parent)
    if not _desk_wide(user):
        mine = roles.visible_portfolios(user).values("id")
        qs, cons = qs.filter(order__portfolio__in=mine), cons.filter(order__portfolio__in=mine)
    q, p = F("quantity"), F("price")
    agg = {r["order_id"]: r for r in qs.values("order_id").annotate(
        alloc_qty=Sum("quantity"), alloc_value=Sum(q * p, output_field=_DEC))}
    a, v, m = tca.arrival_price, tca.interval_vwap, parent.instrument.multiplier
    out = []
    for c in cons.select_related("order__portfolio").order_by("order_id"):
        r = agg.get(c.order_id)
        filled = r["alloc_qty"] if r else 0
        value = r["alloc_value"] if r else Decimal(0)
        avg = (value / filled).quantize(PRICE_Q) if filled else None
        out.append({
            "order_id": c.order_id, "client_order_id": c.order.client_order_id, "portfolio": c.order.portfolio.code,
            "side": c.order.side, "quantity": c.quantity, "filled_quantity": filled, "avg_price": avg,
            "slippage_arrival_bps": round(slippage_bps(parent.side, float(avg), float(a)), 4) if avg else None,
            "slippage_arrival_ccy": (slippage_ccy_paid(parent.side, a, filled, currency(value, m), m).quantize(PRICE_Q)
                                     if filled else Decimal(0)),
            "slippage_vwap_bps": round(slippage_bps(parent.side, float(avg), float(v)), 4) if avg and v else None,
        })
    return out


# --- groupings: summary and best execution --------------------------------------------------------------

def _int_filter(filters: dict, name: str) -> int | None:
    raw = filters.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise DomainError(TcaErrorCode.BAD_FILTER, f"{name} must be a market day number", field=name) from None


def _clean_filters(filters: dict | None) -> dict:
    """Validate the filters every grouping takes; unknown names and bad values are refused with a code."""
    filters = dict(filters or {})
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise DomainError(TcaErrorCode.BAD_FILTER, f"Unknown filter {unknown[0]!r}; expected some of {', '.join(FILTERS)}", field=unknown[0])
    out: dict = {}
    inst = filters.get("instrument")
    if inst not in (None, ""):
        row = Instrument.objects.filter(Q(symbol=str(inst)) | Q(pk=int(inst)) if str(inst).isdigit() else Q(symbol=str(inst))).first()
        if row is None:
            raise DomainError(TcaErrorCode.BAD_FILTER, f"No instrument {inst}", field="instrument")
        out["instrument"] = row.pk
    strategy = filters.get("strategy")
    if strategy not in (None, ""):
        out["strategy"] = str(strategy).lower()
    pf = filters.get("portfolio")
    if pf not in (None, ""):
        row = Portfolio.objects.filter(Q(code=str(pf)) | Q(pk=int(pf)) if str(pf).isdigit() else Q(code=str(pf))).first()
        if row is None:
            raise DomainError(TcaErrorCode.BAD_FILTER, f"No portfolio {pf}", field="portfolio")
        out["portfolio"] = row.pk
    side = filters.get("side")
    if side not in (None, ""):
        if str(side).lower() not in ("buy", "sell"):
            raise DomainError(TcaErrorCode.BAD_FILTER, "side must be buy or sell", field="side")
        out["side"] = str(side).lower()
    for name in ("day_from", "day_to"):
        v = _int_filter(filters, name)
        if v is not None:
            out[name] = v
    return out


def _tca_q(f: dict, prefix: str) -> Q:
    """Filters on ParentTCA columns reached through ``prefix`` ("" on ParentTCA itself)."""
    q = Q()
    if "instrument" in f:
        q &= Q(**{f"{prefix}instrument_id": f["instrument"]})
    if "strategy" in f:
        q &= Q(**{f"{prefix}strategy": f["strategy"]})
    if "side" in f:
        q &= Q(**{f"{prefix}side": f["side"]})
    if "day_from" in f:
        q &= Q(**{f"{prefix}market_day__gte": f["day_from"]})
    if "day_to" in f:
        q &= Q(**{f"{prefix}market_day__lte": f["day_to"]})
    return q


def _parent_scope(user, f: dict, parent_field: str) -> Q:
    """Parents the user may see, holding an order of the filtered portfolio."""
    q = Q()
    mine = _my_parent_ids(user)
    if mine is not None:
        q &= Q(**{f"{parent_field}__in": mine})
    if "portfolio" in f:
        q &= Q(**{f"{parent_field}__in": Constituent.objects.filter(order__portfolio_id=f["portfolio"]).values("parent_id")})
    return q


def _row(key, *, parents, fills, quantity, notional, fees, arr_num, arr_den, vwap_num, vwap_den, is_num, is_den) -> dict:
    return {
        "key": key, "parents": int(parents or 0), "fills": int(fills or 0), "quantity": int(quantity or 0),
        "notional": (notional or Decimal(0)).quantize(PRICE_Q), "fees": (fees or Decimal(0)).quantize(PRICE_Q),
        "slippage_arrival_bps": _wavg(arr_num * 10_000 if arr_num is not None else None, arr_den),
        "slippage_vwap_bps": _wavg(vwap_num * 10_000 if vwap_num is not None else None, vwap_den),
        "is_bps": _wavg(is_num * 10_000 if is_num is not None else None, is_den),
    }


def summary(*, user, group_by: str, filters: dict | None = None) -> list[dict]:
    """TCA grouped by venue, algorithm, portfolio or period (market day), as SQL aggregates.

    ``filters``: instrument (symbol or id), strategy, portfolio (code or id), side, day_from, day_to (market
    days, inclusive). Unknown filters or values raise ``DomainError`` ``tca.bad_filter``; an unknown
    ``group_by`` ``tca.bad_group_by``.

    Each row: ``key`` (venue code | strategy | portfolio code | market day), ``parents`` (distinct), ``fills``,
    ``quantity``, ``notional`` (Decimal), ``fees`` (Decimal, negative = net rebates), ``slippage_arrival_bps``
    and ``slippage_vwap_bps`` (positive = better than the benchmark: ``sum s q (B - p) / sum q B``),
    ``is_bps`` (implementation shortfall, of quantity x decision price; positive = better, a cost is negative).

    How each grouping counts: *venue* — the venue's fills (a parent's opportunity cost belongs to no venue,
    so ``is_bps`` is the executed part ``s q (D - p)`` less the fills' fees over ``q D``); *algorithm* and
    *period* — whole parents (``ParentTCA``: shortfall including opportunity cost, over ``X D``); *portfolio*
    — each order's allocations (fees pro rata of the fill) plus its share of its parent's opportunity cost
    (its unfilled quantity / the parent's), over its constituent quantity x D. Rows by descending quantity.

    **A PM (or an API client) reads only their own share** of a parent pooling several portfolios' orders
    (``ems.selectors.own_fills``): every grouping then counts, as *portfolio* does, the quantities allocated to
    their orders (fees pro rata, their orders' share of the opportunity cost, over their constituents' quantity
    x D); *venue* their allocations of each venue's fills (each fill's fee pro rata). The bps are
    quantity-weighted over their fills; another portfolio's size or fills never enter a figure.
    """
    if group_by not in GROUP_BYS:
        raise DomainError(TcaErrorCode.BAD_GROUP_BY, f"group_by must be one of {', '.join(GROUP_BYS)}", field="group_by")
    f = _clean_filters(filters)
    if group_by == "portfolio":  # per allocation already: a PM's rows are their own share
        rows = _summary_by_allocation(user, f, group_by)
    elif not _desk_wide(user):  # a PM (or an API client): their own share of every parent (ems.selectors.own_fills)
        rows = _summary_by_venue_share(user, f) if group_by == "venue" else _summary_by_allocation(user, f, group_by)
    elif group_by == "venue":
        rows = _summary_by_venue(user, f)
    else:
        rows = _summary_by_parent(user, f, "strategy" if group_by == "algorithm" else "market_day")
    return sorted(rows, key=lambda r: (-r["quantity"], str(r["key"])))


def _rollup(inner: QuerySet, select: str, joins: str, group: str) -> list[dict]:
    """Aggregate the per-parent rows of ``inner`` (a grouped ORM queryset: its filters and visibility stay in the
    ORM) joined to their ParentTCA: ``SELECT <select> FROM (inner) per <joins> GROUP BY <group>``.

    Two levels because it is much cheaper: the fills are summed once per (group, parent) in plain columns
    (count, quantity, value, fees), and the benchmark arithmetic runs on those few rows, not on every fill.
    """
    sql, params = inner.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cur:
        # Enough memory to group a million fills in a hash table rather than by an external sort on disk (4 MB,
        # the default, spills), and no JIT: compiling the expressions costs more than it saves on a few
        # hundred thousand rows. SET LOCAL: for this transaction only.
        cur.execute(f"SET LOCAL work_mem = '{GROUPING_WORK_MEM}'; SET LOCAL jit = off")
        cur.execute(f"SELECT {select} FROM ({sql}) per {joins} GROUP BY {group}", params)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


# Per-parent sums joined to ParentTCA ``t`` and its instrument ``i`` (_WITH_INSTRUMENT, for _ccy): sg is the parent's
# side sign, per.q / per.v / per.fee the group's quantity, value (sum q p: x i.multiplier in currency) and fees in that
# parent.
_SG = "(CASE WHEN t.side = 'buy' THEN 1 ELSE -1 END)"
_WITH_INSTRUMENT = " JOIN oms_instrument i ON i.id = t.instrument_id"
_SLIPPAGE_SQL = f"""
    sum({_ccy(f"{_SG} * (t.arrival_price * per.q - per.v)")}) AS arr_num, sum({_ccy("t.arrival_price * per.q")}) AS arr_den,
    sum({_ccy(f"{_SG} * (t.interval_vwap * per.q - per.v)")}) AS vwap_num, sum({_ccy("t.interval_vwap * per.q")}) AS vwap_den"""
# The executed part's shortfall (s q (D - p), in currency) less the fees ``fee`` (currency already), and its paper value.
_EXECUTED_IS_SQL = _ccy(f"{_SG} * (t.decision_price * per.q - per.v)")
_PAPER_SQL = _ccy("t.decision_price * per.q")


def _summary_by_venue(user, f: dict) -> list[dict]:
    qs = Fill.objects.filter(Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__") & _parent_scope(user, f, "parent_id"))
    inner = qs.values(vid=F("venue_id"), pid=F("parent_id")).annotate(
        n=Count("id"), q=Sum("quantity"), v=Sum(F("quantity") * F("price"), output_field=_DEC), fee=Sum("fee")).order_by()
    rows = _rollup(inner, f"""ve.code AS key, count(*) AS parents, sum(per.n) AS fills, sum(per.q) AS qty,
        sum({_ccy("per.v")}) AS notional, sum(per.fee) AS fees, {_SLIPPAGE_SQL},
        sum({_EXECUTED_IS_SQL} - per.fee) AS is_num, sum({_PAPER_SQL}) AS is_den""",
                   f"JOIN tca_parenttca t ON t.parent_id = per.pid{_WITH_INSTRUMENT} JOIN ems_venue ve ON ve.id = per.vid", "ve.code")
    return [_row(r["key"], parents=r["parents"], fills=r["fills"], quantity=r["qty"], notional=r["notional"], fees=r["fees"],
                 arr_num=r["arr_num"], arr_den=r["arr_den"], vwap_num=r["vwap_num"], vwap_den=r["vwap_den"],
                 is_num=r["is_num"], is_den=r["is_den"]) for r in rows]


def parent_tca_sums() -> dict:
    """Aggregates over ParentTCA rows (whole parents), in currency (``notional`` and ``is_total`` are stored so; the
    benchmark values x each instrument's multiplier): ``arr_num / arr_den`` and ``vwap_num / vwap_den`` are the
    slippage ``sum s (B Q m - notional) / sum B Q m``, ``is_num / is_den`` the shortfall ``sum IS / sum X D m``."""
    filled, paid = F("filled_quantity"), F("notional")
    a, v = F("arrival_price"), F("interval_vwap")
    return {
        "arr_num": Sum(_sign() * (_ccy_f(filled * a) - paid), output_field=_DEC), "arr_den": Sum(_ccy_f(filled * a), output_field=_DEC),
        "vwap_num": Sum(_sign() * (_ccy_f(filled * v) - paid), output_field=_DEC), "vwap_den": Sum(_ccy_f(filled * v), output_field=_DEC),
        "is_num": Sum("is_total", output_field=_DEC), "is_den": Sum(_ccy_f(F("quantity") * F("decision_price")), output_field=_DEC),
    }


def _summary_by_parent(user, f: dict, column: str) -> list[dict]:
    qs = ParentTCA.objects.filter(_tca_q(f, "") & _parent_scope(user, f, "parent_id"))
    rows = qs.values(key=F(column)).annotate(
        n_parents=Count("pk"), qty=Sum("filled_quantity"), sum_notional=Sum("notional"), sum_fees=Sum("fees"), **parent_tca_sums())
    fills = Fill.objects.filter(Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__") & _parent_scope(user, f, "parent_id"))
    inner = fills.values(pid=F("parent_id")).annotate(n=Count("id")).order_by()
    counts = {r["key"]: r["fills"] for r in _rollup(inner, f"t.{column} AS key, sum(per.n) AS fills",
                                                    "JOIN tca_parenttca t ON t.parent_id = per.pid", f"t.{column}")}
    return [_row(r["key"], parents=r["n_parents"], fills=counts.get(r["key"], 0), quantity=r["qty"], notional=r["sum_notional"],
                 fees=r["sum_fees"], arr_num=r["arr_num"], arr_den=r["arr_den"], vwap_num=r["vwap_num"], vwap_den=r["vwap_den"],
                 is_num=r["is_num"], is_den=r["is_den"]) for r in rows]


def _portfolio_scope(user, f: dict) -> Q:
    q = Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__")
    if "portfolio" in f:
        q &= Q(order__portfolio_id=f["portfolio"])
    if not _desk_wide(user):
        q &= Q(order__portfolio__in=roles.visible_portfolios(user).values("id"))
    return q


# Per grouping of allocations: the inner GROUP BY columns, the outer key, its join and the Constituent key.
_ALLOCATION_KEYS = {
    "portfolio": ({"pf": F("order__portfolio_id")}, "po.code", " JOIN oms_portfolio po ON po.id = per.pf", F("order__portfolio__code")),
    "algorithm": ({}, "t.strategy", "", F("parent__tca__strategy")),
    "period": ({}, "t.market_day", "", F("parent__tca__market_day")),
    "all": ({}, "'all'", "", Value("all")),  # one row (GROUP BY ()): a PM's "All" line (summary_share_total)
}


def _summary_by_allocation(user, f: dict, group_by: str) -> list[dict]:
    """Rows of allocations (a portfolio's, or a PM's share of each parent) grouped by ``group_by``."""
    inner_keys, key, join, constituent_key = _ALLOCATION_KEYS[group_by]
    inner = Allocation.objects.filter(_portfolio_scope(user, f)).values(**inner_keys, pid=F("parent_id")).annotate(
        n=Count("fill_id", distinct=True), q=Sum("quantity"), v=Sum(F("quantity") * F("price"), output_field=_DEC)).order_by()
    # Fees: the order's share of its parent's filled quantity (what pro-rata allocation gives each fill, up to lot rounding).
    fee = "t.fees * per.q / NULLIF(t.filled_quantity, 0)"
    rows = _rollup(inner, f"""{key} AS key, count(DISTINCT per.pid) AS parents, sum(per.n) AS fills, sum(per.q) AS qty,
        sum({_ccy("per.v")}) AS notional, sum({fee}) AS fees, {_SLIPPAGE_SQL},
        sum({_EXECUTED_IS_SQL} - coalesce({fee}, 0)) AS ex_num""",
                   f"JOIN tca_parenttca t ON t.parent_id = per.pid{_WITH_INSTRUMENT}{join}", "()" if group_by == "all" else key)
    # Each order's share of its parent's opportunity cost and its paper value (quantity x decision price).
    unfilled = F("parent__tca__quantity") - F("parent__tca__filled_quantity")
    opp = {r["key"]: r for r in Constituent.objects.filter(_portfolio_scope(user, f)).order_by().values(key=constituent_key).annotate(
        opp=Sum(F("parent__tca__is_opportunity") * (F("quantity") - F("allocated_quantity")) / NullIf(unfilled, 0), output_field=_DEC),
        paper=Sum(_ccy_f(F("quantity") * F("parent__tca__decision_price"), "parent__tca__"), output_field=_DEC),
    )}
    out = []
    for r in rows:
        o = opp.get(r["key"], {})
        is_num = (r["ex_num"] or Decimal(0)) + (o.get("opp") or Decimal(0))
        out.append(_row(r["key"], parents=r["parents"], fills=r["fills"], quantity=r["qty"], notional=r["notional"],
                        fees=r["fees"], arr_num=r["arr_num"], arr_den=r["arr_den"], vwap_num=r["vwap_num"],
                        vwap_den=r["vwap_den"], is_num=is_num, is_den=o.get("paper")))
    return out


def summary_share_total(*, user, filters: dict | None = None) -> dict | None:
    """The summary's "All" line for a PM (or an API client): their own share of every parent matching ``filters``,
    counted as the *portfolio* grouping counts (None: nothing analysed). The desk's is over the whole parents."""
    rows = [r for r in _summary_by_allocation(user, _clean_filters(filters), "all") if r["parents"]]
    return rows[0] if rows else None


def _own_allocations(user, fills: Q, f: dict) -> QuerySet[Allocation]:
    """The allocations to the user's visible portfolios (and the filtered one) of the fills ``fills`` selects."""
    qs = Allocation.objects.filter(fill__in=Fill.objects.filter(fills).values("id"),
                                   order__portfolio__in=roles.visible_portfolios(user).values("id"))
    return qs.filter(order__portfolio_id=f["portfolio"]) if "portfolio" in f else qs


def _summary_by_venue_share(user, f: dict) -> list[dict]:
    """:func:`_summary_by_venue` over the user's allocations of each venue's fills (fees pro rata of the fill)."""
    qs = _own_allocations(user, Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__"), f)
    q = F("quantity")
    inner = qs.values(vid=F("fill__venue_id"), pid=F("fill__parent_id")).annotate(
        n=Count("fill_id", distinct=True), q=Sum("quantity"), v=Sum(q * F("fill__price"), output_field=_DEC),
        fee=Sum(F("fill__fee") * q / F("fill__quantity"), output_field=_DEC)).order_by()
    rows = _rollup(inner, f"""ve.code AS key, count(DISTINCT per.pid) AS parents, sum(per.n) AS fills, sum(per.q) AS qty,
        sum({_ccy("per.v")}) AS notional, sum(per.fee) AS fees, {_SLIPPAGE_SQL},
        sum({_EXECUTED_IS_SQL} - per.fee) AS is_num, sum({_PAPER_SQL}) AS is_den""",
                   f"JOIN tca_parenttca t ON t.parent_id = per.pid{_WITH_INSTRUMENT} JOIN ems_venue ve ON ve.id = per.vid", "ve.code")
    return [_row(r["key"], parents=r["parents"], fills=r["fills"], quantity=r["qty"], notional=r["notional"], fees=r["fees"],
                 arr_num=r["arr_num"], arr_den=r["arr_den"], vwap_num=r["vwap_num"], vwap_den=r["vwap_den"],
                 is_num=r["is_num"], is_den=r["is_den"]) for r in rows]


LIQUIDITY_SHARES = {"passive": "maker", "aggressive": "taker", "midpoint": "mid", "rfq": "rfq", "internal": "internal"}


def best_execution(*, user, filters: dict | None = None) -> list[dict]:
    """Per venue, in the spirit of MiFID II RTS 28 / SEC Rule 606, as SQL aggregates.

    Scope: the fills of parents whose TCA is computed, and internal crosses (``filters`` as :func:`summary`;
    a strategy filter leaves the crosses out). Each row: ``venue``, ``kind``, ``volume`` (shares), ``volume_share``
    (of all rows), ``notional``, ``orders`` (distinct parents), ``children`` (distinct child orders filled),
    ``fills``, ``passive_share`` / ``aggressive_share`` / ``midpoint_share`` / ``rfq_share`` / ``internal_share``
    (of the venue's volume, by liquidity flag), ``effective_spread_bps`` (quantity-weighted),
    ``cost_arrival_bps`` (slippage against the parent's arrival: positive = better), ``markout_60s_bps``
    (quantity-weighted, positive = the price went our way), ``fees``, ``child_quantity_sent`` and ``fill_rate``
    (quantity our child orders filled there / quantity they asked for; None for a venue without child orders).
    Rows by volume.

    A PM (or an API client) reads only their own share (``ems.selectors.own_fills``): the quantities allocated to
    their orders of each fill (its fee pro rata), the bps weighted by those quantities; the child-order figures
    (``children``, ``child_quantity_sent``, ``fill_rate``) are the whole parent's and null for them.
    """
    f = _clean_filters(filters)
    scope = Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__")
    if "strategy" not in f:
        cross = Q(cross__isnull=False)
        for name, col in (("instrument", "instrument_id"), ("side", "side")):
            if name in f:
                cross &= Q(**{col: f[name]})
        if "day_from" in f:
            cross &= Q(market_day__gte=f["day_from"])
        if "day_to" in f:
            cross &= Q(market_day__lte=f["day_to"])
        scope |= cross
    whole = _desk_wide(user)
    if whole and "portfolio" in f:
        scope &= Exists(Allocation.objects.filter(fill=OuterRef("pk"), order__portfolio_id=f["portfolio"]))
    q = F("quantity")
    if whole:  # the desk: every fill whole
        p, base, fee = "", Fill.objects.filter(scope), Sum("fee")
    else:  # a PM (or an API client): their allocations of the fills, each fill's fee pro rata (ems.selectors.own_fills)
        p, base = "fill__", _own_allocations(user, scope, f)
        fee = Sum(F("fill__fee") * q / F("fill__quantity"), output_field=_DEC)
    shares = {f"l_{k}": Sum("quantity", filter=Q(**{f"{p}liquidity": v})) for k, v in LIQUIDITY_SHARES.items()}
    # Grouped by instrument too (one per parent: no more rows), for its multiplier: an internal cross has no ParentTCA.
    inner = base.values(vid=F(f"{p}venue_id"), pid=F(f"{p}parent_id"), iid=F(f"{p}instrument_id")).annotate(
        n=Count(f"{p}id", distinct=True), q=Sum("quantity"), v=Sum(q * F(f"{p}price"), output_field=_DEC), fee=fee,
        child_q=Sum("quantity", filter=Q(**{f"{p}child__isnull": False})),
        eff=Sum(q * F(f"{p}tca__effective_spread_bps"), output_field=_DEC),
        eff_w=Sum("quantity", filter=Q(**{f"{p}tca__effective_spread_bps__isnull": False})),
        m60=Sum(q * F(f"{p}tca__markout_60s_bps"), output_field=_DEC),
        m60_w=Sum("quantity", filter=Q(**{f"{p}tca__markout_60s_bps__isnull": False})),
        **shares,
    ).order_by()
    rows = _rollup(inner, f"""per.vid AS venue_id, ve.code AS venue, ve.kind AS kind, sum(per.q) AS volume,
        sum({_ccy("per.v")}) AS notional, count(per.pid) AS orders, sum(per.n) AS fills, sum(per.fee) AS fees,
        sum(per.child_q) AS child_volume, sum(per.eff) AS eff, sum(per.eff_w) AS eff_w, sum(per.m60) AS m60, sum(per.m60_w) AS m60_w,
        sum({_ccy(f"{_SG} * (t.arrival_price * per.q - per.v)")}) AS arr_num, sum({_ccy("t.arrival_price * per.q")}) AS arr_den,
        {", ".join(f"sum(per.l_{k}) AS l_{k}" for k in LIQUIDITY_SHARES)}""",
                   "LEFT JOIN tca_parenttca t ON t.parent_id = per.pid JOIN oms_instrument i ON i.id = per.iid JOIN ems_venue ve ON ve.id = per.vid",
                   "per.vid, ve.code, ve.kind")
    child_scope = Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__") & _parent_scope(user, f, "parent_id")
    # Child orders per venue from their own table (cheaper than counting distinct children over the fills). They are
    # the whole parent's (the desk's): a PM's rows carry none (children, child_quantity_sent and fill_rate null).
    sent = {} if not whole else {v: (q, n) for v, q, n in ChildOrder.objects.filter(child_scope).values_list("venue_id").annotate(
        q=Sum("quantity"), n=Count("id", filter=Q(filled_quantity__gt=0)))}
    total = int(sum(r["volume"] for r in rows))
    out = []
    for r in rows:
        vol = int(r["volume"])  # raw SQL sums of integers come back as numeric: JSON wants ints and floats
        sent_q, children = sent.get(r["venue_id"], (None, 0 if whole else None))
        out.append({
            "venue": r["venue"], "kind": r["kind"], "volume": vol, "volume_share": vol / total if total else None,
            "notional": r["notional"].quantize(PRICE_Q), "orders": int(r["orders"]), "children": children, "fills": int(r["fills"]),
            **{f"{k}_share": int(r[f"l_{k}"] or 0) / vol for k in LIQUIDITY_SHARES},
            "effective_spread_bps": _wavg(r["eff"], r["eff_w"]),
            "cost_arrival_bps": _wavg(r["arr_num"] * 10_000 if r["arr_num"] is not None else None, r["arr_den"]),
            "markout_60s_bps": _wavg(r["m60"], r["m60_w"]),
            "fees": (r["fees"] or Decimal(0)).quantize(PRICE_Q),
            "child_quantity_sent": sent_q,
            "fill_rate": int(r["child_volume"] or 0) / sent_q if sent_q else None,
        })
    return sorted(out, key=lambda r: (-r["volume"], r["venue"]))


def fills_for_export(*, user, filters: dict | None = None) -> QuerySet[Fill]:
    """Every fill of a parent whose TCA is computed that the user may see, with its FillMetrics (``fill.tca``),
    parent TCA (``fill.parent.tca``), venue and instrument, in time order (for CSV / XLSX). ``filters`` as
    :func:`summary`."""
    f = _clean_filters(filters)
    scope = Q(parent__tca__isnull=False) & _tca_q(f, "parent__tca__") & _parent_scope(user, f, "parent_id")
    # A PM's: the fills allocated to them, in their quantity (``ems.selectors.own_fills``, as /api/fills/).
    return (own_fills(user=user, fills=Fill.objects.filter(scope)).select_related("tca", "parent__tca", "venue", "instrument")
            .order_by("market_day", "market_time_us", "id"))


# --- imported executions ----------------------------------------------------------------------------------

def analysed_parents(*, user, filters: dict) -> QuerySet[ParentTCA]:
    """The newest parents with a TCA that the user may see, under the same filters as the summary."""
    visible = parent_list(user=user).order_by().values("id")
    qs = ParentTCA.objects.filter(parent_id__in=visible).select_related("parent", "instrument")
    if "instrument" in filters:
        qs = qs.filter(instrument__symbol=filters["instrument"])
    if "strategy" in filters:
        qs = qs.filter(strategy=filters["strategy"])
    if "side" in filters:
        qs = qs.filter(side=filters["side"])
    if "day_from" in filters:
        qs = qs.filter(market_day__gte=filters["day_from"])
    if "day_to" in filters:
        qs = qs.filter(market_day__lte=filters["day_to"])
    if "portfolio" in filters:
        qs = qs.filter(parent_id__in=parent_list(user=user).order_by()
                       .filter(constituents__order__portfolio__code=filters["portfolio"]).values("id"))
    return qs.order_by("-parent_id")


def import_sets(*, user) -> QuerySet[ImportSet]:
    """Imported sets the user may reopen, newest first: the desk and compliance see all, others their own."""
    if roles.role_of(user) is None:
        return ImportSet.objects.none()
    qs = ImportSet.objects.select_related("uploaded_by").order_by("-id")
    return qs if _desk_wide(user) else qs.filter(uploaded_by=user)


def import_set_get(*, user, set_id) -> ImportSet | None:
    try:
        pk = int(set_id)
    except (TypeError, ValueError):
        return None
    return import_sets(user=user).filter(pk=pk).first()


def import_set_rows(import_set: ImportSet):
    """The rows of an imported set in file order, each with its slippage (a lazy queryset of dicts: page it,
    iterate it, or ``list`` it)."""
    return import_set.executions.order_by("line").values(
        "line", "child_order_id", "timestamp", "venue", "order_type", "side", "quantity", "price", "benchmark_price",
        "slippage_bps", "slippage_ccy")


# --- what-if replays --------------------------------------------------------------------------------------

def what_if_get(*, user, what_if_id) -> WhatIf | None:
    """A what-if replay of a parent the user may see."""
    try:
        pk = int(what_if_id)
    except (TypeError, ValueError):
        return None
    return what_ifs(user=user).filter(pk=pk).select_related("parent__instrument").first()


def what_ifs(*, user) -> QuerySet[WhatIf]:
    """What-if replays the user may read, newest first. A replay is of the whole parent (its size, every fill): a PM
    (or an API client) reads those of the parents that are wholly theirs (``ems.selectors.parents_seen_whole``), never
    of a parent shared with another portfolio."""
    return WhatIf.objects.filter(parent__in=parents_seen_whole(user=user).order_by().values("id")).order_by("-id")


def what_if_original_fills(parent: ParentOrder) -> list[tuple]:
    """``(t_us, venue, liquidity, quantity, price, fee)`` of the parent's actual fills, in time order."""
    return list(Fill.objects.filter(parent=parent).order_by("market_time_us", "id").values_list(
        "market_time_us", "venue__code", "liquidity", "quantity", "price", "fee"))


def reconciliation_runs(*, user, limit: int = 20):
    """The latest reconciliation runs (desk and compliance only; others get none)."""
    if not _desk_wide(user):
        return ReconciliationRun.objects.none()
    return ReconciliationRun.objects.order_by("-id")[:limit]


def audit_events_for(object_type: str, object_id) -> QuerySet[AuditEvent]:
    """The audit events of one TCA object (reconciliation run, import set, what-if)."""
    return AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("seq")
