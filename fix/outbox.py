"""The durable outbox of execution reports: written with the change it reports, sent after commit, in order.

**Writing** (:func:`reports_write`, the listener ``FixConfig.ready`` registers with ``oms.order_reports``): the
OMS calls it inside the transaction that changes an order (intake, each fill, cancel, replace, expiry), so
a report exists exactly when its change committed. It writes one ``FixReport`` row per report and session:
to the order-entry session the order came from (every change), and to each drop-copy session whose user
may see the order's portfolio (fills only; all portfolios for a desk-wide role: compliance, trader,
admin). It is on the fill path, so it keeps a directory of the sessions (reloaded when the process's
reference data is, whose stamp a session's change bumps, at least every ``DIRECTORY_TTL_S``, and at once
for an order from a ``fix:`` source it does not know) and returns at once when no session would get the
report: no query at all.

**Sending** (:class:`ReportSender`, on the gateway's worker thread, after each unit of work and at least
every ``engine.WORKER_IDLE_S``): the unsent rows of the sessions logged on, in ``id`` order, each sent once
with ``sendToTarget`` and marked with the MsgSeqNum it went out with. The changes to one order are
serialised by its row lock, so their rows' ids follow their commits. A session logged out keeps its rows
until it logs on; a gateway stopped keeps them all.

**Exactly once**: a row is marked in the worker's next statement after it went out. If the gateway dies in
between, the engine's file store (written before the message reaches the socket) holds the message: at
its next start, before it sends anything, the sender marks every unsent row whose ExecID is in the store
with the MsgSeqNum it had there (``fix.store.stored_messages``), so a report never goes out again as a new
message. A client that missed it asks with a ResendRequest and gets the same message, PossDup.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from fix.engine import WORKER_IDLE_S, Gateway, SessionKey
from fix.models import FixOrderId, FixReport, FixSession, SessionKind
from fix.refusals import refusal_text
from fix.reports import OrderFacts, report_body, report_fields, report_message
from fix.store import stored_messages
from fix.vocabulary import ORD_REJ_REASON, ORD_STATUS, OTHER
from oms.db import rows_update, write_rows
from oms.errors import RiskDenied
from oms.models import Order
from oms.order_reports import OrderReport, ReportKind
from oms.refdata import cached_refdata
from oms.roles import DESK_WIDE, role_of
from oms.states import OrderStatus

log = logging.getLogger(__name__)

# How soon a process that reads no reference data (a Celery worker booking fills) sees a session added or a
# portfolio granted; a process that does reloads with its reference data (the stamp changes with either).
DIRECTORY_TTL_S = 30.0
SEND_BATCH = 500  # rows read per send pass

EXEC_TYPE = {  # FIX 150 of each kind (a trade's and a new order's follow the order's status)
    ReportKind.DENIED: "8", ReportKind.TRADE: "F", ReportKind.PENDING_CANCEL: "6", ReportKind.CANCELLED: "4",
    ReportKind.REPLACED: "5", ReportKind.EXPIRED: "C", ReportKind.DONE_FOR_DAY: "3",
}
COLUMNS = ["session_id", "order_id", "exec_id", "exec_type", "cl_ord_id", "orig_cl_ord_id", "body", "created_at"]
FIRST_REPORTS = frozenset({ReportKind.NEW, ReportKind.DENIED})
CANCEL_ACK = "6"  # FIX 150 Pending Cancel: the final Canceled carries the same ClOrdID / OrigClOrdID


# --- the directory of sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Directory:
    order_entry: dict[str, int]  # order source (fix:OURS:THEIRS) -> session id
    drop_copy: list[tuple[int, frozenset[int] | None]]  # (session id, portfolio ids it sees; None = all)
    loaded_at: float
    stamp: int | None  # the reference data's stamp this process had seen (oms.refdata; sessions bump it too)

    def __bool__(self) -> bool:
        return bool(self.order_entry or self.drop_copy)


_directory: Directory | None = None
_directory_lock = threading.Lock()


def _load() -> Directory:
    entry, copy = {}, []
    for s in FixSession.objects.select_related("user"):
        if s.kind == SessionKind.DROP_COPY:
            if role_of(s.user) in DESK_WIDE:
                copy.append((s.pk, None))
            else:
                copy.append((s.pk, frozenset(s.user.portfolios.values_list("id", flat=True))))
        else:
            entry[s.source] = s.pk
    return Directory(entry, copy, time.monotonic(), _stamp_seen())


def _stamp_seen() -> int | None:
    cached = cached_refdata()
    return cached.stamp if cached is not None else None


def directory(*, unknown_source: str = "") -> Directory:
    """The sessions as of this process's reference data, or at most ``DIRECTORY_TTL_S`` ago (now, when asked about a
    source it does not have). No query unless one of those moved."""
    global _directory
    d = _directory
    if (d is None or time.monotonic() - d.loaded_at > DIRECTORY_TTL_S or d.stamp != _stamp_seen()
            or (unknown_source and unknown_source not in d.order_entry)):
        with _directory_lock:
            d = _directory = _load()
    return d


def directory_invalidate() -> None:
    """Forget the directory (a session added or changed in this process)."""
    global _directory
    _directory = None


# --- writing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """The FIX request being answered on this thread: its ClOrdID and OrigClOrdID go on the reports it causes."""

    session_id: int
    order_id: int
    cl_ord_id: str
    orig_cl_ord_id: str


_answering: contextvars.ContextVar[Request | None] = contextvars.ContextVar("fix_answering", default=None)
_written = threading.local()  # (session id, ExecID) of the rows this thread wrote since it last asked


def written_here() -> set[tuple[int, str]]:
    """The (session id, ExecID) of the reports this thread wrote since the last call (order entry tells a report
    written for its request from one written before, without a query)."""
    out = getattr(_written, "rows", set())
    _written.rows = set()
    return out


@contextmanager
def answering(request: Request) -> Iterator[None]:
    token = _answering.set(request)
    try:
        yield
    finally:
        _answering.reset(token)


def _targets(report: OrderReport, d: Directory) -> list[int]:
    order = report.order
    out = []
    if order.source.startswith("fix:"):
        if order.source not in d.order_entry:
            d = directory(unknown_source=order.source)
        if order.source in d.order_entry:
            out.append(d.order_entry[order.source])
    if report.kind == ReportKind.TRADE:
        out += [sid for sid, granted in d.drop_copy if granted is None or order.portfolio_id in granted]
    return out


def reports_write(reports: list[OrderReport]) -> None:
    """The listener: write the outbox rows of ``reports`` (inside the OMS's transaction)."""
    d = directory()
    if not d and not any(r.order.source.startswith("fix:") for r in reports):
        return
    wanted = [(r, sid) for r in reports for sid in _targets(r, d)]
    if not wanted:
        return
    order_ids = {r.order.pk for r, _ in wanted}
    codes = _codes([r.order for r, _ in wanted])
    latest = {}
    if any(r.kind not in FIRST_REPORTS for r, _ in wanted):  # an order just taken in has no other ClOrdID yet
        latest = {(row.session_id, row.order_id): row.cl_ord_id for row in
                  FixOrderId.objects.filter(order_id__in=order_ids).order_by("id").only("session_id", "order_id", "cl_ord_id")}
    cancel_acks = {}
    if any(r.kind == ReportKind.CANCELLED for r, _ in wanted):
        cancel_acks = {(row.session_id, row.order_id): (row.cl_ord_id, row.orig_cl_ord_id) for row in
                       FixReport.objects.filter(order_id__in=order_ids, exec_type=CANCEL_ACK).only("session_id", "order_id", "cl_ord_id", "orig_cl_ord_id")}
    request = _answering.get()
    rows, seen, now = [], set(), timezone.now()
    for report, sid in wanted:
        order = report.order
        current = latest.get((sid, order.pk), order.client_order_id)
        cl_ord_id, orig = current, ""
        if request is not None and request.session_id == sid and request.order_id == order.pk and report.kind != ReportKind.TRADE:
            cl_ord_id, orig = request.cl_ord_id, request.orig_cl_ord_id
        elif report.kind == ReportKind.CANCELLED and (sid, order.pk) in cancel_acks:
            cl_ord_id, orig = cancel_acks[(sid, order.pk)]
        exec_id, fields = _report(report, sid, codes[order.pk], cl_ord_id, orig)
        if (sid, exec_id) in seen:
            continue
        seen.add((sid, exec_id))
        rows.append([sid, order.pk, exec_id, fields[2][1], cl_ord_id[:64], orig[:64], report_body(fields), now])
    # One statement (COPY for many rows: a compliance drop copy gets a row per fill and order). An ExecID is
    # unique per session by construction (module docstring); the database's constraint is the last word.
    write_rows(FixReport._meta.db_table, COLUMNS, rows)
    if not hasattr(_written, "rows"):
        _written.rows = set()
    _written.rows |= seen


def _codes(orders: list) -> dict[int, tuple[str, str]]:
    """(Account, Symbol) of each order: from its loaded portfolio and instrument (intake has them), else one query."""
    out, missing = {}, set()
    for o in orders:
        if Order.portfolio.is_cached(o) and Order.instrument.is_cached(o):
            out[o.pk] = (o.portfolio.code, o.instrument.symbol)
        else:
            missing.add(o.pk)
    if missing:
        out.update({pk: (account, symbol) for pk, account, symbol in
                    Order.objects.filter(pk__in=missing).values_list("pk", "portfolio__code", "instrument__symbol")})
    return out


def _report(report: OrderReport, sid: int, codes: tuple[str, str], cl_ord_id: str, orig: str) -> tuple[str, list]:
    order, kind = report.order, report.kind
    facts = OrderFacts.of(order, *codes)
    common = {"facts": facts, "cl_ord_id": cl_ord_id, "orig_cl_ord_id": orig}
    if kind == ReportKind.TRADE:
        t = report.trade
        exec_id = f"F{order.pk}-{t.exec_id}"  # one per order and fill, the same on every session
        return exec_id, report_fields(exec_id=exec_id, exec_type="F", status=t.status, cum_qty=t.cum_quantity, avg_px=t.avg_price,
                                      last=(t.quantity, t.price, t.venue), **common)
    if kind == ReportKind.NEW:
        # The acknowledgement's ExecID is the order's: a resent NewOrderSingle is answered with the same one.
        exec_id, status = f"N{order.pk}", order.status
        exec_type = ORD_STATUS[status] if ORD_STATUS[status] in ("0", "A") else "0"
        return exec_id, report_fields(exec_id=exec_id, exec_type=exec_type, status=status, cum_qty=order.filled_quantity,
                                      avg_px=order.avg_price, **common)
    if kind == ReportKind.DENIED:
        exec_id = f"R{order.pk}"
        return exec_id, report_fields(exec_id=exec_id, exec_type="8", status=OrderStatus.DENIED, cum_qty=0, avg_px=None,
                                      text=refusal_text(RiskDenied(order.deny_code, order.deny_reason)),
                                      rej_reason=ORD_REJ_REASON.get(order.deny_code, OTHER), **common)
    # Pending cancel, cancelled, expired: once each in an order's life; replaced and done for day: as often as it
    # is amended or carried over to another day.
    once = kind not in (ReportKind.REPLACED, ReportKind.DONE_FOR_DAY)
    exec_id = f"{EXEC_TYPE[kind]}{order.pk}" if once else f"{EXEC_TYPE[kind]}{order.pk}-{uuid.uuid4().hex[:12]}"
    return exec_id, report_fields(exec_id=exec_id, exec_type=EXEC_TYPE[kind], status=order.status, cum_qty=order.filled_quantity,
                                  avg_px=order.avg_price, ord_status="3" if kind == ReportKind.DONE_FOR_DAY else "", **common)


# --- sending ------------------------------------------------------------------------------------------


class ReportSender:
    """Sends the outbox rows of a gateway's sessions (the gateway's worker thread only)."""

    def __init__(self):
        self._ids: dict[SessionKey, int] | None = None
        self._reconciled: set[SessionKey] = set()
        self._polled = 0.0

    def send_pending(self, gateway: Gateway, *, fresh: bool = False) -> int:
        """Send what is unsent on the sessions logged on, in order; return how many went out. ``fresh``: rows were
        just written here (else it looks at most every ``WORKER_IDLE_S``)."""
        if not fresh and time.monotonic() - self._polled < WORKER_IDLE_S:
            return 0
        self._polled = time.monotonic()
        if self._ids is None:
            keys = {s.key for s in gateway.sessions}
            self._ids = {(s.sender_comp_id, s.target_comp_id): s.pk for s in FixSession.objects.all()
                         if (s.sender_comp_id, s.target_comp_id) in keys}
        for key in self._ids.keys() - self._reconciled:
            self._reconcile(gateway, key)
            self._reconciled.add(key)
        on = [self._ids[k] for k in gateway.logged_on() if k in self._ids]
        if not on:
            return 0
        rows = list(FixReport.objects.filter(session_id__in=on, sent_seq__isnull=True).order_by("id")[:SEND_BATCH])
        if not rows:
            return 0
        keys = {sid: key for key, sid in self._ids.items()}
        sent, stopped = [], set()
        now = timezone.now()
        for row in rows:
            if row.session_id in stopped:
                continue
            seq = gateway.send_counted(report_message(row.body), keys[row.session_id])
            if seq is None:  # logged out meanwhile: the rest of its rows wait, in order
                stopped.add(row.session_id)
                continue
            row.sent_seq, row.sent_at = seq, now
            sent.append(row)
        if sent:
            rows_update([(FixReport, sent, ["sent_seq", "sent_at"])])
        return len(sent)

    def _reconcile(self, gateway: Gateway, key: SessionKey) -> None:
        """Mark the unsent rows the engine's store shows were sent (the gateway stopped before it marked them)."""
        unsent = dict(FixReport.objects.filter(session_id=self._ids[key], sent_seq__isnull=True).values_list("exec_id", "id"))
        if not unsent:
            return
        found = {}
        for seq, raw in stored_messages(gateway.store_dir, key):
            exec_id = _exec_id(raw)
            if exec_id in unsent:
                found[unsent[exec_id]] = seq
        if found:
            log.warning("FIX %s: %d reports were sent before a stop and not marked; marked from the engine's store", key, len(found))
            with transaction.atomic():
                for row_id, seq in found.items():
                    FixReport.objects.filter(pk=row_id).update(sent_seq=seq, sent_at=timezone.now())


def _exec_id(raw: str) -> str | None:
    for field in raw.split("\x01"):
        if field.startswith("17="):
            return field[3:]
    return None
