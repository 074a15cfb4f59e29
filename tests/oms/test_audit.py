"""The audit trail: what each change writes, append-only in the database, tamper-evident hash chain."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from oms.models import AuditEvent, Order
from oms.roles import Actor
from oms.services import audit_verify
from oms.services.audit import GENESIS_HASH, PendingEvent, event_digest
from oms.services.audit_seal import audit_seal
from oms.states import OrderStatus
from tests.oms.audit_helpers import chain_append, triggers_bypassed

SYSTEM = Actor.system("test")
AUDIT_URL = "/api/audit/"
VERIFY_URL = "/api/audit/verify/"


def _event(order_id, event_type) -> AuditEvent:
    return AuditEvent.objects.get(object_type="order", object_id=str(order_id), event_type=event_type)


def _refused(sql: str, params=()) -> None:
    with pytest.raises(DatabaseError) as info:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params)
    assert "pgtrigger: Cannot" in str(info.value)


@pytest.fixture
def trail(pm, trader, submit, cancel_order):
    """Five events, sealed as #1..#5: A received+accepted, B received+accepted (each its own transaction), A
    cancelled by the trader."""
    a = submit(pm, client_order_id="A")
    b = submit(pm, client_order_id="B", quantity=10)
    cancel_order(trader, a.id)
    assert audit_seal().sealed == 5
    return {"a": a, "b": b}


@pytest.fixture
def chain(db):
    """Five events chained as the product wrote them before the switch to the sealer (#1..#5), then sealed."""
    for i in range(5):
        with transaction.atomic():
            chain_append([PendingEvent(SYSTEM, "probe.noted", "probe", i, after={"i": i, "quantity": 10}, reason="probe")])
    assert audit_seal().sealed == 5


# --- what each change writes ----------------------------------------------------------------------


def test_submission_writes_received_with_the_order_snapshot(pm, post_order, order_payload):
    order_id = post_order(pm, order_payload(client_order_id="SNAP-1", quantity=1200, limit_price="100.50")).json()["id"]

    event = _event(order_id, "order.received")

    assert (event.actor, event.actor_type, event.source) == ("pm_a", "user", "api:pm_a")
    assert (event.object_type, event.object_id) == ("order", str(order_id))
    assert event.before is None
    assert event.after["client_order_id"] == "SNAP-1"
    assert (event.after["quantity"], event.after["portfolio"], event.after["instrument"]) == (1200, "PM-A-GROWTH", "ACME")
    assert Decimal(event.after["limit_price"]) == Decimal("100.50")
    assert Decimal(event.after["notional"]) == Decimal("120600.00")
    assert event.after["status"] == OrderStatus.NEW


def test_acceptance_writes_the_transition_with_its_reason(pm, post_order, order_payload):
    order_id = post_order(pm, order_payload()).json()["id"]

    event = _event(order_id, "order.accepted")

    assert (event.before, event.after) == ({"status": "NEW"}, {"status": "ACCEPTED"})
    assert event.reason == "passed pre-trade risk"
    assert event.seq is None  # a position comes with the seal
    audit_seal()
    assert _event(order_id, "order.accepted").seq == _event(order_id, "order.received").seq + 1


def test_denial_writes_the_code_and_reason(pm, set_limits, post_order, order_payload):
    set_limits(max_order_quantity=10)
    body = post_order(pm, order_payload(quantity=11)).json()

    event = _event(body["order"]["id"], "order.denied")

    assert (event.before, event.after) == ({"status": "NEW"}, {"status": "DENIED", "code": "risk.max_quantity"})
    assert event.reason == body["detail"] == Order.objects.get().deny_reason
    assert (event.actor, event.source) == ("pm_a", "api:pm_a")


def test_cancel_writes_who_cancelled_from_which_status(trail):
    event = _event(trail["a"].id, "order.cancelled")

    assert (event.before, event.after) == ({"status": "ACCEPTED"}, {"status": "CANCELLED"})
    assert (event.actor, event.actor_type, event.source) == ("desk_trader", "user", "api:desk_trader")
    assert "desk_trader" in event.reason


def test_refused_request_writes_nothing(pm, other_portfolio, post_order, cancel_order, order_payload):
    post_order(pm, order_payload(quantity=0))  # 400
    post_order(pm, order_payload(portfolio=other_portfolio.code))  # 403
    cancel_order(pm, 987654)  # 404

    assert not AuditEvent.objects.exists()


def test_timestamp_is_utc_to_the_microsecond(pm, submit):
    order = submit(pm)
    written = _event(order.id, "order.received")

    with connection.cursor() as cur:
        cur.execute("SELECT ts, to_char(ts AT TIME ZONE 'UTC', 'US') FROM oms_auditevent WHERE id = %s", [written.id])
        ts, micros = cur.fetchone()

    assert ts.utcoffset().total_seconds() == 0
    assert int(micros) == ts.microsecond  # stored with microseconds, not rounded to the second
    assert abs((ts - order.created_at).total_seconds()) < 5


def test_events_of_one_change_share_a_transaction(pm, order_payload, post_order, monkeypatch):
    # If the audit write fails, the order must not exist either: never half-applied.
    def broken_write(prepared):
        raise RuntimeError("audit store down")

    monkeypatch.setattr("oms.services.intake.audit_write", broken_write)

    with pytest.raises(RuntimeError):
        post_order(pm, order_payload())

    assert not Order.objects.exists()
    assert not AuditEvent.objects.exists()


def test_cancel_is_undone_if_its_audit_write_fails(pm, submit, cancel_order, monkeypatch):
    order = submit(pm)
    monkeypatch.setattr("oms.services.cancel.audit_append", lambda events: (_ for _ in ()).throw(RuntimeError("down")))

    with pytest.raises(RuntimeError):
        cancel_order(pm, order.id)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACCEPTED


# --- the hash chain -------------------------------------------------------------------------------


def test_events_take_no_chain_position_until_sealed_then_a_gapless_seq(pm, trader, submit, cancel_order):
    submit(pm, client_order_id="A")
    cancel_order(trader, submit(pm, client_order_id="B").id)

    assert list(AuditEvent.objects.order_by().values_list("seq", "prev_hash", "hash").distinct()) == [(None, None, None)]
    audit_seal()
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]


