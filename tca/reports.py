"""TCA reports: one parent's report, an imported set, a what-if replay beside its original, assembled
JSON-ready from the stored (or freshly computed) figures and the reads and SQL groupings of
``tca.selectors``. The API serializers and the pages render these dicts.

Signs as in ``tca.measures``, one convention for every figure: positive = better for us (slippage and
markouts in bps, the implementation shortfall's components as currency saved against the paper portfolio; a
cost is negative). Units as there too: quantities in the instrument's unit (contracts of an option), every
currency amount x the instrument's contract multiplier (``tca.measures.currency``).
"""

from __future__ import annotations

from ems.models import Fill
from ems.selectors import own_fee, own_fills, parent_chart, parent_share, sees_whole_parents
from ems.sim.clock import US, format_clock
from oms.errors import Conflict
from oms.money import PRICE_Q
from tca.benchmarks import cumulative_vwap
from tca.error_codes import TcaErrorCode
from tca.figures import as_decimal, day_market, parent_figures
from tca.measures import IS_COMPONENTS, MARKOUT_HORIZONS_S, currency, notional, slippage_bps, slippage_ccy_paid
from tca.models import FillMetrics, ImportSet, WhatIf
from tca.rfq_executions import parent_rfq_executions
from tca.selectors import (
    import_set_rows,
    parent_child_breakdown,
    parent_constituent_lines,
    parent_fill_metrics,
    parent_fills_in_time,
    parent_tca_stored,
    parent_venue_breakdown,
    parent_what_ifs,
    tca_parent_get,
    what_if_original_fills,
)

BENCHMARKS = ("arrival", "decision", "interval_vwap", "interval_twap", "open", "close", "prev_close")
REPORT_FILLS = 1000  # fills a parent report lists (the venue breakdown and figures cover them all)


def _f(x) -> float | None:
    return None if x is None else float(x)


def _fills_json(fills: list[Fill], metrics: dict[int, FillMetrics], arrival: float) -> list[dict]:
    out = []
    for f in fills[:REPORT_FILLS]:
        m = metrics.get(f.pk)
        out.append({
            "id": f.pk, "exec_id": f.exec_id, "t_us": f.market_time_us, "clock": format_clock(f.market_time_us)[:12],
            "venue": f.venue.code, "liquidity": f.liquidity, "quantity": f.quantity, "price": f.price, "fee": f.fee,
            "slippage_arrival_bps": round(slippage_bps(f.side, float(f.price), arrival), 4),
            "mid": None if m is None else m.mid,
            "spread_bps": None if m is None else m.spread_bps,
            "effective_spread_bps": None if m is None else m.effective_spread_bps,
            "spread_capture": None if m is None else m.spread_capture,
            **{f"markout_{h}s_bps": None if m is None else getattr(m, f"markout_{h}s_bps") for h in MARKOUT_HORIZONS_S},
        })
    return out


