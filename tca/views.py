"""Browser pages of transaction cost analysis (thin: parse the request, call a tca selector or service, render).

- ``/tca/``: the summary. Closed parents' costs grouped by venue, algorithm, portfolio or period (market
  day), filtered by instrument, strategy, portfolio, side and a range of market days (a GET form, so a
  filtered view is a link), as a table and a bar chart of the bps per group, with CSV / XLSX exports; under
  it the parents analysed, each a link to its report.
- ``/tca/parents/<id>/``: one parent as a PM or a trader reads it at a glance: what it was, the benchmarks
  (arrival, interval VWAP, TWAP, open, close, previous close) with the slippage against each in bps and in
  currency, the implementation-shortfall waterfall (delay, timing, impact, opportunity, fees -> total), our
  fills against the mid and the interval VWAP, done vs schedule, the venue breakdown, the markout curve per
  venue, each original order's slippage; and the what-if replay (``POST .../what-if/`` runs
  ``tca.services.what_if_run`` and comes back with the two executions side by side, ``?what_if=<id>``).
- ``/tca/best-execution/``: the compliance report per venue (volume, orders, passive / aggressive /
  midpoint share, effective spread, cost, markout) over a period of market days, with exports.
- ``/tca/imports/``: upload a CSV of outside executions (multipart); a good file goes to its page
  ``/tca/imports/<id>/`` (per-row slippage and the quantity-weighted totals), a bad one comes back with
  one message per bad row and nothing imported; earlier imports are listed to reopen.

Sign convention on every page (tca/measures.py): slippage and markouts in bps are **positive when better
than the benchmark** (bought below it, sold above it); so are the implementation-shortfall
components (currency saved against the paper portfolio; a cost is negative): one convention on every page,
stated next to the figures. The charts are drawn by static/js/tca.js (vendored uPlot) from JSON embedded in the page
with ``json_script``: no second request, and the page is whole when it arrives.

Who: every signed-in role may open TCA; the selectors decide what each sees (a PM: the parents holding an
order of their portfolios, and only their own orders' lines; another PM's parent is a 404, as on the API).
The what-if form is for the desk roles (trader, compliance, admin): a PM reads the TCA of their orders but
does not re-run the desk's executions.
"""

from __future__ import annotations

from decimal import Decimal
from functools import wraps
from urllib.parse import urlencode

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import ValidationError
from rest_framework.fields import FloatField

from ems import selectors as ems_selectors
from ems.algos import ALGORITHM_CHOICES
from ems.algos.types import StrategyName
from oms import role_names, roles
from oms.client_gone import client_gone
from oms.error_codes import PermissionErrorCode
from oms.errors import Conflict, DomainError
from oms.exports import export_links
from oms.models import Urgency
from oms.roles import Actor
from oms.selectors import instrument_list
from oms.views import login_required
from tca import exports, reports, selectors, services
from tca.api.serializers import WhatIfParamsSerializer
from tca.error_codes import TcaErrorCode
from tca.measures import notional, slippage_bps
from tca.models import ParentTCA

GROUPS = [("venue", "Venue"), ("algorithm", "Algorithm"), ("portfolio", "Portfolio"), ("period", "Day")]
STRATEGIES = [*ALGORITHM_CHOICES, (StrategyName.RFQ.value, StrategyName.RFQ.name)]  # what a parent was worked with
SIDES = [("buy", "Buy"), ("sell", "Sell")]
PARENTS_CAP = 100  # newest analysed parents listed under the summary
IMPORT_SETS_CAP = 50  # newest imports listed to reopen
IMPORT_ROWS_CAP = 2_000  # rows an import's page shows (the totals are over all of them; the export has them all)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # tca.services.executions_import refuses more; refused here before reading it
MAX_DAY = 100_000
WHAT_IF_NUMBERS = ("max_participation", "interval_s")  # typed as text into the form

# How the page names the benchmarks of an RFQ execution (tca.rfq_executions.RFQ_BENCHMARKS).
RFQ_BENCHMARK_LABELS = {
    "model_mid": ("Model mid at request", "the model's value (BSM on the underlying's mid) when the RFQ went out"),
    "best_quote": ("Best quote", "the best price quoted on our side"),
    "cover_quote": ("Cover", "the second best quote: what the winner had to beat"),
}


def _is_desk(user) -> bool:
    return roles.role_of(user) in roles.DESK_WIDE


