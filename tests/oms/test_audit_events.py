"""The audit event type catalogue (``oms.audit_events``): every event the trail is written with comes from it,
each value is unique and none changes (they are inside the hash chain and what compliance filters on)."""

from __future__ import annotations

import ast
import pathlib

from ems.services.booking import CHILD_REPORTS
from ems.services.closing import CLOSE_EVENTS
from ems.states import CHILD_TRANSITIONS, PARENT_TRANSITIONS, ExecStatus
from oms.audit_events import CREATION_EVENTS, LABELS, AuditEventType, label, matching
from oms.services import audit_verification
from oms.services.lifecycle import CLOSE_STATUSES
from oms.states import ORDER_TRANSITIONS, OrderStatus
from rfq.services.common import CLOSE_EVENTS as RFQ_CLOSE_EVENTS
from rfq.states import QUOTE_TRANSITIONS

ROOT = pathlib.Path(__file__).resolve().parents[2]
VALUES = {e.value for e in AuditEventType}

# The contract, written out: add lines; never edit or remove one.
SNAPSHOT = [
    "auth.locked_out", "auth.lockout_refused", "auth.login", "auth.login_failed", "auth.logout", "auth.throttled",
    "auth.token_issued", "auth.token_revoked", "auth.token_rotated",
    "child_order.acked", "child_order.cancel_rejected", "child_order.cancel_requested", "child_order.cancelled",
    "child_order.expired", "child_order.filled", "child_order.partially_filled", "child_order.placed",
    "child_order.rejected",
    "fill.booked", "fix_session.added", "fix_session.disabled", "fix_session.enabled", "fix_session.reset",
    "internal_cross.booked", "kill_switch.engaged", "kill_switch.lifted",
    "order.accepted", "order.aggregated", "order.cancel_requested", "order.cancelled", "order.denied", "order.expired",
    "order.filled", "order.partially_filled", "order.received", "order.replace_denied", "order.replaced",
    "parent_order.cancel_requested", "parent_order.cancelled", "parent_order.carried_over", "parent_order.created",
    "parent_order.done_for_day", "parent_order.expired",
    "parent_order.filled", "parent_order.halted", "parent_order.partially_filled", "parent_order.paused",
    "parent_order.plan_started", "parent_order.reduced", "parent_order.released", "parent_order.reserved",
    "parent_order.resumed", "parent_order.strategy_changed",
    "position.updated",
    "quote.accepted", "quote.expired", "quote.received", "quote.refused", "quote.rejected",
    "rfq.cancelled", "rfq.created", "rfq.declined", "rfq.executed", "rfq.expired", "rfq.package_executed", "rfq.quoting", "rfq.rejected",
    "rfq.sent",
    "tca.import", "tca.reconciliation", "tca.what_if",
]

# Strings equal to an event type that are not one: the system actor the reconciliation runs as, and the
# error code of a locked-out sign-in (the event of the lockout has the same name).
NOT_EVENTS = {("tca/tasks.py", "tca.reconciliation"), ("oms/error_codes.py", "auth.locked_out")}


def test_the_catalogue_is_the_snapshot():
    assert sorted(VALUES) == SNAPSHOT
    assert len(list(AuditEventType)) == len(VALUES)  # no two members share a value


def test_every_event_names_its_object_type():
    for event in AuditEventType:
        object_type, _, what = event.value.partition(".")
        assert object_type and what and event.name == f"{object_type}_{what}".upper(), event


def test_no_event_type_is_spelled_out_in_the_code():
    found = []
    for app in ("oms", "ems", "rfq", "tca", "config"):
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if "migrations" in path.parts or rel == "oms/audit_events.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in VALUES and (rel, node.value) not in NOT_EVENTS:
                    found.append(f"{rel}:{node.lineno}: {node.value}")
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PendingEvent" and len(node.args) > 1:
                    if isinstance(node.args[1], ast.JoinedStr):
                        found.append(f"{rel}:{node.lineno}: an f-string event type outside AuditEventType(...)")
    assert found == [], "use a member of oms.audit_events.AuditEventType"


def test_events_named_after_a_status_are_in_the_catalogue():
    # order_close: "order.<status>"; a fill moving a child or parent: "<object>.<status>"; a quote: "quote.<status>";
    # an RFQ closing: "rfq.<word>" -- each built with AuditEventType(...), so each must be a member.
    assert {f"order.{s.lower()}" for s in CLOSE_STATUSES} <= VALUES
    fill_targets = {ExecStatus.PARTIALLY_FILLED, ExecStatus.FILLED}
    assert {f"child_order.{s.lower()}" for s in fill_targets} <= VALUES
    assert {f"parent_order.{s.lower()}" for s in fill_targets} <= VALUES
    assert {f"quote.{target}" for _, target in QUOTE_TRANSITIONS} <= VALUES
    assert {f"rfq.{word}" for word in RFQ_CLOSE_EVENTS.values()} <= VALUES
    assert {event for _, event in CHILD_REPORTS.values()} | set(CLOSE_EVENTS.values()) <= VALUES
    # the statuses named are real moves of their tables
    assert all((a, b) in ORDER_TRANSITIONS for a, b in [(OrderStatus.ACCEPTED, s) for s in CLOSE_STATUSES])
    assert all(any(b == s for _, b in table) for table in (CHILD_TRANSITIONS, PARENT_TRANSITIONS) for s in fill_targets)


def test_the_audit_verifier_knows_the_creation_events_of_the_catalogue():
    registered = {t: reg.event_types for t, reg in audit_verification._CREATION_EVENTS.items()}
    assert registered == {t: tuple(events) for t, events in CREATION_EVENTS.items()}


def test_every_event_type_has_a_readable_label_of_its_own():
    assert set(LABELS) == set(AuditEventType)
    assert all(text.strip() and text != event.value for event, text in LABELS.items())
    assert len(set(LABELS.values())) == len(LABELS)  # two events never read the same


def test_words_find_event_types_by_label_or_code():
    assert matching("denied by risk") == ["order.denied", "order.replace_denied"]
    assert matching("  KILL switch ") == ["parent_order.halted", "kill_switch.engaged", "kill_switch.lifted"]
    assert matching("quote.exp") == ["quote.expired"]
    assert matching("no such words") == []
    assert label("order.denied") == "Order denied by risk" and label("not.in_catalogue") == "not.in_catalogue"