def parent_report(*, user, parent_id: int) -> dict | None:
    """One parent's TCA, JSON-ready; None when the user may not see it (or it does not exist). An empty parent
    (every order cancelled before a fill) raises ``Conflict`` (``tca.nothing_executed``): there is nothing to measure.

    Keys:
      ``parent``: id, instrument, side, strategy, status, quantity, filled_quantity, multiplier (the instrument's
        contract multiplier: quantities are contracts of it, every currency amount x it), avg_price, fees, notional, market_day,
        start_us, end_us (the window), start_clock, end_clock, participation (fraction of the market's volume).
      ``provisional``: True when the figures were computed now rather than stored (a parent still working,
        or closed but not yet refreshed); ``computed_at`` of the stored row otherwise.
      ``benchmarks``: [{name, price, slippage_bps, slippage_ccy}] for arrival, decision, interval_vwap,
        interval_twap, open, close, prev_close (price None: not available; positive = better than it).
      ``shortfall``: {delay, timing, impact, opportunity, fees, total} in currency (positive = better, a cost negative) and
        ``bps`` (same keys, of quantity x decision price); ``waterfall``: [{component, ccy, bps}] in that order.
      ``fills``: the parent's fills in time order (at most ``REPORT_FILLS``; ``fills_total`` counts all), each
        {id, exec_id, t_us, clock, venue, liquidity, quantity, price, fee, slippage_arrival_bps, mid, spread_bps,
        effective_spread_bps, spread_capture, markout_1s_bps, markout_10s_bps, markout_60s_bps, markout_300s_bps}.
      ``series``: ``ems.selectors.parent_chart``'s shape (t0, t1, now, arrival, limit, side, quantity, market{t, mid},
        vwap{t, price}, fills[{t, price, qty, venue, liquidity}], done{t, qty}, schedule{t, qty, from_algo}), times in
        seconds since the open; market mid and cumulative interval VWAP from the market rebuilt with our fills.
      ``venues``: [{venue, kind, fills, quantity, share, notional, avg_price, fees, slippage_arrival_bps,
        effective_spread_bps, markout_1s_bps ... markout_300s_bps}] (SQL grouping, quantity-weighted).
      ``markouts``: {horizons_s: [1, 10, 60, 300], by_venue: [{venue, bps: [4 values]}], all: [4 values]}.
      ``children``: [{child_id, client_order_id, venue, kind, order_type, quantity, status, sent_clock, fills,
        filled_quantity, avg_price, slippage_arrival_bps, slippage_arrival_ccy, vs_mid_bps}] the child orders that
        filled (SQL grouping; vs_mid_bps: against the mid at each fill, what the child paid for spread and impact).
      ``constituents``: [{order_id, client_order_id, portfolio, side, quantity, filled_quantity, avg_price,
        slippage_arrival_bps, slippage_arrival_ccy, slippage_vwap_bps}] (a PM: their own orders only).
      ``what_ifs``: [{id, strategy, created_at}] replays of this parent.
      ``rfq_executions``: [{rfq_id, instrument, side, quantity, multiplier, price, provider, quotes_received,
        requested_at, mid_at_request, legs [{instrument, side, ratio, model_mid}], benchmarks [{name, price,
        slippage_bps, slippage_ccy}] for model_mid, best_quote, cover_quote}] each executed RFQ of the parent
        (``tca.rfq_executions``; currency x contracts x multiplier; a PM: currency in proportion to their share).
    """
    parent = tca_parent_get(user=user, parent_id=parent_id)
    if parent is None:
        return None
    if parent.is_empty:
        raise Conflict(TcaErrorCode.NOTHING_EXECUTED,
                       f"Parent order {parent.pk} executed nothing: every order of it was cancelled before a fill")
    stored = parent_tca_stored(parent)
    if stored is not None:
        tca = stored
        fills = parent_fills_in_time(parent)
        metrics = parent_fill_metrics(parent)
        shortfall = {k: getattr(tca, f"is_{k}") for k in IS_COMPONENTS}
        paper = notional(tca.decision_price, tca.quantity, parent.instrument.multiplier)
        shortfall["bps"] = {k: (float(v) / float(paper) * 1e4 if paper else None) for k, v in list(shortfall.items())}
    else:
        figures = parent_figures(parent)
        tca, fills = figures.tca, figures.fills
        metrics = {m.fill.pk: m for m in figures.metrics}
        shortfall = {k: as_decimal(getattr(figures.shortfall, k)) for k in IS_COMPONENTS}
        shortfall["bps"] = dict(figures.shortfall.bps)
    arrival = float(tca.arrival_price)
    multiplier = parent.instrument.multiplier
    prices = {"arrival": tca.arrival_price, "decision": tca.decision_price, "interval_vwap": tca.interval_vwap,
              "interval_twap": tca.interval_twap, "open": tca.open_price, "close": tca.close_price, "prev_close": tca.prev_close}
    benchmarks = []
    for name in BENCHMARKS:
        b = prices[name]
        ok = b is not None and tca.avg_price is not None and b > 0
        benchmarks.append({
            "name": name, "price": b,
            "slippage_bps": round(slippage_bps(tca.side, float(tca.avg_price), float(b)), 4) if ok else None,
            "slippage_ccy": slippage_ccy_paid(tca.side, b, tca.filled_quantity, tca.notional, multiplier).quantize(PRICE_Q) if ok else None,
        })
    venues, curve = parent_venue_breakdown(parent.pk, tca.arrival_price, multiplier)
    series = parent_chart(parent, fills=fills)
    market = day_market(parent.instrument, parent.market_day)
    t0, t1 = series["t0"] * US, series["t1"] * US
    step = max(US, (t1 - t0) // 400 // US * US)
    times, mids = market.mid_series(t0, t1, step)
    series["market"] = {"t": [int(x) // US for x in times], "mid": [round(float(m), 6) for m in mids]}
    series["arrival"] = float(tca.arrival_price)  # the benchmark's (an option's: the model's mid then)
    series["vwap"] = cumulative_vwap(market, parent.start_us, t1, step)
    report = {
        "parent": {
            "id": parent.pk, "instrument": parent.instrument.symbol, "side": parent.side, "strategy": parent.strategy,
            "status": parent.status, "quantity": parent.quantity, "filled_quantity": tca.filled_quantity,
            "multiplier": multiplier, "avg_price": tca.avg_price, "fees": tca.fees, "notional": tca.notional, "market_day": tca.market_day,
            "start_us": tca.start_us, "end_us": tca.end_us, "start_clock": format_clock(tca.start_us)[:8],
            "end_clock": format_clock(tca.end_us)[:8], "participation": _f(tca.participation),
        },
        "provisional": stored is None,
        "computed_at": stored.computed_at if stored is not None else None,
        "benchmarks": benchmarks,
        "shortfall": shortfall,
        "waterfall": [{"component": k, "ccy": shortfall[k], "bps": shortfall["bps"].get(k)} for k in IS_COMPONENTS],
        "fills": _fills_json(fills, metrics, arrival),
        "fills_total": len(fills),
        "series": series,
        "venues": venues,
        "markouts": curve,
        "children": parent_child_breakdown(parent.pk, parent.side, tca.arrival_price, multiplier),
        "constituents": parent_constituent_lines(user, parent, tca),
        "what_ifs": [{"id": w.pk, "strategy": w.strategy, "created_at": w.created_at} for w in parent_what_ifs(parent)],
        "rfq_executions": parent_rfq_executions(parent),
    }
    return report if sees_whole_parents(user) else _own_share(report, user=user, parent=parent, tca=tca, metrics=metrics)


def _own_share(report: dict, *, user, parent, tca, metrics: dict) -> dict:
    """The report as a PM (or an API client) may read it (``ems.selectors.parent_share``): of a parent pooling
    several portfolios' orders, their own share only. Sizes, currency amounts and fills are theirs (the
    shortfall's currency components in proportion to their quantity, participation in proportion to their fills; bps and
    markouts are the parent's); the parent's
    child orders, venue volumes and what-if replays (whole-parent figures) are the desk's."""
    share = parent_share(user=user, parent=parent)
    ratio = share.quantity / tca.quantity if tca.quantity else 0
    # Participation is the parent's volume over the market's: theirs is their filled part of it.
    participation = report["parent"]["participation"]
    if participation is not None:
        participation = participation * share.filled_quantity / tca.filled_quantity if tca.filled_quantity else 0.0
    multiplier = parent.instrument.multiplier
    paid = currency(share.notional, multiplier)  # the share's notional is price x quantity (its average price's numerator)
    report["parent"].update(quantity=share.quantity, filled_quantity=share.filled_quantity, avg_price=share.avg_price,
                            fees=share.fees, notional=paid, participation=participation)
    for b in report["benchmarks"]:
        ok = b["price"] is not None and share.avg_price is not None and b["price"] > 0
        b["slippage_bps"] = round(slippage_bps(tca.side, float(share.avg_price), float(b["price"])), 4) if ok else None
        b["slippage_ccy"] = (slippage_ccy_paid(tca.side, b["price"], share.filled_quantity, paid, multiplier).quantize(PRICE_Q)
                              if ok else None)
    for k in IS_COMPONENTS:
        if report["shortfall"][k] is not None:
            report["shortfall"][k] = (report["shortfall"][k] * as_decimal(ratio)).quantize(PRICE_Q)
    report["waterfall"] = [{"component": k, "ccy": report["shortfall"][k], "bps": report["shortfall"]["bps"].get(k)} for k in IS_COMPONENTS]
    mine = list(own_fills(user=user, fills=Fill.objects.filter(parent=parent)).select_related("venue").order_by("market_time_us", "id"))
    report["fills"] = _fills_json(mine, metrics, float(tca.arrival_price))
    for row, fill in zip(report["fills"], mine, strict=False):
        row.update(quantity=fill.own_quantity, fee=own_fee(fill))
    report["fills_total"] = len(mine)
    series = report["series"]
    series["quantity"] = share.quantity
    series["fills"] = [{"t": f.market_time_us / US, "price": float(f.price), "qty": f.own_quantity, "venue": f.venue.code,
                        "liquidity": f.liquidity} for f in mine]
    for key in ("done", "schedule"):
        series[key]["qty"] = [round(q * ratio) for q in series[key]["qty"]]
    fill_ratio = as_decimal(share.filled_quantity / tca.filled_quantity if tca.filled_quantity else 0)
    for execution in report["rfq_executions"]:
        for b in execution["benchmarks"]:
            if b["slippage_ccy"] is not None:
                b["slippage_ccy"] = (b["slippage_ccy"] * fill_ratio).quantize(PRICE_Q)
    report.update(venues=[], children=[], what_ifs=[])  # (the markouts are bps: they stay the parent's)
    return report


def import_set_report(import_set: ImportSet) -> dict:
    """An imported set as the API returns it and the page shows it (JSON-ready).

    Keys: ``id``, ``name``, ``source``, ``uploaded_by`` (username or None), ``created_at``, ``rows`` — each
    {line, child_order_id, timestamp, venue, order_type, side, quantity, price, benchmark_price, slippage_bps,
    slippage_ccy} in file order (a lazy queryset: the API pages it, a CSV streams it) — and ``totals`` {rows, quantity, avg_price, avg_benchmark, slippage_bps,
    slippage_ccy} (quantity-weighted; slippage positive = better than the benchmark).
    """
    rows = import_set_rows(import_set)
    return {
        "id": import_set.pk, "name": import_set.name, "source": import_set.source,
        "uploaded_by": import_set.uploaded_by.get_username() if import_set.uploaded_by_id else None,
        "created_at": import_set.created_at, "rows": rows,
        "totals": {"rows": import_set.rows, "quantity": import_set.quantity, "avg_price": import_set.avg_price,
                   "avg_benchmark": import_set.avg_benchmark, "slippage_bps": import_set.slippage_bps,
                   "slippage_ccy": import_set.slippage_ccy},
    }


def what_if_report(what_if: WhatIf) -> dict:
    """The two executions side by side, JSON-ready.

    Keys: ``id``, ``parent_id``, ``instrument``, ``side``, ``strategy`` and ``params`` (what the replay ran with),
    ``created_at``, ``original`` and ``what_if`` — each an execution summary (see
    ``tca.services.what_if.execution_summary``: strategy, quantity, filled, avg_price, notional, fees, fills,
    end_us, participation, benchmarks{name: price}, slippage{name: {bps, ccy}}, shortfall{component: ccy, bps{}},
    venues[{venue, fills, quantity, notional, avg_price, fees}]) plus ``executions``: [{t, clock, venue, liquidity,
    qty, price, fee}] in time order (t in seconds since the open).
    """
    p = what_if.parent
    original = [{"t": t / US, "clock": format_clock(t)[:12], "venue": venue, "liquidity": liq, "qty": qty, "price": float(price),
                 "fee": float(fee)}
                for t, venue, liq, qty, price, fee in what_if_original_fills(p)]
    replayed = [{"t": t / US, "clock": format_clock(int(t))[:12], "venue": venue, "liquidity": liq, "qty": qty, "price": price,
                 "fee": fee} for t, venue, liq, qty, price, fee in what_if.fills]
    return {
        "id": what_if.pk, "parent_id": p.pk, "instrument": p.instrument.symbol, "side": p.side, "strategy": what_if.strategy,
        "params": what_if.params, "created_at": what_if.created_at,
        "original": {**what_if.summary.get("original", {}), "executions": original},
        "what_if": {**what_if.summary.get("what_if", {}), "executions": replayed},
    }