def role_required(view):
    """Every role that reads TCA (PM, trader, compliance, admin); an API client or no role gets a 403 page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if roles.role_of(request.user) not in (role_names.PM, *roles.DESK_WIDE):
            return render(request, "403.html", {"message": "Transaction cost analysis is for PMs, traders and compliance."}, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


# --- filters -------------------------------------------------------------------------------------


class TcaFilterForm(forms.Form):
    """The summary's and the best-execution report's filters (``tca.selectors.summary`` / ``best_execution``)."""

    group_by = forms.ChoiceField(choices=GROUPS, required=False, label="Group by")
    instrument = forms.ChoiceField(required=False)
    strategy = forms.ChoiceField(choices=[("", "Any")] + STRATEGIES, required=False, label="Algorithm")
    portfolio = forms.ChoiceField(required=False)
    side = forms.ChoiceField(choices=[("", "Any")] + SIDES, required=False)
    day_from = forms.IntegerField(required=False, min_value=0, max_value=MAX_DAY, label="From day",
                                  widget=forms.NumberInput(attrs={"placeholder": "first"}))
    day_to = forms.IntegerField(required=False, min_value=0, max_value=MAX_DAY, label="To day",
                                widget=forms.NumberInput(attrs={"placeholder": "last"}))

    def __init__(self, data, *, user):
        super().__init__(data)
        self.fields["instrument"].choices = [("", "Any")] + [(i.symbol, i.symbol) for i in instrument_list()]
        self.fields["portfolio"].choices = [("", "Any")] + [(p.code, p.code) for p in roles.visible_portfolios(user).order_by("code")]

    def clean(self):
        cleaned = super().clean()
        lo, hi = cleaned.get("day_from"), cleaned.get("day_to")
        if lo is not None and hi is not None and hi < lo:
            self.add_error("day_to", "To day must not be before from day")
        return cleaned

    def filters(self) -> dict:
        """The selector's filters: only what was chosen (an invalid form filters nothing out of sight: none)."""
        keys = ("instrument", "strategy", "portfolio", "side", "day_from", "day_to")
        return {k: self.cleaned_data[k] for k in keys if self.cleaned_data.get(k) not in (None, "")}


def _query(filters: dict, **extra) -> str:
    return urlencode({**{k: v for k, v in filters.items() if v not in (None, "")}, **extra})


def _exports(api_path: str, filters: dict, *, tables: tuple[str, ...] = (), **extra) -> list[dict]:
    """Download links of a report (the API serves every report as CSV and XLSX: one implementation)."""
    return export_links(api_path, {**filters, **extra}, tables=tables)


# --- summary -------------------------------------------------------------------------------------


@role_required
@require_GET
def summary(request):
    """The TCA summary: costs grouped by venue, algorithm, portfolio or day, filtered; with a chart and exports."""
    form = TcaFilterForm(request.GET or None, user=request.user)
    valid = form.is_valid() if form.is_bound else True
    group_by = request.GET.get("group_by") if request.GET.get("group_by") in dict(GROUPS) else "venue"
    filters = form.filters() if form.is_bound and valid else {}
    rows = []
    if valid:
        try:
            rows = selectors.summary(user=request.user, group_by=group_by, filters=filters)
        except DomainError as exc:  # a filter the form let through but the selector refuses: say so on the form
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
            valid, filters = False, {}
    parents_qs = selectors.analysed_parents(user=request.user, filters=filters) if valid else ParentTCA.objects.none()
    chart = {
        "group_by": dict(GROUPS)[group_by],
        "keys": [str(r["key"]) for r in rows],
        "arrival": [_num(r.get("slippage_arrival_bps")) for r in rows],
        "vwap": [_num(r.get("slippage_vwap_bps")) for r in rows],
    }
    return render(request, "tca/summary.html", {
        "form": form, "group_by": group_by, "group_label": dict(GROUPS)[group_by], "groups": GROUPS, "rows": rows,
        "totals": _summary_totals(rows, parents_qs, user=request.user, filters=filters), "chart": chart, "filters": filters,
        "parents": _with_is_bps(parents_qs[:PARENTS_CAP], user=request.user), "parent_count": parents_qs.count(), "cap": PARENTS_CAP,
        "exports": _exports("/api/tca/summary/", filters, group_by=group_by),
        "fill_exports": _exports("/api/tca/fills/", filters),
        "group_links": [(key, label, f"?{_query(filters, group_by=key)}") for key, label in GROUPS],
    })