def test_events_before_the_switch_form_a_gapless_hash_chain_from_genesis(chain):
    events = list(AuditEvent.objects.order_by("seq"))

    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.prev_hash == earlier.hash
    assert len({e.hash for e in events}) == 5


def test_intact_chain_verifies(trail, compliance, api):
    out = StringIO()

    call_command("audit_verify", stdout=out)
    body = api(compliance).get(VERIFY_URL).json()

    assert "OK: 5 audit events intact: 5 sealed in the Merkle tree under 1 signed head(s), 0 awaiting the sealer; the hash chain written before the tree: 0 events" in out.getvalue()
    assert {k: body[k] for k in ("ok", "checked", "broken_seq", "code", "problem", "problems", "orphans", "tree_size")} == {
        "ok": True, "checked": 0, "broken_seq": None, "code": "", "problem": "", "problems": [], "orphans": [], "tree_size": 5,
    }
    # No chain: the old HMAC checkpoints anchor only the chain written before the switch.
    assert (body["last_good_checkpoint"], body["checkpoint_written"], body["not_signed"]) == (None, None, "not signed: the chain is empty")


def test_intact_chain_before_the_switch_verifies_and_is_anchored(chain, compliance, api):
    out = StringIO()

    call_command("audit_verify", stdout=out)
    body = api(compliance).get(VERIFY_URL).json()

    assert "OK: 5 audit events intact: 5 sealed in the Merkle tree" in out.getvalue()
    assert (body["ok"], body["checked"], body["tree_size"]) == (True, 5, 5)
    # The command anchored the head it verified; the API's run found it, and nothing new to anchor.
    assert (body["last_good_checkpoint"]["seq"], body["checkpoint_written"]) == (5, None)


def test_empty_trail_verifies(db):
    assert audit_verify().ok


# --- append-only in the database ------------------------------------------------------------------


def test_update_of_an_audit_row_is_refused_by_the_database(trail):
    _refused("UPDATE oms_auditevent SET reason = 'nothing happened' WHERE seq = 2")

    assert AuditEvent.objects.get(seq=2).reason == "passed pre-trade risk"


def test_delete_of_an_audit_row_is_refused_by_the_database(trail):
    _refused("DELETE FROM oms_auditevent WHERE seq = 2")

    assert AuditEvent.objects.count() == 5


def test_orm_update_and_delete_of_audit_rows_are_refused(trail):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(actor="someone_else")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).delete()

    assert AuditEvent.objects.get(seq=1).actor == "pm_a"


