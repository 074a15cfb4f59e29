"""Browser pages of the OMS (thin: parse the request, call one service or selector, render).

The desk (order ticket + blotter), the order page and the compliance audit search. Fragments are swapped
in by htmx; ``static/js/blotter.js`` re-fetches the live regions on every websocket hint.
"""

from __future__ import annotations

import json
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from oms import exports, roles, selectors
from oms.api.filters import OrderFilter
from oms.audit_events import label as audit_label
from oms.audit_reading import audit_changes
from oms.audit_tree import latest_head
from oms.errors import DomainError, RiskDenied, ValidationFailed
from oms.forms import ORDER_FIELD_LABELS, TICKET_FIELDS, AuditFilterForm, ticket_order_data, ticket_symbol, with_field_labels
from oms.models import OrderType, Side, Strategy, TimeInForce, Urgency
from oms.risk_reference import price_text
from oms.roles import Actor
from oms.services import audit_verify, order_cancel, order_replace, order_submit
from oms.services.audit import canonical_json
from oms.services.intake import new_client_order_id
from oms.states import CANCELLABLE, OrderStatus

BLOTTER_CAP = 200  # newest orders the blotter shows; the header says how many match in all
AUDIT_PAGE_SIZE = 50
EXECUTIONS_SHOWN = 100  # newest executions listed on an order page (the API's /api/fills/ has them all)
ORDERS_CHANGED = "orders-changed"  # htmx event (HX-Trigger): live regions re-fetch without waiting for the push
TICKET_DEFAULTS = {
    "side": Side.BUY, "order_type": OrderType.LIMIT, "time_in_force": TimeInForce.DAY,
    "urgency": Urgency.MEDIUM, "strategy": Strategy.AUTO,
}
TICKET_CHOICES = {
    "side": Side.choices,
    "order_type": OrderType.choices,
    "time_in_force": [(v, v.upper()) for v in TimeInForce.values],
    "urgency": Urgency.choices,
    "strategy": [(v, f"IS — {label}" if v == Strategy.IS else v.upper()) for v, label in Strategy.choices],
}


# --- access --------------------------------------------------------------------------------------


