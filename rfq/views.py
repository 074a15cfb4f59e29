"""Browser pages of the RFQ platform (thin: parse the request, call one service or selector, render).

- ``/rfq/``: recent requests for quote, live on the desk's websocket (``/ws/desk/`` forwards ``rfq.changed``).
- ``/rfq/<id>/``: one request as a trader reads it at a glance: what we asked and what the providers were
  told (a two-way request hides our side), a big countdown to the server's window end, the consolidated
  ladder (best live quote highlighted, cost vs the mid in bps, how long each quote stays firm, a one-click
  Execute for traders), the providers asked with the scorecard reason they were chosen for and their answer,
  and after the execution the result with the way to the parent where the fill shows.
  ``static/js/rfq.js`` re-fetches ``/rfq/<id>/ladder/`` on every push of ``/ws/rfq/<id>/`` and on each
  (re)connect; the countdown runs from the server's ``seconds_left`` on the browser's monotonic clock, so
  a skewed wall clock does not move it (and the server enforces the window anyway).
- ``POST /rfq/<id>/accept/<quote_id>/``: execute against a quote (``rfq.services.quote_accept``); the
  answer is the ladder again with what happened (executed; rejected on last look and the next quote tried;
  window closed; quote expired). A refusal is a message with its code, never a 500.
- ``/rfq/package/new/``: the "New package" form (traders): 1-4 leg rows posted to ``rfq.services.package_create``
  (the API's service and leg checks), then the package's ladder; a refusal is shown next to the leg or field its
  ``field`` names (``legs[i].<field>``), as typed, with its code.
- ``/desk/parents/<id>/rfq/``: the parent page's "Request quotes" form (GET, loaded into the page) and
  its submission (POST, ``rfq.services.rfq_create``), which goes to the new request's page;
  ``/desk/parents/<id>/rfqs/`` the parent page's table of its requests.

Who: the desk roles read (trader, compliance, admin); traders and admins act. A PM gets a 403 here: the
parent pools several PMs' orders, so executing is the desk's job, and the PM sees the RFQ fill on the order
page like any other fill.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ems import selectors as ems_selectors
from ems.views import desk_required, parent_page_context
from oms import role_names, roles
from oms.error_codes import PermissionErrorCode
from oms.errors import DomainError
from oms.roles import Actor
from oms.states import IllegalTransition
from oms.views import login_required
from rfq import selectors, services
from rfq.error_codes import RfqErrorCode
from rfq.models import RFQ, RfqDirection, RfqExecuteAt, RfqMode
from rfq.states import QuoteStatus, RfqStatus

LIST_CAP = 200  # newest requests /rfq/ shows; the header says how many match in all
PARENT_RFQS_CAP = 50
LIST_VIEWS = {"all": "All", "open": "Open", "done": "Done"}
MAX_INPUT_CHARS = 32  # a number typed into the form is never longer; anything longer is refused before parsing


def _can_act(user) -> bool:
    return roles.role_of(user) in (role_names.TRADER, role_names.ADMIN)


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _age(created_at, now) -> str:
    seconds = max(0, int((now - created_at).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} d"


def _with_best(qs):
    # The best quote received (lowest cost vs the mid at request, refused late quotes left out) and how
    # many arrived: one aggregate query for the whole table.
    received = ~Q(quotes__status=QuoteStatus.REFUSED)
    return qs.annotate(best_bps=Min("quotes__bps_from_mid", filter=received), quote_count=Count("quotes", filter=received))


def _rows(qs, cap: int) -> list[dict]:
    now = timezone.now()
    return [{"r": r, "age": _age(r.created_at, now)} for r in _with_best(qs)[:cap]]


# --- the list ------------------------------------------------------------------------------------


def _list_context(request) -> dict:
    view = request.GET.get("view", "all")
    view = view if view in LIST_VIEWS else "all"
    qs = selectors.rfq_list(user=request.user)
    if view == "open":
        qs = qs.filter(status__in=RfqStatus.open())
    elif view == "done":
        qs = qs.filter(status__in=RfqStatus.terminal())
    return {"rows": _rows(qs, LIST_CAP), "total": qs.count(), "view": view, "views": LIST_VIEWS, "cap": LIST_CAP}


@desk_required
@require_GET
def rfq_index(request, partial: bool = False):
    """Recent requests for quote (``partial``: the live table only)."""
    return render(request, "rfq/_list_table.html" if partial else "rfq/list.html", _list_context(request))


# --- one request -----------------------------------------------------------------------------------


def _rfq_or_404(request, rfq_id: int) -> RFQ:
    rfq = selectors.rfq_get(user=request.user, rfq_id=rfq_id)
    if rfq is None:
        raise Http404("No such request for quote")
    return rfq


def _rfq_context(request, rfq: RFQ, *, outcome: dict | None = None) -> dict:
    window = selectors.rfq_window(rfq)
    ladder = selectors.rfq_ladder(rfq)
    asked = [{"d": d, "after_ms": _after_ms(d)} for d in rfq.disseminations.select_related("provider").order_by("rank")]
    executed = None
    if rfq.status == RfqStatus.EXECUTED and rfq.executed_quote_id is not None:
        quote = rfq.executed_quote
        executed = {"quote": quote, "provider": quote.provider, "exec_id": f"RFQ{rfq.pk}-Q{quote.pk}",
                    "notional": (rfq.executed_price or Decimal(0)) * rfq.executed_quantity}
    return {
        "rfq": rfq, "window": window, "ladder": ladder, "asked": asked, "executed": executed, "outcome": outcome,
        "can_act": _can_act(request.user),
        "live_count": sum(1 for q in ladder if q["status"] == QuoteStatus.LIVE),
        "answered": sum(1 for a in asked if a["d"].response),
        # Our side of a quote: a buyer lifts the providers' offers, a seller hits their bids.
        "price_label": "Net offer" if rfq.package else "Offer (we pay)" if rfq.side == "buy" else "Bid (we receive)",
        "legs": selectors.rfq_legs(rfq),
        "window_pct": _window_pct(rfq, window),
    }


def _after_ms(d) -> int | None:
    if d.responded_at is None or d.sent_at is None:
        return None
    return max(0, round((d.responded_at - d.sent_at).total_seconds() * 1000))


def _window_pct(rfq: RFQ, window: dict) -> float:
    total = float(rfq.window_s or 0)
    return 0.0 if total <= 0 or not window["open"] else max(0.0, min(100.0, 100 * float(window["seconds_left"]) / total))


@desk_required
@require_GET
def rfq_detail(request, rfq_id: int, partial: bool = False):
    """One request: countdown, live ladder, providers asked, result (``partial``: the live part only)."""
    rfq = _rfq_or_404(request, rfq_id)
    return render(request, "rfq/_live.html" if partial else "rfq/detail.html", _rfq_context(request, rfq))


def _accept_outcome(result) -> tuple[dict, int]:
    """What the trader reads after a click, and the HTTP status (a 409 when nothing executed)."""
    rejected = len(result.rejected)
    on_last_look = f"{rejected} quote{'s' if rejected != 1 else ''} rejected on last look" if rejected else ""
    if result.executed:
        quote, rfq = result.quote, result.rfq
        if rfq.package:
            text = (f"Executed: every leg of {rfq.executed_quantity:,} packages at a net {quote.price:.4f} "
                    f"from {quote.provider.code}")
        else:
            text = (f"Executed: {'bought' if rfq.side == 'buy' else 'sold'} {rfq.executed_quantity:,} "
                    f"{rfq.instrument.symbol} at {quote.price:.4f} from {quote.provider.code}")
        if on_last_look:
            text += f" ({on_last_look}, the next best was taken)"
        return {"level": "ok", "text": text}, 200
    text = result.detail or "Nothing was executed"
    if on_last_look and on_last_look not in text:
        text = f"{text} ({on_last_look})"
    return {"level": "error", "text": text, "code": result.code or ""}, 409


@desk_required
@require_POST
def rfq_accept(request, rfq_id: int, quote_id: int):
    """Execute against one quote of the ladder (traders and admins); answer with the ladder and what happened."""
    rfq = _rfq_or_404(request, rfq_id)
    status = 200
    if not _can_act(request.user):
        outcome, status = {"level": "error", "text": "Only a trader may execute a quote", "code": PermissionErrorCode.TRADER_ONLY}, 403
    else:
        try:
            result = services.quote_accept(rfq_id=rfq.pk, quote_id=quote_id, actor=Actor.for_user(request.user, "browser"))
        except IllegalTransition as exc:
            outcome, status = {"level": "error", "text": str(exc), "code": exc.code}, 409
        except DomainError as exc:
            outcome, status = {"level": "error", "text": exc.detail, "code": exc.code}, exc.status
        else:
            outcome, status = _accept_outcome(result)
    rfq = _rfq_or_404(request, rfq_id)  # as the service left it
    context = _rfq_context(request, rfq, outcome=outcome)
    template = "rfq/_accept_response.html" if _is_htmx(request) else "rfq/detail.html"
    return render(request, template, context, status=status)


# --- from the parent page --------------------------------------------------------------------------


def _parent_or_404(request, parent_id: int):
    parent = ems_selectors.parent_get(user=request.user, parent_id=parent_id)
    if parent is None:
        raise Http404("No such parent order")
    return parent


def _form_defaults(parent) -> dict:
    return {
        "quantity": "", "direction": RfqDirection.TWO_WAY, "window_s": f"{settings.RFQ_WINDOW_S:g}", "mode": RfqMode.CLICK,
        "execute_at": RfqExecuteAt.QUOTE, "threshold_bps": "", "threshold_price": "",
    }


def _form_context(request, parent, *, values: dict | None = None, error: DomainError | None = None) -> dict:
    return {
        "parent": parent, "values": values or _form_defaults(parent), "error": error,
        "available": selectors.quantity_available(parent), "can_act": _can_act(request.user),
        "directions": [(RfqDirection.TWO_WAY, "Two-way (side hidden)"), (parent.side, f"{parent.side.capitalize()} (show side)")],
        "modes": RfqMode.choices, "execute_ats": RfqExecuteAt.choices, "default_window": settings.RFQ_WINDOW_S,
        "default_threshold": settings.RFQ_AUTO_THRESHOLD_BPS,
    }


def _number(raw: str, field: str, *, integer: bool = False):
    """Parse one number typed into the form (blank -> None); a DomainError names the field otherwise."""
    text = raw.strip().replace(",", "").replace("_", "").replace(" ", "")
    if not text:
        return None
    code = {"quantity": RfqErrorCode.BAD_QUANTITY, "window_s": RfqErrorCode.BAD_WINDOW}.get(field, RfqErrorCode.BAD_THRESHOLD)
    if len(text) > MAX_INPUT_CHARS:
        raise DomainError(code, f"{field.replace('_', ' ').capitalize()}: not a number", field=field)
    if integer:
        if not (text.isascii() and text.isdigit()):
            raise DomainError(code, "Quantity must be a whole number of shares", field=field)
        return int(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise DomainError(code, f"{field.replace('_', ' ').capitalize()}: not a number", field=field)
    return value


def _create_kwargs(post, parent) -> dict:
    """The service's keyword arguments from the form; a DomainError for what cannot be parsed."""
    direction = post.get("direction") or RfqDirection.TWO_WAY
    if direction not in (RfqDirection.TWO_WAY, parent.side):
        raise DomainError(RfqErrorCode.BAD_DIRECTION, f"Tell the providers {parent.side} (our side) or two-way", field="direction")
    mode = post.get("mode") or RfqMode.CLICK
    if mode not in RfqMode.values:
        raise DomainError(RfqErrorCode.BAD_MODE, "Choose click to trade or auto-execute", field="mode")
    execute_at = post.get("execute_at") or RfqExecuteAt.QUOTE
    if execute_at not in RfqExecuteAt.values:
        raise DomainError(RfqErrorCode.BAD_EXECUTE_AT, "Choose when an auto request executes", field="execute_at")
    auto = mode == RfqMode.AUTO
    return {
        "quantity": _number(post.get("quantity", ""), "quantity", integer=True),
        "direction": direction, "mode": mode, "execute_at": execute_at,
        "window_s": _number(post.get("window_s", ""), "window_s"),
        # The thresholds only mean something to an auto request; a click request ignores what is typed there.
        "threshold_bps": _number(post.get("threshold_bps", ""), "threshold_bps") if auto else None,
        "threshold_price": _number(post.get("threshold_price", ""), "threshold_price") if auto else None,
    }