def _order_history(order_id):
    OrderHistory = apps.get_model("oms", "OrderHistory")
    return list(OrderHistory.objects.filter(pgh_obj_id=order_id).order_by("pgh_id").values_list("pgh_label", "status"))


def test_order_history_gets_a_row_on_insert_and_on_each_status_change(pm, submit, cancel_order):
    order = submit(pm)
    assert _order_history(order.id) == [("insert", "ACCEPTED")]

    cancel_order(pm, order.id)

    assert _order_history(order.id) == [("insert", "ACCEPTED"), ("update", "CANCELLED")]


def test_order_history_records_fills(pm, submit):
    order = submit(pm)

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PARTIALLY_FILLED, filled_quantity=300)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.FILLED, filled_quantity=1000)

    assert [row[1] for row in _order_history(order.id)] == ["ACCEPTED", "PARTIALLY_FILLED", "FILLED"]


def test_save_without_a_change_adds_no_history_row(pm, submit):
    order = submit(pm)

    Order.objects.get(pk=order.pk).save()

    assert len(_order_history(order.id)) == 1


def test_order_history_is_append_only(pm, submit):
    order = submit(pm)

    _refused("UPDATE oms_orderhistory SET status = 'FILLED' WHERE pgh_obj_id = %s", [order.id])
    _refused("DELETE FROM oms_orderhistory WHERE pgh_obj_id = %s", [order.id])

    assert _order_history(order.id) == [("insert", "ACCEPTED")]


# --- tamper detection -----------------------------------------------------------------------------


def _assert_broken_at(seq, compliance, api, problem_word):
    with pytest.raises(CommandError) as info:
        call_command("audit_verify", stdout=StringIO())
    body = api(compliance).get(VERIFY_URL).json()

    assert f"#{seq}" in str(info.value)
    assert (body["ok"], body["broken_seq"]) == (False, seq)
    assert body["checked"] == seq - 1
    assert problem_word in body["problem"]


TAMPERING = [
    ("UPDATE oms_auditevent SET reason = 'nothing to see' WHERE seq = 2", 2, "altered"),
    ("""UPDATE oms_auditevent SET "after" = jsonb_set("after", '{quantity}', '999') WHERE seq = 3""", 3, "altered"),
    ("UPDATE oms_auditevent SET actor = 'pm_b' WHERE seq = 5", 5, "altered"),
    ("UPDATE oms_auditevent SET ts = ts - interval '1 microsecond' WHERE seq = 4", 4, "altered"),
    ("DELETE FROM oms_auditevent WHERE seq = 3", 3, "missing"),
]


@pytest.mark.parametrize(
    ("sql", "seq", "problem"), TAMPERING, ids=["reason", "after-json", "actor", "timestamp", "deleted-middle-row"],
)
def test_tampering_is_reported_at_the_first_broken_seq(sql, seq, problem, chain, compliance, api):
    with triggers_bypassed() as cur:
        cur.execute(sql)

    _assert_broken_at(seq, compliance, api, problem)


TREE_TAMPERING = [
    ("UPDATE oms_auditevent SET reason = 'nothing to see' WHERE seq = 2", 2, "audit.leaf_altered"),
    ("""UPDATE oms_auditevent SET "after" = jsonb_set("after", '{quantity}', '999') WHERE seq = 3""", 3, "audit.leaf_altered"),
    ("UPDATE oms_auditevent SET actor = 'pm_b' WHERE seq = 5", 5, "audit.leaf_altered"),
    ("UPDATE oms_auditevent SET ts = ts - interval '1 microsecond' WHERE seq = 4", 4, "audit.leaf_altered"),
    ("DELETE FROM oms_auditevent WHERE seq = 3", None, "audit.leaf_event_missing"),
    ("DELETE FROM oms_auditevent WHERE seq = 5", None, "audit.leaf_event_missing"),
    ("UPDATE oms_auditevent SET seq = 100 WHERE seq = 3; UPDATE oms_auditevent SET seq = 3 WHERE seq = 4; "
     "UPDATE oms_auditevent SET seq = 4 WHERE seq = 100", 4, "audit.leaf_altered"),
    ("""INSERT INTO oms_auditevent (seq, ts, actor, actor_type, source, event_type, object_type, object_id, reason)
        VALUES (6, now(), 'pm_a', 'user', 'api:pm_a', 'order.cancelled', 'order', '1', 'inserted')""", 6, "audit.leaf_missing"),
]