def login_required(view):
    """Django's login_required, except that an htmx request is sent to the login page as a whole page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.headers.get("HX-Request"):
            back = urlsplit(request.headers.get("HX-Current-URL", "/"))
            nxt = back.path + (f"?{back.query}" if back.query else "")
            return HttpResponse(status=401, headers={"HX-Redirect": f"{reverse('login')}?{urlencode({'next': nxt})}"})
        return redirect_to_login(request.get_full_path())

    return wrapper


def audit_reader_required(view):
    """Compliance and admins only; everybody else gets a 403 page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not roles.can_read_audit(request.user):
            return render(request, "403.html", {"message": "The audit trail is for compliance."}, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


# --- desk: blotter -------------------------------------------------------------------------------


def _blotter(request) -> dict:
    """The blotter's orders for the request's filters (the API's filter set, so both filter alike)."""
    params = request.GET.copy()
    if params.get("status") == "open":
        params.setlist("status", sorted(OrderStatus.open_statuses()))
    if params.get("instrument"):
        params["instrument"] = ticket_symbol(params["instrument"])
    orders = OrderFilter(params, queryset=selectors.order_list(user=request.user)).qs
    sort = selectors.blotter_sort(request.GET.get("sort"))
    totals = selectors.blotter_totals(orders)
    return {
        "orders": list(selectors.blotter_orders(orders, sort=sort)[:BLOTTER_CAP]),
        "total": totals["orders"],
        "totals": totals,
        "sort": sort,
        "sort_param": "" if sort == selectors.BLOTTER_DEFAULT_SORT else sort,  # the default stays out of the address
        "sort_columns": _sort_columns(request, sort),
        "cap": BLOTTER_CAP,
        "cancellable": CANCELLABLE,
        "filters": request.GET,
        "filter_portfolios": roles.visible_portfolios(request.user).order_by("code"),
        "statuses": OrderStatus.choices,
        "sides": Side.choices,
    }


# The blotter's headers: (label, sort key, css class, title); a click sorts by it, a second click reverses it.
BLOTTER_COLUMNS = (
    ("Time", "time", "", "Submitted (UTC)"), ("ID", "id", "num", ""), ("Portfolio", "portfolio", "", ""),
    ("Instr", "instrument", "", ""), ("Side", "side", "", ""), ("Qty", "quantity", "num", "Order quantity (shares)"),
    ("Limit", "limit", "num", "Limit price; MKT for a market order"), ("TIF", "", "", ""), ("Strat", "", "", ""),
    ("Status", "status", "", ""), ("Filled", "filled", "num", "Filled quantity (shares)"),
    ("Leaves", "leaves", "num", "Quantity still open for execution (shares; 0 once done, cancelled or expired)"),
    ("Avg px", "avg_price", "num", "Average fill price"),
    ("Notional", "notional", "num", "Quantity x limit price (a market order: x the reference price at submission), in the instrument's currency"),
)


def _sort_columns(request, sort: str) -> list[dict]:
    """Each header with the link that sorts by it (the filters kept) and the arrow of the current sort."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    params = {k: v for k, v in request.GET.items() if v and k != "sort"}
    columns = []
    for label, key, css, title in BLOTTER_COLUMNS:
        column = {"label": label, "key": key, "css": css, "title": title, "active": key == current and key != ""}
        if key:
            # Numbers and times sort largest / newest first on the first click, text A to Z.
            first = f"-{key}" if css == "num" or key == "time" else key
            target = (key if descending else f"-{key}") if column["active"] else first
            column["sort"] = target
            column["arrow"] = ("▼" if descending else "▲") if column["active"] else ""
            column["url"] = reverse("blotter") + "?" + urlencode({**params, "sort": target})
        columns.append(column)
    return columns


@login_required
@require_GET
def desk(request):
    """The desk: order ticket (if the user may trade) and the live blotter."""
    context = _blotter(request)
    context["ticket"] = _ticket(request.user)
    context["instruments"] = selectors.instrument_list()
    return render(request, "oms/desk.html", context)


@login_required
@require_GET
def blotter_table(request):
    """The blotter table alone (htmx): filters changed, or a websocket hint said an order changed."""
    response = render(request, "oms/_blotter_table.html", _blotter(request))
    # Keep the address bar in step with the filters, so a reload or a shared link shows the same view.
    query = urlencode([(k, v) for k, v in request.GET.items() if v])
    response["HX-Replace-Url"] = reverse("blotter") + (f"?{query}" if query else "")
    return response


# --- desk: order ticket --------------------------------------------------------------------------


def _ticket(user, *, values=None, client_order_id=None, errors=None, top_errors=(), notice=None) -> dict:
    return {
        "values": {**TICKET_DEFAULTS, **(values or {})},
        "client_order_id": client_order_id or new_client_order_id(),
        "errors": errors or {},
        "top_errors": list(top_errors),
        "notice": notice,
        "portfolios": roles.tradable_portfolios(user).order_by("code"),
        "choices": TICKET_CHOICES,
        "labels": ORDER_FIELD_LABELS,
        "risk_prices": _risk_prices(),
    }


def _messages(error: DomainError | None) -> tuple[dict[str, list[dict]], list[dict]]:
    """Split an intake error into messages per ticket field and messages for the top of the ticket."""
    by_field: dict[str, list[dict]] = {}
    top: list[dict] = []

    def put(field, message):
        (by_field.setdefault(field, []) if field in TICKET_FIELDS else top).append(message)

    if isinstance(error, ValidationFailed):
        for field, problems in error.errors.items():
            for p in problems:
                put(field, {"code": p["code"], "detail": with_field_labels(p["detail"])})
    elif isinstance(error, RiskDenied):
        # Under a field the denial only points at the notice below the send button, which has room for its reason.
        put(error.field, {"code": error.code, "detail": with_field_labels(error.detail), "denied": True,
                          "field_line": error.field in TICKET_FIELDS})
    elif error is not None:
        top.append({"code": error.code, "detail": with_field_labels(error.detail)})
    return by_field, top


@login_required
@require_GET
def ticket_prices(request):
    """The price pre-trade risk would check an order in each instrument against now (JSON for the ticket)."""
    return JsonResponse(_risk_prices())


def _risk_prices() -> dict:
    # Rendered into the ticket too (json_script), so the first paint already shows the live price.
    instruments = list(selectors.instrument_list())
    references = selectors.risk_references(instruments)
    return {"max_age_s": settings.RISK_PRICE_MAX_AGE_S, "prices": {i.symbol: _price_json(references[i.id]) for i in instruments}}


def _price_json(ref) -> dict:
    return {"price": price_text(ref.price), "source": ref.source, "detail": ref.describe(),
            "as_of": ref.as_of.isoformat() if ref.as_of else None}


@login_required
@require_POST
def order_ticket(request):
    """Submit the ticket through the one intake path; answer with the ticket (errors inline, or reset)."""
    values = {f: request.POST.get(f, "").strip() for f in TICKET_FIELDS}
    client_order_id = request.POST.get("client_order_id", "")
    result = order_submit(
        user=request.user, actor=Actor.for_user(request.user, "browser"), data=ticket_order_data(values, client_order_id),
    )
    errors, top = _messages(result.error)
    order = result.order
    if result.outcome in ("created", "existing"):
        verb = "accepted" if result.outcome == "created" else f"already received ({order.get_status_display().lower()})"
        notice = {"kind": "ok", "order": order, "text": f"Order {order.id} {verb}"}
        ticket = _ticket(request.user, values={"portfolio": values["portfolio"]}, notice=notice)
    else:
        notice = None
        if result.outcome == "denied":
            # The whole reason, under the send button: the field's own line may only have room for its start.
            notice = {"kind": "denied", "order": order, "text": f"Order {order.id} denied",
                      "detail": with_field_labels(result.error.detail), "code": result.error.code}
        # Once an order is stored under this id (denied, or a conflicting resend), a retry needs a new id.
        fresh = order is not None or (isinstance(result.error, ValidationFailed) and "client_order_id" in result.error.errors)
        ticket = _ticket(request.user, values=values, client_order_id=None if fresh else client_order_id,
                         errors=errors, top_errors=top, notice=notice)
    response = render(request, "oms/_ticket.html", {"ticket": ticket}, status=result.http_status)
    if order is not None:
        response["HX-Trigger"] = ORDERS_CHANGED
    return response


@login_required
@require_POST
def order_cancel_view(request, order_id: int):
    """Cancel from the blotter or the order page; answer with a flash message."""
    try:
        order = order_cancel(user=request.user, actor=Actor.for_user(request.user, "browser"), order_id=order_id)
    except DomainError as exc:
        return render(request, "oms/_flash.html", {"level": "error", "code": exc.code, "text": exc.detail}, status=exc.status)
    response = render(request, "oms/_flash.html", {"level": "ok", "text": f"Order {order.id} cancelled"})
    response["HX-Trigger"] = ORDERS_CHANGED
    return response


@login_required
@require_POST
def order_replace_view(request, order_id: int):
    """Amend from the blotter's dialog: a new quantity and/or limit (blank: keep). A refusal is answered in the
    dialog (it stays open to correct); success closes it (``amend-done``) and flashes on the page."""
    values = {name: request.POST.get(name, "").strip() or None for name in ("quantity", "limit_price")}
    try:
        order = order_replace(user=request.user, actor=Actor.for_user(request.user, "browser"), order_id=order_id, **values)
    except DomainError as exc:
        detail = exc.detail
        if isinstance(exc, ValidationFailed):
            detail = "; ".join(p["detail"] for problems in exc.errors.values() for p in problems)
        return render(request, "oms/_flash.html", {"level": "error", "code": exc.code, "text": detail}, status=exc.status)
    text = f"Order {order.id} amended: {order.quantity:,} {order.instrument.symbol}"
    if order.limit_price is not None:
        text += f" limit {order.limit_price.normalize():f}"
    response = render(request, "oms/_flash.html", {"level": "ok", "text": text})
    response["HX-Retarget"] = "#flash"
    response["HX-Trigger"] = json.dumps({ORDERS_CHANGED: True, "amend-done": True})
    return response


# --- order page ----------------------------------------------------------------------------------


@login_required
@require_GET
def order_detail(request, order_id: int, partial: bool = False):
    """One order with its executions and its audit timeline (``partial``: the live section only)."""
    order = selectors.order_get(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such order")
    # Executions come from the EMS through the reverse relation (oms never imports ems): this order's
    # share of each fill, oldest first (the latest EXECUTIONS_SHOWN of them; the count and the total are over all),
    # and the parent working it (a GTC order: one parent per market day, the last current). The same few queries
    # whatever the number of fills.
    allocations = order.allocations.all()
    totals = allocations.aggregate(fills=Count("id"), shares=Coalesce(Sum("quantity"), 0))
    shown = list(allocations.select_related("fill__venue").order_by("-fill__market_time_us", "-id")[:EXECUTIONS_SHOWN])[::-1]
    parent_ids = selectors.order_parent_ids(order=order)
    context = {
        "order": order, "timeline": selectors.order_timeline(order=order), "cancellable": CANCELLABLE,
        "allocations": shown, "fill_count": totals["fills"], "allocated": totals["shares"], "executions_shown": EXECUTIONS_SHOWN,
        "parent_id": order.current_parent_id, "earlier_parent_ids": parent_ids[:-1],
        "desk_wide": roles.role_of(request.user) in roles.DESK_WIDE,
    }
    return render(request, "oms/_order_panel.html" if partial else "oms/order_detail.html", context)


# --- compliance ----------------------------------------------------------------------------------


def _compact(value) -> str:
    return "" if value is None else canonical_json(value)


@audit_reader_required
@require_GET
def audit_search(request):
    """Search the audit trail (read-only) by an event's readable name or words; export the search."""
    form = AuditFilterForm(request.GET)
    valid = form.is_valid()
    events = selectors.audit_event_list(filters=form.cleaned_data) if valid else selectors.audit_event_list().none()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    sealed = selectors.audit_sealed_ids(e.id for e in page)
    for event in page:
        event.sealed = event.id in sealed
        event.label = audit_label(event.event_type)
        event.changes = audit_changes(event.before, event.after)
        event.before_json, event.after_json = _compact(event.before), _compact(event.after)
    # The export answers the same search (the API's filters): the filled-in fields only (a blank typed filter is refused there).
    search = {k: v for k, v in request.GET.items() if k in form.fields and v}
    links = exports.export_links(reverse("audit-list"), search, id_prefix="audit-export-") if valid else []
    return render(request, "oms/audit.html", {"form": form, "page": page, "export_links": links, "tree_head": latest_head()})


@audit_reader_required
@require_POST
def audit_verify_view(request):
    """Verify the hash chain against its signed checkpoints and say whether it is intact (anchoring it if so)."""
    return render(request, "oms/_verify_result.html", {"result": audit_verify()})