def _with_is_bps(rows, *, user) -> list[ParentTCA]:
    """Each parent's shortfall also in bp of its order's value at the decision price (as the summary's groups).

    A PM (or an API client) reads their own share of each (``ems.selectors.parent_share``, as the parent's own
    report shows it): their quantity, filled quantity and average price, the slippage of that average, the
    shortfall in proportion to their quantity (its bp are the parent's)."""
    out = list(rows)
    for t in out:
        if not ems_selectors.sees_whole_parents(user):
            share = ems_selectors.parent_share(user=user, parent=t.parent)
            ratio = Decimal(share.quantity) / Decimal(t.quantity) if t.quantity else Decimal(0)
            avg = share.avg_price
            t.slippage_arrival_bps = _share_bps(t.side, avg, t.arrival_price)
            t.slippage_vwap_bps = _share_bps(t.side, avg, t.interval_vwap)
            t.quantity, t.filled_quantity, t.avg_price = share.quantity, share.filled_quantity, avg
            t.is_total = (t.is_total * ratio).quantize(Decimal("0.01"))
        paper = notional(t.decision_price, t.quantity, t.instrument.multiplier)  # is_total is currency (x the multiplier)
        t.is_bps = float(t.is_total) / float(paper) * 1e4 if paper else None
    return out


def _share_bps(side: str, avg: Decimal | None, benchmark: Decimal | None) -> float | None:
    return round(slippage_bps(side, float(avg), float(benchmark)), 4) if avg is not None and benchmark else None


def _num(x) -> float | None:
    return None if x is None else round(float(x), 4)


def _summary_totals(rows: list[dict], parents_qs, *, user, filters: dict) -> dict | None:
    """The table's "All" line: counts, quantity, notional and fees summed over the groups; the bp not averaged
    over groups (their denominators differ) but computed over the whole parents matching the filters, with
    the summary's own formulas (``tca.selectors.parent_tca_sums``: ``sum s (B Q m - notional) / sum B Q m`` and
    ``sum IS / sum X D m``). A PM's (or an API client's) is over their own share of those parents
    (``tca.selectors.summary_share_total``)."""
    if not rows:
        return None
    if not ems_selectors.sees_whole_parents(user):
        total = selectors.summary_share_total(user=user, filters=filters)
        return None if total is None else {k: v for k, v in total.items() if k != "key"}
    agg = parents_qs.aggregate(**selectors.parent_tca_sums())

    def bps(num, den):
        return float(num) / float(den) * 1e4 if num is not None and den else None

    return {
        "parents": parents_qs.count(), "fills": sum(r.get("fills") or 0 for r in rows), "quantity": sum(r.get("quantity") or 0 for r in rows),
        "notional": sum(Decimal(str(r.get("notional") or 0)) for r in rows), "fees": sum(Decimal(str(r.get("fees") or 0)) for r in rows),
        "slippage_arrival_bps": bps(agg["arr_num"], agg["arr_den"]), "slippage_vwap_bps": bps(agg["vwap_num"], agg["vwap_den"]),
        "is_bps": bps(agg["is_num"], agg["is_den"]),
    }


# --- one parent ----------------------------------------------------------------------------------


def _what_if_defaults(parent, strategy: str | None = None, params: dict | None = None) -> dict:
    """The what-if form's values: another algorithm than the parent's, its own parameters (or a replay's)."""
    params = params if params is not None else (parent.params or {})
    return {
        "strategy": strategy or ("vwap" if parent.strategy != "vwap" else "twap"), "urgency": params.get("urgency") or parent.urgency,
        "max_participation": f"{float(params.get('max_participation', 0.25)):g}",
        "interval_s": f"{float(params.get('interval_s', 60)):g}", "dark": bool(params.get("dark", True)),
    }


def _what_if_values(post) -> dict:
    """What was typed into the what-if form (bounded), to parse and to show again."""
    return {
        "strategy": post.get("strategy", "")[:8], "urgency": post.get("urgency", "")[:8],
        "max_participation": post.get("max_participation", "").strip()[:16], "interval_s": post.get("interval_s", "").strip()[:16],
        "dark": post.get("dark") == "on",
    }


