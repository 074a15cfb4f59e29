"""Reads of FIX sessions: the command line's list and the FIX page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from fix.lease import lease_holders
from fix.models import Direction, FixMessage, FixOrderId, FixSession
from oms.models import Order

LOGON, LOGOUT = "A", "5"  # FIX 35 MsgType
LOG_PAGE = 200  # messages a session's page lists


def fix_sessions() -> QuerySet[FixSession]:
    return FixSession.objects.select_related("user").order_by("sender_comp_id", "target_comp_id")


def fix_session_by_comp_ids(ours: str, theirs: str) -> FixSession | None:
    return FixSession.objects.select_related("user").filter(sender_comp_id=ours, target_comp_id=theirs).first()


def fix_session_order(session_id: int, source: str, client_order_id: str) -> Order | None:
    """The order a session names with this ClOrdID: the one it sent with it (client order ids are unique per
    source), or the one it gave it to in an OrderCancelReplaceRequest (``FixOrderId``)."""
    orders = Order.objects.select_related("portfolio", "instrument")
    order = orders.filter(source=source, client_order_id=client_order_id).first()
    if order is None:
        alias = FixOrderId.objects.filter(session_id=session_id, cl_ord_id=client_order_id).values_list("order_id", flat=True).first()
        order = orders.filter(pk=alias).first() if alias else None
    return order


def fix_session_servers() -> dict[int, str]:
    """Session id -> the gateway serving it now (``fix_gateway <machine> <host>:<port> pid <pid>``: the name of the
    connection holding its lease, ``fix.lease``); a session nobody serves is absent."""
    with connection.cursor() as cur:
        return lease_holders(cur)


@dataclass(frozen=True)
class SessionState:
    """What the FIX page shows of a session: logged on or not (from its log), sequence numbers, traffic."""

    session: FixSession
    logged_on: bool
    last_in: datetime | None
    last_out: datetime | None
    per_minute: int  # messages in and out over the last minute
    served_by: str  # the gateway serving it ("" when none does)

    @property
    def state(self) -> str:
        if not self.session.enabled:
            return "disabled"
        return "logged on" if self.logged_on else "logged out"


def fix_session_states(*, now: datetime | None = None, session_id: int | None = None) -> list[SessionState]:
    """Every session with its state, read from the message log in three grouped queries.

    Logged on: the last Logon the gateway sent is later than the last Logout either side sent, and the client
    was heard from within two heartbeat intervals (a session whose client vanished without a Logout is not shown
    as logged on for longer than the engine would keep it)."""
    now = now or timezone.now()
    sessions = list(fix_sessions() if session_id is None else fix_sessions().filter(pk=session_id))
    ids = [s.pk for s in sessions]
    traffic = {r["session_id"]: r for r in FixMessage.objects.filter(session_id__in=ids).values("session_id").annotate(
        last_in=Max("logged_at", filter=Q(direction=Direction.IN)), last_out=Max("logged_at", filter=Q(direction=Direction.OUT)),
        last_logon=Max("id", filter=Q(direction=Direction.OUT, msg_type=LOGON)), last_logout=Max("id", filter=Q(msg_type=LOGOUT)),
        minute=Count("id", filter=Q(logged_at__gte=now - timedelta(minutes=1))))}
    servers = fix_session_servers()
    out = []
    for s in sessions:
        t = traffic.get(s.pk, {})
        heard = t.get("last_in") is not None and now - t["last_in"] <= timedelta(seconds=2 * s.heartbeat_seconds)
        logged_on = bool(s.enabled and t.get("last_logon") and (t.get("last_logout") or 0) < t["last_logon"] and heard)
        out.append(SessionState(s, logged_on, t.get("last_in"), t.get("last_out"), t.get("minute", 0), servers.get(s.pk, "")))
    return out


def fix_session_log(*, session: FixSession, cl_ord_id: str = "") -> QuerySet[FixMessage]:
    """A session's messages, newest first (``LOG_PAGE`` of them), those of one ClOrdID when given."""
    qs = FixMessage.objects.filter(session=session)
    if cl_ord_id:
        qs = qs.filter(cl_ord_id=cl_ord_id)
    return qs.order_by("-id")[:LOG_PAGE]
