"""The FIX page (issue 21, item 7): each session's state and message log for the desk-wide roles, searchable by
ClOrdID; an admin's enable / disable / reset, each audited; bad input answered, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fix.models import Direction, FixMessage, FixSession
from fix.selectors import fix_session_states
from oms.models import AuditEvent
from tests.fix.conftest import add_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(api_client_user):
    return add_session(api_client_user, "SMART", "CLIENT1")


def log(session: FixSession, direction: str, seq: int, msg_type: str, cl_ord_id: str = "", *, ago_s: float = 0) -> FixMessage:
    raw = f"8=FIX.4.4\x019=5\x0135={msg_type}\x0134={seq}\x01" + (f"11={cl_ord_id}\x01" if cl_ord_id else "") + "10=000\x01"
    return FixMessage.objects.create(session=session, direction=direction, seq_num=seq, msg_type=msg_type, cl_ord_id=cl_ord_id,
                                     raw=raw.encode(), logged_at=timezone.now() - timedelta(seconds=ago_s))


def test_a_session_is_logged_on_after_our_logon_while_the_client_is_heard(session):
    assert fix_session_states()[0].state == "logged out"
    log(session, Direction.IN, 1, "A")
    log(session, Direction.OUT, 1, "A")
    assert fix_session_states()[0].state == "logged on"
    log(session, Direction.IN, 2, "5")
    assert fix_session_states()[0].state == "logged out"


def test_a_silent_client_is_not_shown_logged_on_past_two_heartbeats(session):
    log(session, Direction.IN, 1, "A", ago_s=2 * session.heartbeat_seconds + 5)
    log(session, Direction.OUT, 1, "A", ago_s=2 * session.heartbeat_seconds + 5)
    assert fix_session_states()[0].state == "logged out"


def test_the_desk_reads_the_sessions_and_a_pm_may_not(client, trader, pm, session):
    client.force_login(trader)
    page = client.get("/fix/").content.decode()
    assert "SMART → CLIENT1" in page and "logged out" in page and 'id="fix-disable"' not in page
    client.force_login(pm)
    assert client.get("/fix/").status_code == 403


def test_the_log_is_searched_by_clordid(client, compliance, session):
    log(session, Direction.IN, 2, "D", "ORD-1")
    log(session, Direction.OUT, 2, "8", "ORD-1")
    log(session, Direction.IN, 3, "D", "ORD-2")
    client.force_login(compliance)

    page = client.get(f"/fix/sessions/{session.pk}/", {"cl_ord_id": "ORD-1"}).content.decode()

    assert page.count('<tr data-msg-type=') == 2 and "ORD-2" not in page
    assert "35=D|34=2|11=ORD-1|" in page  # the raw message, SOH shown as |


def test_a_bad_clordid_search_is_refused_not_a_500(client, trader, session):
    client.force_login(trader)
    url = f"/fix/sessions/{session.pk}/"
    too_long = client.get(url, {"cl_ord_id": "x" * 65})
    assert too_long.status_code == 200 and "at most 64 printable characters" in too_long.content.decode()
    assert client.get(url, {"cl_ord_id": "A\x00B"}).status_code == 400  # refused by the request guard before any view
    assert client.get(url + "?cl_ord_id=%ED%A0%80").status_code in (200, 400)  # a lone surrogate, percent-encoded


def test_an_admin_disables_enables_and_resets_a_session_each_audited(client, admin_user, session):
    client.force_login(admin_user)
    session.next_sender_seq, session.next_target_seq = 7, 9
    session.save()

    assert client.post(f"/fix/sessions/{session.pk}/disable/").status_code == 302
    session.refresh_from_db()
    assert not session.enabled and fix_session_states()[0].state == "disabled"
    client.post(f"/fix/sessions/{session.pk}/enable/")
    page = client.get(client.post(f"/fix/sessions/{session.pk}/reset/")["Location"]).content.decode()

    session.refresh_from_db()
    assert session.enabled and (session.next_sender_seq, session.next_target_seq, session.reset_pending) == (1, 1, True)
    assert "sequence numbers reset to 1 (audited)" in page
    events = list(AuditEvent.objects.filter(object_type="fix_session", object_id=str(session.pk)).order_by("id")
                  .values_list("event_type", "source"))
    assert [e for e, _ in events][-3:] == ["fix_session.disabled", "fix_session.enabled", "fix_session.reset"]
    assert events[-1][1] == "browser:root_admin"


def test_only_an_admin_controls_a_session(client, trader, session):
    client.force_login(trader)
    assert client.post(f"/fix/sessions/{session.pk}/disable/").status_code == 403
    session.refresh_from_db()
    assert session.enabled


def test_unknown_sessions_and_verbs_are_404(client, admin_user, session):
    client.force_login(admin_user)
    assert client.get("/fix/sessions/999999/").status_code == 404
    assert client.post("/fix/sessions/999999/disable/").status_code == 404
    assert client.post(f"/fix/sessions/{session.pk}/delete/").status_code == 404
    assert client.get(f"/fix/sessions/{session.pk}/disable/").status_code == 405
