"""Browser pages of the EMS (thin): market data, the trader desk and parent page, positions, and the
order ticket's pre-trade estimate. Controls post here with the session; the same services as the API.

Who sees what: the execution desk and the parent pages are for the desk-wide roles (trader, compliance
read-only, admin); a PM gets a 403 there and sees their own executions on the order page and their
positions on /positions/.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import wraps

from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ems import selectors
from ems.algos import ALGORITHM_CHOICES
from ems.api.serializers import KILL_SCOPES
from ems.error_codes import KillSwitchErrorCode
from ems.option_market import OPTIONS_VENUE
from ems.services import control
from ems.sim import format_clock
from ems.states import Control, ExecStatus
from oms import role_names, roles
from oms.error_codes import ApiErrorCode, PermissionErrorCode
from oms.errors import DomainError
from oms.forms import TICKET_FIELDS, ticket_order_data, ticket_symbol, with_field_labels
from oms.models import Portfolio, Side, Strategy, Urgency
from oms.refdata import symbol_key
from oms.roles import Actor
from oms.selectors import instrument_list
from oms.services.order_parse import has_invalid_characters
from oms.services.risk_preview import order_risk_preview
from oms.states import IllegalTransition
from oms.views import login_required

PARENTS_CHANGED = "parents-changed"  # htmx event: the desk's live regions re-fetch at once
DESK_CAP = 200
MAX_TICKET_QTY = 10**12


def desk_required(view):
    """Traders, compliance (read-only) and admins; a PM or an API client gets a 403 page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if roles.role_of(request.user) not in roles.DESK_WIDE:
            return render(request, "403.html", {"message": "The execution desk is for traders."}, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _can_act(user) -> bool:
    return roles.role_of(user) in (role_names.TRADER, role_names.ADMIN)


# --- market data ---------------------------------------------------------------------------------


@login_required
def options_index(request):
    first = selectors.option_underlyings().first()
    if first is None:
        raise Http404("No listed options")
    return redirect("option-chain", symbol=first.symbol)


@login_required
def option_chain(request, symbol: str, partial: bool = False):
    """The option chain of one underlying: per expiry and strike, calls and puts with the options venue's quote,
    the model value, implied volatility and delta (``partial``: the live tables only, re-fetched every few s)."""
    underlyings = list(selectors.option_underlyings())
    underlying = next((i for i in underlyings if i.symbol == symbol_key(symbol)), None)
    if underlying is None:
        raise Http404(f"No listed options on {symbol}")
    context = {"underlying": underlying, "underlyings": underlyings, "chain": selectors.option_chain(underlying),
               "venue": OPTIONS_VENUE}
    return render(request, "ems/_chain_tables.html" if partial else "ems/options.html", context)


@login_required
def market_index(request):
    first = instrument_list().first()
    if first is None:
        raise Http404("No instruments")
    return redirect("market", symbol=first.symbol)


@login_required
def market(request, symbol: str):
    """Live L2 ladders per venue, consolidated BBO, recent prints and a price chart for one instrument."""
    instruments = list(instrument_list())
    instrument = next((i for i in instruments if i.symbol == symbol.upper()), None)
    if instrument is None:
        raise Http404(f"No instrument {symbol}")
    return render(request, "ems/market.html", {
        "instrument": instrument, "instruments": instruments, "view": selectors.market_view(instrument),
        "vol_pct": instrument.daily_volatility * 100, "has_options": selectors.option_underlyings().filter(pk=instrument.pk).exists(),
    })


# --- trader desk ---------------------------------------------------------------------------------

DESK_VIEWS = {"working": "Working", "all": "All", "done": "Done"}


def _desk_rows(request) -> dict:
    view = request.GET.get("view", "working")
    view = view if view in DESK_VIEWS else "working"
    qs = selectors.parent_list(user=request.user)
    if view == "working":
        qs = qs.filter(status__in=ExecStatus.open())
    elif view == "done":
        qs = qs.exclude(status__in=ExecStatus.open())
    parents = list(qs[:DESK_CAP])
    rows = [{"p": p, "progress": selectors.parent_progress(p), "slippage": selectors.slippage_bps(p)} for p in parents]
    open_qs = selectors.parent_list(user=request.user).filter(status__in=ExecStatus.open())
    return {
        "rows": rows, "view": view, "views": DESK_VIEWS, "can_act": _can_act(request.user),
        "kill_switches": list(selectors.kill_switches_engaged()),
        "counts": {
            "working": open_qs.count(),
            "paused": open_qs.filter(control=Control.PAUSED).count(),
            "halted": open_qs.filter(control=Control.HALTED).count(),
        },
    }


@desk_required
@require_GET
def execution_desk(request):
    """Parent orders with progress vs schedule, strategy and reason, arrival, average, slippage; the kill switch."""
    context = _desk_rows(request)
    context.update({
        "kill_scopes": KILL_SCOPES, "portfolios": Portfolio.objects.order_by("code"), "instruments": instrument_list(),
    })
    return render(request, "ems/desk.html", context)


@desk_required
@require_GET
def execution_desk_table(request):
    return render(request, "ems/_parents_table.html", _desk_rows(request))


# --- parent page -----------------------------------------------------------------------------------


def _parent_or_404(request, parent_id: int):
    parent = selectors.parent_get(user=request.user, parent_id=parent_id)
    if parent is None:
        raise Http404("No such parent order")
    return parent


def parent_page_context(request, parent) -> dict:
    """What the parent page renders (the RFQ platform re-shows it with a refused request form)."""
    children = list(selectors.parent_children(parent=parent))
    fills = list(selectors.parent_fills(parent=parent)[: selectors.PARENT_PAGE_FILLS])
    for f in fills:
        f.clock = format_clock(f.market_time_us)[:12]
    return {
        "parent": parent, "progress": selectors.parent_progress(parent), "slippage": selectors.slippage_bps(parent),
        "constituents": list(selectors.parent_constituents(user=request.user, parent=parent)),
        "children": children, "venues": selectors.children_by_venue(children), "fills": fills,
        "fill_count": selectors.parent_fills(parent=parent).count(),
        "can_act": _can_act(request.user), "strategies": ALGORITHM_CHOICES, "urgencies": Urgency.choices,
        "open_children": sum(c.is_open for c in children),
    }


@desk_required
@require_GET
def parent_detail(request, parent_id: int, partial: bool = False):
    """One parent: constituents, child orders by venue, fills, charts, and the trader's controls
    (``partial``: one live part, ``?part=head`` or ``tables``)."""
    parent = _parent_or_404(request, parent_id)
    template = "ems/parent.html"
    if partial:
        template = "ems/_parent_tables.html" if request.GET.get("part") == "tables" else "ems/_parent_head.html"
    return render(request, template, parent_page_context(request, parent))


@desk_required
@require_GET
def parent_chart(request, parent_id: int):
    """The parent page's chart data (JSON): market mid, interval VWAP, our fills, done vs schedule."""
    parent = _parent_or_404(request, parent_id)
    return JsonResponse(selectors.parent_chart(parent))


def _flash(request, level: str, text: str, *, code: str = "", status: int = 200, trigger: bool = False):
    response = render(request, "oms/_flash.html", {"level": level, "text": text, "code": code}, status=status)
    if trigger:
        response["HX-Trigger"] = PARENTS_CHANGED
    return response


def _run_control(request, service: str, done_text: str, **kwargs):
    """Call the control service named ``service`` for a trader; answer with a flash message."""
    if not _can_act(request.user):
        return _flash(request, "error", "Only a trader may act on parent orders", code=PermissionErrorCode.TRADER_ONLY, status=403)
    try:
        getattr(control, service)(actor=Actor.for_user(request.user, "browser"), **kwargs)
    except IllegalTransition as exc:
        return _flash(request, "error", str(exc), code=exc.code, status=409)
    except DomainError as exc:
        return _flash(request, "error", exc.detail, code=exc.code, status=exc.status)
    return _flash(request, "ok", done_text, trigger=True)


@desk_required
@require_POST
def parent_control(request, parent_id: int, verb: str):
    """Pause, resume or cancel a parent from the desk or its page (answers with a flash message)."""
    parent = _parent_or_404(request, parent_id)
    done = {"pause": "paused", "resume": "resumed", "cancel": "cancel requested"}
    return _run_control(request, f"parent_{verb}", f"Parent {parent.id} {done[verb]}", parent_id=parent.id)


@desk_required
@require_POST
def parent_strategy(request, parent_id: int):
    """Change a parent's algorithm or urgency (aggressiveness)."""
    parent = _parent_or_404(request, parent_id)
    strategy = request.POST.get("strategy", "")
    urgency = request.POST.get("urgency") or None
    if strategy not in dict(ALGORITHM_CHOICES) or (urgency is not None and urgency not in Urgency.values):
        return _flash(request, "error", "Choose a strategy and an urgency from the lists", code=ApiErrorCode.VALIDATION_ERROR, status=400)
    return _run_control(request, "parent_strategy_change", f"Parent {parent.id}: {strategy.upper()}"
                        + (f", {urgency} urgency" if urgency else ""), parent_id=parent.id, strategy=strategy, urgency=urgency)


KILL_DONE = {
    "kill_switch": "Kill switch: halted {what}; new orders refused until lifted",
    "kill_switch_lift": "Kill switch lifted on {what}: new orders are accepted again",
}


@desk_required
@require_POST
def kill_switch_view(request, service: str = "kill_switch"):
    """The desk's kill switch: engage it (cancel every open child and halt the algorithms in scope, and refuse
    new orders there) or, ``service="kill_switch_lift"``, lift it (an engaged switch's "Lift" button)."""
    scope = request.POST.get("scope", "")
    portfolio = request.POST.get("portfolio") or None if scope == "portfolio" else None
    instrument = request.POST.get("instrument") or None if scope == "instrument" else None
    if scope not in dict(KILL_SCOPES) or (scope == "portfolio" and not portfolio) or (scope == "instrument" and not instrument):
        return _flash(request, "error", "Choose a scope (and its portfolio or instrument)", code=KillSwitchErrorCode.BAD_SCOPE, status=400)
    what = {"all": "everything", "portfolio": f"portfolio {portfolio}", "instrument": f"instrument {instrument and symbol_key(instrument)}"}[scope]
    return _run_control(request, service, KILL_DONE[service].format(what=what), scope=scope, portfolio=portfolio, instrument=instrument)


# --- positions -----------------------------------------------------------------------------------


@login_required
@require_GET
def positions(request, partial: bool = False):
    """Positions per portfolio and instrument (a PM: their own portfolios), live on order pushes."""
    rows = selectors.position_marks(selectors.position_list(user=request.user))
    return render(request, "ems/_positions_table.html" if partial else "ems/positions.html",
                  {"rows": rows, "greeks": selectors.greeks_by_underlying(rows)})


# --- order ticket: pre-trade estimate ------------------------------------------------------------


@login_required
@require_GET
def ticket_estimate(request):
    """The ticket's estimate as the PM types: the strategy the matrix would pick and the pre-trade cost."""
    g = request.GET
    if any(has_invalid_characters(v) for v in g.values()):
        return render(request, "ems/_estimate.html", {})
    symbol = ticket_symbol(g.get("instrument", ""))
    instrument = next((i for i in instrument_list() if i.symbol == symbol), None)
    raw_qty = g.get("quantity", "").replace(",", "").replace("_", "").replace(" ", "")
    quantity = int(raw_qty) if raw_qty.isascii() and raw_qty.isdigit() and len(raw_qty) <= 13 else 0
    side = g.get("side") if g.get("side") in Side.values else Side.BUY
    urgency = g.get("urgency") if g.get("urgency") in Urgency.values else Urgency.MEDIUM
    strategy = g.get("strategy") if g.get("strategy") in Strategy.values else Strategy.AUTO
    limit = None
    if g.get("order_type") == "limit" and g.get("limit_price"):
        try:
            limit = Decimal(g["limit_price"].replace(",", ""))
        except InvalidOperation:
            limit = None
        if limit is not None and (not limit.is_finite() or limit <= 0):
            limit = None
    if instrument is None or not 0 < quantity <= MAX_TICKET_QTY:
        return render(request, "ems/_estimate.html", {})
    # A denied order never promises a route: risk is asked first, as the send would.
    values = {f: g.get(f, "").strip() for f in TICKET_FIELDS}
    denial = order_risk_preview(user=request.user, data=ticket_order_data(values, g.get("client_order_id", "")))
    if denial is not None:
        return render(request, "ems/_estimate.html", {"denial": {"code": denial[0], "detail": with_field_labels(denial[1])}})
    estimate = selectors.ticket_estimate(instrument=instrument, side=side, quantity=quantity, limit_price=limit,
                                         urgency=urgency, strategy=strategy)
    return render(request, "ems/_estimate.html", {"e": estimate})
