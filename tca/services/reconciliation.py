"""Reconciliation of the book: fills, allocations, orders, constituents and internal crosses must agree.

Each check is one SQL grouping with a ``HAVING`` that keeps only the rows that disagree (a clean book
returns nothing, whatever its size). The breaks, each with a stable ``code``:

===============================  =====================================================================
``recon.parent_fill_qty``        a parent's filled quantity != the sum of its fills
``recon.parent_alloc_qty``       a parent's allocations (quantity) != the sum of its fills
``recon.parent_alloc_value``     a parent's allocations (quantity x price) != its fills' value
``recon.fill_alloc_qty``         a fill's allocations != its allocated quantity
``recon.order_filled_qty``       an order's filled quantity != the sum of its allocations
``recon.order_avg_price``        an order's average price != its allocations' average (to the 6th decimal)
``recon.constituent_alloc_qty``  a constituent's allocated quantity != its order's allocations in that parent
``recon.cross_unbalanced``       an internal cross whose buy and sell fills differ (or differ from the cross)
``recon.cross_unallocated``      an internal cross fill not wholly allocated to orders
===============================  =====================================================================

``reconciliation_run`` stores a ``ReconciliationRun`` (counts checked, ``ok``, the breaks as
``{code, object_type, object_id, detail, expected, found}``) and writes the audit event
``tca.reconciliation`` (object ``reconciliation:<run id>``, with the result) in the same transaction: a run
either exists with its audit row or not at all. Celery beat runs it every 5 minutes
(``tca.tasks.reconciliation_run``, actor ``system:tca.reconciliation``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, Q, Sum
from django.db.models.functions import Abs, Coalesce

from ems.models import Allocation, Constituent, Fill, InternalCross, ParentOrder
from oms.audit_events import AuditEventType
from oms.models import Order
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from tca.error_codes import ReconciliationBreakCode
from tca.models import ReconciliationRun

BREAKS_KEPT = 500  # breaks listed in the run; ``breaks_total`` in the audit row counts all
PRICE_TOLERANCE = PRICE_Q  # averages are stored to 6 decimals (one unit of rounding allowed)
_VAL = DecimalField(max_digits=38, decimal_places=10)
ZERO = Decimal(0)

CODES = (
    ReconciliationBreakCode.PARENT_FILL_QTY, ReconciliationBreakCode.PARENT_ALLOC_QTY, ReconciliationBreakCode.PARENT_ALLOC_VALUE, ReconciliationBreakCode.FILL_ALLOC_QTY,
    ReconciliationBreakCode.ORDER_FILLED_QTY, ReconciliationBreakCode.ORDER_AVG_PRICE, ReconciliationBreakCode.CONSTITUENT_ALLOC_QTY, ReconciliationBreakCode.CROSS_UNBALANCED,
    ReconciliationBreakCode.CROSS_UNALLOCATED,
)


def _brk(code: str, object_type: str, object_id: int, detail: str, expected, found) -> dict:
    return {"code": code, "object_type": object_type, "object_id": object_id, "detail": detail,
            "expected": str(expected), "found": str(found)}


def _parent_breaks() -> list[dict]:
    out = []
    fills = Fill.objects.filter(parent__isnull=False).values("parent_id").annotate(
        q=Sum("quantity"), v=Sum(F("quantity") * F("price"), output_field=_VAL))
    by_parent = {r["parent_id"]: r for r in fills}
    allocs = {r["parent_id"]: r for r in Allocation.objects.filter(parent__isnull=False).values("parent_id").annotate(
        q=Sum("quantity"), v=Sum(F("quantity") * F("price"), output_field=_VAL))}
    # Parents whose recorded filled quantity disagrees with their fills (a parent with no fill must show 0).
    wrong_filled = ParentOrder.objects.annotate(fq=Coalesce(Sum("fills__quantity"), 0)).exclude(filled_quantity=F("fq"))
    for pid, filled, fq in wrong_filled.values_list("id", "filled_quantity", "fq"):
        out.append(_brk(ReconciliationBreakCode.PARENT_FILL_QTY, "parent_order", pid, f"parent {pid} records {filled} filled, its fills sum to {fq}", fq, filled))
    for pid in sorted(set(by_parent) | set(allocs)):
        f, a = by_parent.get(pid, {"q": 0, "v": ZERO}), allocs.get(pid, {"q": 0, "v": ZERO})
        if f["q"] != a["q"]:
            out.append(_brk(ReconciliationBreakCode.PARENT_ALLOC_QTY, "parent_order", pid,
                            f"parent {pid}: fills {f['q']} shares, allocations {a['q']}", f["q"], a["q"]))
        if (f["v"] or ZERO) != (a["v"] or ZERO):
            out.append(_brk(ReconciliationBreakCode.PARENT_ALLOC_VALUE, "parent_order", pid,
                            f"parent {pid}: fills worth {f['v']:.6f}, allocations {a['v']:.6f}", f"{f['v']:.6f}", f"{a['v']:.6f}"))
    return out


def _fill_breaks() -> list[dict]:
    rows = (Fill.objects.annotate(aq=Coalesce(Sum("allocations__quantity"), 0)).exclude(allocated_quantity=F("aq"))
            .values_list("id", "allocated_quantity", "aq"))
    return [_brk(ReconciliationBreakCode.FILL_ALLOC_QTY, "fill", fid, f"fill {fid}: {aq} shares allocated, {allocated} recorded", allocated, aq)
            for fid, allocated, aq in rows]


def _order_breaks() -> tuple[list[dict], int]:
    out = []
    agg = Order.objects.filter(Q(filled_quantity__gt=0) | Q(pk__in=Allocation.objects.values("order_id"))).annotate(
        aq=Coalesce(Sum("allocations__quantity"), 0),
        av=Coalesce(Sum(F("allocations__quantity") * F("allocations__price"), output_field=_VAL), ZERO, output_field=_VAL),
    )
    checked = agg.count()
    for oid, filled, aq in agg.exclude(filled_quantity=F("aq")).values_list("id", "filled_quantity", "aq"):
        out.append(_brk(ReconciliationBreakCode.ORDER_FILLED_QTY, "order", oid, f"order {oid} records {filled} filled, its allocations sum to {aq}", aq, filled))
    # avg_price = allocations' value / quantity, to the 6th decimal the order stores.
    priced = agg.filter(aq__gt=0).annotate(diff=Abs(F("avg_price") - F("av") / F("aq"), output_field=_VAL))
    for oid, avg, av, aq in priced.filter(Q(diff__gt=PRICE_TOLERANCE) | Q(avg_price__isnull=True)).values_list("id", "avg_price", "av", "aq"):
        expected = (av / aq).quantize(PRICE_TOLERANCE)
        out.append(_brk(ReconciliationBreakCode.ORDER_AVG_PRICE, "order", oid, f"order {oid} average {avg}, its allocations average {expected}", expected, avg))
    return out, checked


def _constituent_breaks() -> list[dict]:
    rows = Constituent.objects.annotate(
        aq=Coalesce(Sum("order__allocations__quantity", filter=Q(order__allocations__parent_id=F("parent_id"))), 0),
    ).exclude(allocated_quantity=F("aq")).values_list("id", "order_id", "parent_id", "allocated_quantity", "aq")
    return [_brk(ReconciliationBreakCode.CONSTITUENT_ALLOC_QTY, "order", oid,
                  f"order {oid} in parent {pid}: {allocated} recorded as allocated, its allocations sum to {aq}", aq, allocated)
            for _, oid, pid, allocated, aq in rows]


def _cross_breaks() -> tuple[list[dict], int]:
    out = []
    crosses = InternalCross.objects.annotate(
        buy=Coalesce(Sum("fills__quantity", filter=Q(fills__side="buy")), 0),
        sell=Coalesce(Sum("fills__quantity", filter=Q(fills__side="sell")), 0),
    )
    checked = crosses.count()
    for cid, qty, buy, sell in crosses.exclude(buy=F("sell"), buy__exact=F("quantity")).values_list("id", "quantity", "buy", "sell"):
        out.append(_brk(ReconciliationBreakCode.CROSS_UNBALANCED, "internal_cross", cid,
                        f"cross {cid} of {qty}: bought {buy}, sold {sell}", f"{qty}/{qty}", f"{buy}/{sell}"))
    unallocated = (Fill.objects.filter(cross__isnull=False).annotate(aq=Coalesce(Sum("allocations__quantity"), 0))
                   .exclude(quantity=F("aq")).values_list("id", "cross_id", "quantity", "aq"))
    for fid, cid, qty, aq in unallocated:
        out.append(_brk(ReconciliationBreakCode.CROSS_UNALLOCATED, "fill", fid, f"cross {cid} fill {fid}: {aq} of {qty} allocated", qty, aq))
    return out, checked


def reconciliation_breaks() -> tuple[list[dict], dict]:
    """Every break in the book now (see the module docstring), and the counts checked."""
    breaks = _parent_breaks() + _fill_breaks()
    order_breaks, orders = _order_breaks()
    cross_breaks, crosses = _cross_breaks()
    breaks += order_breaks + _constituent_breaks() + cross_breaks
    counts = {"parents_checked": ParentOrder.objects.count(), "orders_checked": orders, "crosses_checked": crosses}
    return breaks, counts


def reconciliation_run(*, actor: Actor) -> ReconciliationRun:
    """Reconcile the book, store the run and audit it ("tca.reconciliation") in one transaction."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:  # inside the caller's transaction: its view of the book
        breaks, counts = reconciliation_breaks()
    else:
        with transaction.atomic():
            # One snapshot for every check: fills and their allocations keep arriving while it runs, and a
            # fill seen by one query with its allocations missed by the next would be a false break.
            connection.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            breaks, counts = reconciliation_breaks()
    by_code: dict[str, int] = {}
    for b in breaks:
        by_code[b["code"]] = by_code.get(b["code"], 0) + 1
    with transaction.atomic():
        run = ReconciliationRun.objects.create(ok=not breaks, breaks=breaks[:BREAKS_KEPT], **counts)
        audit_append([PendingEvent(actor, AuditEventType.TCA_RECONCILIATION, "reconciliation", run.pk, after={
            "ok": run.ok, **counts, "breaks_total": len(breaks), "by_code": by_code,
            "breaks": [{k: b[k] for k in ("code", "object_type", "object_id")} for b in breaks[:20]],
        }, reason="clean" if run.ok else f"{len(breaks)} break(s)")])
    return run