@desk_required
@require_http_methods(["GET", "POST"])
def parent_rfq(request, parent_id: int):
    """GET: the parent page's "Request quotes" form. POST (traders): start a request for quote for the
    parent (or part of it) and go to its page; a refusal shows the form again with the reason."""
    parent = _parent_or_404(request, parent_id)
    if request.method == "GET":
        return render(request, "rfq/_request_form.html", _form_context(request, parent))
    values = {k: request.POST.get(k, "")[:MAX_INPUT_CHARS] for k in _form_defaults(parent)}
    if not _can_act(request.user):
        error = DomainError(PermissionErrorCode.TRADER_ONLY, "Only a trader may request quotes", status=403)
        return _form_error(request, parent, values, error)
    try:
        rfq = services.rfq_create(parent_id=parent.pk, actor=Actor.for_user(request.user, "browser"), source="desk",
                                  user=request.user, **_create_kwargs(request.POST, parent))
    except IllegalTransition as exc:
        return _form_error(request, parent, values, DomainError(exc.code, str(exc), status=409))
    except DomainError as exc:
        return _form_error(request, parent, values, exc)
    url = reverse("rfq-detail", args=[rfq.pk])
    if _is_htmx(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url  # htmx follows it as a whole page
        return response
    return redirect(url)


def _form_error(request, parent, values: dict, error: DomainError):
    """The form again with the reason: the fragment for htmx, else the whole parent page with the form open."""
    context = _form_context(request, parent, values=values, error=error)
    if _is_htmx(request):
        return render(request, "rfq/_request_form.html", context, status=error.status)
    # Without htmx (no script): the parent page itself, its "Request quotes" form open with the error.
    return render(request, "ems/parent.html", {**parent_page_context(request, parent), **context, "rfq_form": True}, status=error.status)


@desk_required
@require_GET
def parent_rfqs(request, parent_id: int):
    """The parent page's table of its requests for quote (live with the page)."""
    parent = _parent_or_404(request, parent_id)
    qs = selectors.rfq_list(user=request.user).filter(parent=parent)
    return render(request, "rfq/_parent_rfqs.html", {"parent": parent, "rows": _rows(qs, PARENT_RFQS_CAP)})



# --- a multi-leg package, built in the browser ------------------------------------------------------
# The form's rows become the API's ``legs`` list and go through the same service (``package_create``, whose
# ``package_legs_parse`` checks them); the view only maps the form to it and the error's field back to a row.

PACKAGE_ROWS = 4  # rows the form shows (rfq.package_pricing.MAX_LEGS); a POST with more is refused by the service
_ROW_FIELD = re.compile(r"^leg-(\d{1,2})-instrument$")
_LEG_FIELD = re.compile(r"^legs\[(\d+)\](?:\.(instrument|side|ratio))?$")
PACKAGE_FIELDS = ("portfolio", "quantity", "direction", "mode", "window_s", "threshold_bps", "threshold_price")


def _package_defaults(request) -> dict:
    return {"portfolio": request.GET.get("portfolio", "")[:MAX_INPUT_CHARS], "quantity": "10", "direction": RfqDirection.TWO_WAY,
            "mode": RfqMode.CLICK, "window_s": f"{settings.RFQ_WINDOW_S:g}", "threshold_bps": "", "threshold_price": ""}


def _package_rows(source, *, prefill=()) -> list[dict]:
    """The form's leg rows as typed (at least ``PACKAGE_ROWS``; more only when a POST sent more)."""
    found = sorted({int(m.group(1)) for key in source if (m := _ROW_FIELD.match(key))})
    count = max(PACKAGE_ROWS, (found[-1] + 1) if found else 0)
    rows = []
    for n in range(count):
        typed = source.get(f"leg-{n}-instrument", prefill[n] if n < len(prefill) else "")
        rows.append({"n": n, "instrument": typed.strip()[:MAX_INPUT_CHARS], "side": source.get(f"leg-{n}-side", "buy")[:8],
                     "ratio": source.get(f"leg-{n}-ratio", "1").strip()[:MAX_INPUT_CHARS], "raw": typed.strip(), "error": None})
    return rows


def _ratio(text: str):
    # A whole number goes as one; anything else goes as typed, for the service to refuse as rfq.leg_bad_ratio.
    digits = text.replace(",", "").replace("_", "").replace(" ", "")
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 12 else text


def _package_underlying(symbol: str):
    underlyings = list(ems_selectors.option_underlyings())
    return underlyings, next((i for i in underlyings if i.symbol == symbol.strip().upper()[:MAX_INPUT_CHARS]), None)


def _package_context(request, *, values: dict, rows: list[dict], underlying_symbol: str, error: DomainError | None = None) -> dict:
    underlyings, underlying = _package_underlying(underlying_symbol)
    choices = []
    if underlying is not None:
        choices = [underlying, *ems_selectors.options_on([underlying.pk]).order_by("expiry", "option_type", "strike")]
    field_error = error if error is not None and error.field in PACKAGE_FIELDS else None
    legs_error = error if error is not None and error.field == "legs" else None
    top_error = error if error is not None and not (field_error or legs_error or any(r["error"] for r in rows)) else None
    return {
        "values": values, "rows": rows, "error": error, "field_error": field_error, "legs_error": legs_error, "top_error": top_error,
        "portfolios": roles.tradable_portfolios(request.user).order_by("code"), "underlyings": underlyings, "underlying": underlying,
        "choices": choices, "modes": RfqMode.choices, "default_threshold": settings.RFQ_AUTO_THRESHOLD_BPS,
        "directions": [(RfqDirection.TWO_WAY, "Two-way"), (RfqDirection.BUY, "Buy (show side)")],
    }


def _pin_error(error: DomainError, rows: list[dict], typed: list[dict]) -> None:
    """Put the error on the row its ``legs[i].<field>`` names (``i`` counts the legs sent, not blank rows)."""
    m = _LEG_FIELD.match(error.field or "")
    if m and int(m.group(1)) < len(typed):
        typed[int(m.group(1))]["error"] = {"field": m.group(2) or "instrument", "detail": error.detail, "code": error.code}


@login_required
@require_http_methods(["GET", "POST"])
def package_new(request):
    """GET: the "New package" form (``?underlying=`` fills its symbol list; ``?leg=`` pre-fills leg rows).
    POST (traders): ``rfq.services.package_create`` and on to the package's ladder; a refusal shows the form
    again, as typed, with the reason next to the leg or field it names."""
    if not _can_act(request.user):
        code = PermissionErrorCode.TRADER_ONLY
        return render(request, "403.html", {"message": f"Only a trader builds a package RFQ ({code})."}, status=403)
    if request.method == "GET":
        prefill = [s[:MAX_INPUT_CHARS] for s in request.GET.getlist("leg")[:PACKAGE_ROWS]]
        context = _package_context(request, values=_package_defaults(request), rows=_package_rows({}, prefill=prefill),
                                   underlying_symbol=request.GET.get("underlying", ""))
        return render(request, "rfq/package_new.html", context)
    post = request.POST
    values = {k: post.get(k, "")[:MAX_INPUT_CHARS] for k in PACKAGE_FIELDS}
    rows = _package_rows(post)
    typed = [r for r in rows if r["raw"]]
    legs = [{"instrument": r["raw"], "side": r["side"], "ratio": _ratio(r["ratio"])} for r in typed]
    auto = values["mode"] == RfqMode.AUTO
    try:
        quantity = _number(post.get("quantity", ""), "quantity", integer=True)
        rfq = services.package_create(
            portfolio=post.get("portfolio", ""), legs=legs, quantity=quantity, actor=Actor.for_user(request.user, "browser"), user=request.user,
            direction=values["direction"] or None, mode=values["mode"] or RfqMode.CLICK,
            window_s=_number(post.get("window_s", ""), "window_s"),
            threshold_bps=_number(post.get("threshold_bps", ""), "threshold_bps") if auto else None,
            threshold_price=_number(post.get("threshold_price", ""), "threshold_price") if auto else None, source="desk",
        )
    except DomainError as exc:
        _pin_error(exc, rows, typed)
        context = _package_context(request, values=values, rows=rows, underlying_symbol=post.get("underlying", ""), error=exc)
        template = "rfq/_package_form.html" if _is_htmx(request) else "rfq/package_new.html"
        return render(request, template, context, status=exc.status)
    url = reverse("rfq-detail", args=[rfq.pk])
    if _is_htmx(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