def _what_if_params(values: dict) -> tuple[str, dict]:
    """The service's strategy and params from the form's values; a DomainError names a field that does not parse.

    The parameters are checked by the API's own validator (``WhatIfParamsSerializer``): the same bounds and
    the same messages as ``POST /api/tca/parent-orders/<id>/what-if/``, with the form's code ``tca.bad_params``.
    """
    if values["strategy"] not in dict(ALGORITHM_CHOICES):
        raise DomainError(TcaErrorCode.BAD_STRATEGY, "Choose an algorithm from the list", field="strategy")
    params: dict = {"dark": values["dark"]}
    if values["urgency"]:
        params["urgency"] = values["urgency"]
    for name in WHAT_IF_NUMBERS:
        raw = values[name]
        if not raw:
            continue
        try:
            params[name] = float(raw)  # a form sends text; the API's JSON a number
        except ValueError:
            raise DomainError(TcaErrorCode.BAD_PARAMS, f"{name}: {FloatField.default_error_messages['invalid']}", field=name) from None
    for name, value in params.items():
        try:
            WhatIfParamsSerializer().to_internal_value({name: value})
        except ValidationError as exc:
            raise DomainError(TcaErrorCode.BAD_PARAMS, str(exc.detail[0]), field=name) from None
    return values["strategy"], params


BENCHMARK_TEXT = {
    "arrival": ("Arrival", "the mid when the parent was created"),
    "decision": ("Decision", "the mid when its orders were accepted (quantity-weighted): the shortfall's reference"),
    "interval_vwap": ("Interval VWAP", "the market's prints over our window, our own excluded"),
    "interval_twap": ("Interval TWAP", "the mid averaged over our window"),
    "open": ("Open", "the day's first price"),
    "close": ("Close", "the mid at the session's close"),
    "prev_close": ("Previous close", "the close of the day before"),
}
SHORTFALL_TEXT = {
    "delay": ("Delay", "the price moved between the decision and the arrival of the parent"),
    "timing": ("Timing", "the price moved while we worked (drift and our own impact)"),
    "impact": ("Impact", "what each fill paid over the mid (half-spread, sweeps)"),
    "opportunity": ("Opportunity", "the unfilled part, priced at the end against the decision"),
    "fees": ("Fees", "explicit fees paid (positive: net rebates)"),
    "total": ("Total", "the implementation shortfall: the sum of the parts (+ = saved, − = cost)"),
}
MARKOUT_COLORS = ["#6cb6ff", "#f0a526", "#2fbf71", "#a67cf5", "#f0554f", "#3dd6d0", "#e4e46c", "#ff8ad8"]


def _shown(bps) -> float | None:
    """A bp figure as the page shows it (one decimal), so that a rounding crumb is not coloured as a cost or a saving."""
    return None if bps is None else round(float(bps), 1) + 0.0  # + 0.0: no "-0.0"


def _horizon(h: int) -> str:
    return f"{h // 60} min" if h >= 60 else f"{h} s"


def _signed(x, digits: int = 1) -> str:
    return "—" if x is None else f"{float(x):+.{digits}f}"


def _verdict(report: dict, currency: str) -> str:
    """One sentence a PM reads first: how the execution did against arrival and VWAP, and what it cost."""
    p = report["parent"]
    bench = {b["name"]: b for b in report["benchmarks"]}
    arrival, vwap = bench["arrival"]["slippage_bps"], bench["interval_vwap"]["slippage_bps"]
    total = report["shortfall"]["bps"].get("total")
    did = "Bought" if p["side"] == "buy" else "Sold"
    if not p["filled_quantity"]:
        return f"Nothing was filled of {p['quantity']:,} {p['instrument']}."
    unit = f" contracts (x {p['multiplier']})" if p["multiplier"] != 1 else ""  # the currency amounts below are x it
    parts = [f"{did} {p['filled_quantity']:,} of {p['quantity']:,}{unit} {p['instrument']} at {float(p['avg_price']):,.4f} on average"]
    if arrival is not None:
        parts.append(f"{abs(arrival):.1f} bp {'better' if arrival >= 0 else 'worse'} than the arrival price")
    if vwap is not None:
        parts.append(f"{abs(vwap):.1f} bp {'better' if vwap >= 0 else 'worse'} than the market's VWAP over the window")
    text = ", ".join(parts)
    if total is not None:
        ccy = report["shortfall"]["total"]
        text += f"; the implementation shortfall {'saved' if total >= 0 else 'cost'} {abs(total):.1f} bp ({abs(float(ccy)):,.2f} {currency})"
    return text + "."