@pytest.mark.parametrize(
    ("sql", "seq", "code"), TREE_TAMPERING,
    ids=["reason", "after-json", "actor", "timestamp", "deleted-middle-row", "deleted-newest-row", "reordered", "inserted"],
)
def test_tampering_with_sealed_events_is_reported(sql, seq, code, trail, compliance, api):
    with triggers_bypassed() as cur:
        cur.execute(sql)

    with pytest.raises(CommandError) as info:
        call_command("audit_verify", stdout=StringIO())
    body = api(compliance).get(VERIFY_URL).json()

    assert f"({code})" in str(info.value)
    assert (body["ok"], body["code"], body["broken_seq"]) == (False, code, seq)


def test_the_sealer_sets_a_position_once_and_nothing_else(pm, submit):
    submit(pm)
    first, second = AuditEvent.objects.order_by("id").values_list("id", flat=True)

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE oms_auditevent SET seq = 41 WHERE id = %s", [first])
    _refused("UPDATE oms_auditevent SET seq = 42 WHERE id = %s", [first])
    _refused("UPDATE oms_auditevent SET seq = 43, reason = 'other' WHERE id = %s", [second])

    assert list(AuditEvent.objects.order_by("id").values_list("seq", "reason")) == [(41, ""), (None, "passed pre-trade risk")]


def test_altered_and_rehashed_row_is_detected_at_the_next_link(chain, compliance, api):
    row = AuditEvent.objects.get(seq=2)
    forged = event_digest(
        row.prev_hash, seq=row.seq, ts=row.ts, actor=row.actor, actor_type=row.actor_type, source=row.source,
        event_type=row.event_type, object_type=row.object_type, object_id=row.object_id, before=row.before,
        after=row.after, reason="forged",
    )
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditevent SET reason = 'forged', hash = %s WHERE seq = 2", [forged])

    _assert_broken_at(3, compliance, api, "does not link")


# --- GET /api/audit/ ------------------------------------------------------------------------------


def _seqs(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["seq"] for row in response.json()["results"]]


def test_audit_list_is_newest_first_with_every_field(trail, compliance, api):
    body = api(compliance).get(AUDIT_URL).json()

    assert [r["seq"] for r in body["results"]] == [5, 4, 3, 2, 1]
    assert set(body["results"][0]) == {
        "id", "seq", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id",
        "before", "after", "reason", "prev_hash", "hash",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"event_type": "order.received"}, [3, 1]),
        ({"actor": "desk_trader"}, [5]),
        ({"object_type": "order"}, [5, 4, 3, 2, 1]),
        ({"object_type": "parent_order"}, []),
    ],
)
def test_audit_list_filters(params, expected, trail, compliance, api):
    assert _seqs(api(compliance).get(AUDIT_URL, params)) == expected


def test_audit_list_filters_by_object(trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"object_type": "order", "object_id": trail["a"].id})

    assert _seqs(response) == [5, 2, 1]


def test_audit_list_filters_by_time(trail, compliance, api):
    t_b = AuditEvent.objects.get(seq=3).ts.isoformat()
    t_cancel = AuditEvent.objects.get(seq=5).ts.isoformat()
    client = api(compliance)

    assert _seqs(client.get(AUDIT_URL, {"since": t_b})) == [5, 4, 3]
    assert _seqs(client.get(AUDIT_URL, {"until": t_b})) == [2, 1]
    assert _seqs(client.get(AUDIT_URL, {"since": t_b, "until": t_cancel})) == [4, 3]


def test_audit_list_rejects_a_bad_time_filter(trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"since": "last tuesday"})

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "validation_error", "since")


def test_audit_list_is_paginated(trail, compliance, api):
    client = api(compliance)

    first = client.get(AUDIT_URL, {"page_size": 2}).json()
    last = client.get(AUDIT_URL, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [r["seq"] for r in first["results"]] == [5, 4]
    assert first["previous"] is None and "page=2" in first["next"]
    assert [r["seq"] for r in last["results"]] == [1]
    assert last["next"] is None and last["previous"]


def test_audit_list_is_read_only(trail, compliance, api):
    response = api(compliance).delete(f"{AUDIT_URL}1/")

    assert response.status_code in (404, 405)
    assert AuditEvent.objects.count() == 5