def _parent_view(report: dict, parent) -> dict:
    """The report as the page shows it: labelled rows, one-line verdict, and the charts' JSON."""
    currency = parent.instrument.currency
    p = report["parent"]
    benchmarks = [{"key": b["name"], "label": BENCHMARK_TEXT[b["name"]][0], "help": BENCHMARK_TEXT[b["name"]][1],
                   "price": b["price"], "bps": b["slippage_bps"], "ccy": b["slippage_ccy"]} for b in report["benchmarks"]]
    waterfall = [{"key": w["component"], "label": SHORTFALL_TEXT[w["component"]][0], "help": SHORTFALL_TEXT[w["component"]][1],
                  "ccy": w["ccy"], "bps": _shown(w["bps"])} for w in report["waterfall"]]
    curve = report["markouts"]
    horizons = curve["horizons_s"]
    qty_by_venue = {v["venue"]: v["quantity"] for v in report["venues"]}
    lines = [{"venue": r["venue"], "bps": r["bps"], "quantity": qty_by_venue.get(r["venue"], 0)} for r in curve["by_venue"]]
    if len(lines) > 1 and any(x is not None for x in curve["all"]):
        lines.append({"venue": "All", "bps": curve["all"], "quantity": sum(qty_by_venue.values())})
    for k, line in enumerate(lines):
        line["color"] = "#f2f5f8" if line["venue"] == "All" else MARKOUT_COLORS[k % len(MARKOUT_COLORS)]
        line["text"] = " · ".join(f"{_horizon(h)} {_signed(b)}" for h, b in zip(horizons, line["bps"], strict=False)) + " bp"
    series = report["series"]
    charts = {
        "side": p["side"], "quantity": p["quantity"],
        "waterfall": {"labels": [w["label"] for w in waterfall], "bps": [_num(w["bps"]) for w in report["waterfall"]],
                      "is_total": [w["key"] == "total" for w in waterfall]},
        "price": {k: series[k] for k in ("t0", "t1", "arrival", "market", "vwap", "fills")},
        "progress": {"quantity": p["quantity"], "schedule": series["schedule"], "done": series["done"]},
        "markouts": {"horizons": horizons, "venues": [{k: line[k] for k in ("venue", "bps", "color")} for line in lines]},
    }
    return {
        "p": p, "currency": currency, "provisional": report["provisional"], "computed_at": report["computed_at"],
        "window": f"{p['start_clock']}–{p['end_clock']}", "benchmarks": benchmarks, "waterfall": waterfall,
        "is_total_bps": report["shortfall"]["bps"].get("total"), "is_total": report["shortfall"]["total"],
        "decision": next((b["price"] for b in report["benchmarks"] if b["name"] == "decision"), None),
        "vs_arrival": benchmarks[0]["bps"] if benchmarks else None,
        "vs_vwap": next((b["bps"] for b in benchmarks if b["key"] == "interval_vwap"), None),
        "verdict": _verdict(report, currency),
        "venues": report["venues"], "markout_lines": lines, "children": report["children"], "constituents": report["constituents"],
        "fills": report["fills"], "fills_total": report["fills_total"], "charts": charts,
    }


def _parent_context(request, report: dict, parent, *, what_if_id=None, values: dict | None = None,
                    error: DomainError | None = None) -> dict:
    desk = _is_desk(request.user)
    what_if = selectors.what_if_get(user=request.user, what_if_id=what_if_id) if desk and what_if_id else None
    if what_if is not None and what_if.parent_id != parent.pk:
        what_if = None
    if values is None and what_if is not None:  # the form as the shown replay was asked for, to vary it
        values = _what_if_defaults(parent, what_if.strategy, what_if.params)
    return {
        "v": _parent_view(report, parent), "parent": parent, "is_desk": desk,
        "what_if": _side_by_side(reports.what_if_report(what_if), report) if what_if is not None else None,
        "what_ifs": report["what_ifs"] if desk else [],
        "rfq_executions": [{**x, "benchmarks": [{**b, "label": RFQ_BENCHMARK_LABELS[b["name"]]} for b in x["benchmarks"]]}
                           for x in report["rfq_executions"]],
        "values": values or _what_if_defaults(parent), "error": error,
        "strategies": ALGORITHM_CHOICES, "urgencies": Urgency.choices,
        "exports": _exports(f"/api/tca/parent-orders/{parent.pk}/", {}, tables=exports.PARENT_TABLES),
        "fill_exports": _exports("/api/tca/fills/", {}, parent=parent.pk),
    }


def _report_or_404(request, parent_id: int) -> tuple[dict, object]:
    report = reports.parent_report(user=request.user, parent_id=parent_id)
    parent = ems_selectors.parent_get(user=request.user, parent_id=parent_id) if report is not None else None
    if report is None or parent is None:
        raise Http404("No such parent order")
    return report, parent


@role_required
@require_GET
def parent_report(request, parent_id: int):
    """One parent's TCA (``?what_if=<id>``: with that replay side by side)."""
    try:
        report, parent = _report_or_404(request, parent_id)
    except Conflict as exc:  # an empty parent: nothing executed, nothing to measure
        parent = ems_selectors.parent_get(user=request.user, parent_id=parent_id)
        return render(request, "tca/parent_empty.html", {"parent": parent, "code": exc.code}, status=200)
    raw = request.GET.get("what_if", "")
    what_if_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    return render(request, "tca/parent.html", _parent_context(request, report, parent, what_if_id=what_if_id))


@role_required
@require_POST
def what_if(request, parent_id: int):
    """Re-run the parent with another algorithm or parameters on the same market path (desk roles); show both."""
    try:
        report, parent = _report_or_404(request, parent_id)
    except Conflict as exc:  # an empty parent: nothing to replay
        parent = ems_selectors.parent_get(user=request.user, parent_id=parent_id)
        return render(request, "tca/parent_empty.html", {"parent": parent, "code": exc.code}, status=409)
    if not _is_desk(request.user):
        error = DomainError(PermissionErrorCode.DESK_ONLY, "Only the desk re-runs an execution", status=403)
        return render(request, "tca/parent.html", _parent_context(request, report, parent, error=error), status=403)
    values = _what_if_values(request.POST)
    try:
        strategy, params = _what_if_params(values)
        run = services.what_if_run(parent_id=parent.pk, strategy=strategy, params=params, user=request.user,
                                   actor=Actor.for_user(request.user, "browser"), cancelled=client_gone(request))
    except DomainError as exc:
        context = _parent_context(request, report, parent, values=values, error=exc)
        return render(request, "tca/parent.html", context, status=exc.status)
    return redirect(f"{reverse('tca-parent', args=[parent.pk])}?what_if={run.pk}#what-if")


def _side_by_side(w: dict, report: dict) -> dict:
    """The actual execution and the replay figure by figure, and the JSON of their two charts."""
    a, b = w["original"], w["what_if"]
    rows = []
    for name in ("arrival", "interval_vwap", "interval_twap", "open", "close", "prev_close"):
        sa, sb = (a.get("slippage") or {}).get(name) or {}, (b.get("slippage") or {}).get(name) or {}
        rows.append({"label": BENCHMARK_TEXT[name][0], "a": _shown(sa.get("bps")), "b": _shown(sb.get("bps"))})
    costs = []
    for k in ("delay", "timing", "impact", "opportunity", "fees", "total"):
        costs.append({"label": SHORTFALL_TEXT[k][0], "a": _shown(((a.get("shortfall") or {}).get("bps") or {}).get(k)),
                      "b": _shown(((b.get("shortfall") or {}).get("bps") or {}).get(k))})
    venues: dict[str, dict] = {}
    for side, ex in (("a", a), ("b", b)):
        for v in ex.get("venues") or []:
            row = venues.setdefault(v["venue"], {"venue": v["venue"], "a": 0, "b": 0, "a_px": None, "b_px": None})
            row[side], row[f"{side}_px"] = v["quantity"], v.get("avg_price")
    series = report["series"]

    def done(executions):
        t, q, cum = [series["done"]["t"][0] if series["done"]["t"] else series["t0"]], [0], 0
        for x in executions:
            cum += x["qty"]
            t.append(x["t"])
            q.append(cum)
        return {"t": t, "qty": q}

    label_a = (a.get("strategy") or report["parent"]["strategy"]).upper()
    label_b = (b.get("strategy") or w["strategy"]).upper()
    chart = {
        "quantity": report["parent"]["quantity"], "t0": series["t0"],
        "t1": max([series["t1"]] + [x["t"] for x in b["executions"][-1:]]),
        "actual": {"label": label_a, "done": done(a["executions"]), "fills": [{"t": x["t"], "price": x["price"], "qty": x["qty"]} for x in a["executions"]]},
        "replay": {"label": label_b, "done": done(b["executions"]), "fills": [{"t": x["t"], "price": float(x["price"]), "qty": x["qty"]} for x in b["executions"]]},
    }
    return {"w": w, "a": a, "b": b, "label_a": label_a, "label_b": label_b, "benchmarks": rows, "costs": costs,
            "venues": sorted(venues.values(), key=lambda r: -(r["a"] + r["b"])), "chart": chart,
            "params": _params_text(w["params"] or {})}


def _params_text(params: dict) -> str:
    """The replay's main parameters in words: "high urgency · max participation 25% · every 20 s · dark pools"."""
    parts = []
    if params.get("urgency"):
        parts.append(f"{params['urgency']} urgency")
    if params.get("max_participation") is not None:
        parts.append(f"max participation {float(params['max_participation']):.0%}")
    if params.get("rate") is not None:
        parts.append(f"target rate {float(params['rate']):.0%}")
    if params.get("interval_s") is not None:
        parts.append(f"decides every {float(params['interval_s']):g} s")
    if "dark" in params:
        parts.append("dark pools" if params["dark"] else "no dark pools")
    return " · ".join(parts)


# --- best execution ------------------------------------------------------------------------------


@role_required
@require_GET
def best_execution(request):
    """The best-execution report per venue (RTS 28 / Rule 606 in spirit), for a period, with exports."""
    form = TcaFilterForm(request.GET or None, user=request.user)
    valid = form.is_valid() if form.is_bound else True
    filters = form.filters() if form.is_bound and valid else {}
    rows = []
    if valid:
        try:
            rows = selectors.best_execution(user=request.user, filters=filters)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
    return render(request, "tca/best_execution.html", {
        "form": form, "rows": rows, "filters": filters,
        "exports": _exports("/api/tca/best-execution/", filters), "fill_exports": _exports("/api/tca/fills/", filters),
    })


# --- imports -------------------------------------------------------------------------------------


def _imports_context(request, **extra) -> dict:
    # Compliance reads every import and changes nothing: no upload form for it.
    return {"sets": list(selectors.import_sets(user=request.user)[:IMPORT_SETS_CAP]), "errors": [], "errors_total": 0, "error": None,
            "name": "", "can_import": roles.role_of(request.user) != role_names.COMPLIANCE, **extra}


@role_required
@require_http_methods(["GET", "POST"])
def imports(request):
    """GET: the upload form and earlier imports. POST: import a CSV file; go to its page, or show each bad row."""
    if request.method == "GET":
        return render(request, "tca/imports.html", _imports_context(request))
    name = request.POST.get("name", "").strip()[:200]
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise DomainError(TcaErrorCode.IMPORT_EMPTY, "Choose a CSV file to upload", field="file")
        if upload.size > MAX_UPLOAD_BYTES:
            raise DomainError(TcaErrorCode.IMPORT_TOO_LARGE, "The file is over 20 MB: split it", field="file", status=413)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DomainError(TcaErrorCode.IMPORT_ENCODING, "The file is not UTF-8 text (save it as CSV UTF-8)", field="file") from exc
        import_set = services.executions_import(name=name or upload.name, text=text, user=request.user,
                                                actor=Actor.for_user(request.user, "browser"))
    except DomainError as exc:
        errors = exc.extra.get("errors", [])
        context = _imports_context(request, error=exc, errors=errors, errors_total=exc.extra.get("errors_total", len(errors)), name=name)
        return render(request, "tca/imports.html", context, status=exc.status)
    return redirect("tca-import", set_id=import_set.pk)


@role_required
@require_GET
def import_detail(request, set_id: int):
    """One imported set: each row's slippage against its benchmark, and the quantity-weighted totals."""
    import_set = selectors.import_set_get(user=request.user, set_id=set_id)
    if import_set is None:
        raise Http404("No such import")
    rows = list(import_set.executions.all()[:IMPORT_ROWS_CAP])
    return render(request, "tca/import_detail.html", {
        "s": import_set, "rows": rows, "cap": IMPORT_ROWS_CAP,
        "exports": _exports(f"/api/tca/executions/imports/{import_set.pk}/", {}),
    })
