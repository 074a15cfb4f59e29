"""The FIX page (thin): each session's state and message log for the desk-wide roles; an admin's controls
(enable, disable, reset sequence numbers), each through the same audited service as ``manage.py fix_session``."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ems.views import desk_required
from fix import selectors, services
from fix.models import COMPID_PATTERN, FixSession
from oms import role_names, roles
from oms.roles import Actor
from oms.services.order_parse import has_invalid_characters

CONTROLS = {"enable": "enabled", "disable": "disabled", "reset": "sequence numbers reset to 1"}


def _is_admin(user) -> bool:
    return roles.role_of(user) == role_names.ADMIN


@desk_required
def fix_sessions(request):
    """Every FIX session with its state: logged on, next sequence numbers in and out, last message, traffic."""
    return render(request, "fix/sessions.html", {"states": selectors.fix_session_states(), "can_control": _is_admin(request.user)})


@desk_required
def fix_session_detail(request, session_id: int):
    """One session: its state and its message log, searchable by ClOrdID (FIX 11)."""
    state = next(iter(selectors.fix_session_states(session_id=int(session_id))), None)
    if state is None:
        raise Http404(f"No FIX session {session_id}")
    cl_ord_id = request.GET.get("cl_ord_id", "").strip()
    refused = ""
    if cl_ord_id and (len(cl_ord_id) > 64 or has_invalid_characters(cl_ord_id)):
        refused, cl_ord_id = "A ClOrdID is at most 64 printable characters", ""
    messages = [{"m": m, "text": bytes(m.raw).replace(b"\x01", b"|").decode("latin-1")}
                for m in selectors.fix_session_log(session=state.session, cl_ord_id=cl_ord_id)]
    return render(request, "fix/session.html", {
        "state": state, "messages": messages, "cl_ord_id": cl_ord_id, "refused": refused, "can_control": _is_admin(request.user),
        "done": CONTROLS.get(request.GET.get("done", "")), "compid_pattern": COMPID_PATTERN,
    })


@desk_required
@require_POST
def fix_session_control(request, session_id: int, verb: str):
    """An admin enables, disables or resets a session (audited, as the command line does); others get a 403."""
    if not _is_admin(request.user):
        return render(request, "403.html", {"message": "Only an administrator changes FIX sessions."}, status=403)
    if not FixSession.objects.filter(pk=session_id).exists():
        raise Http404(f"No FIX session {session_id}")
    actor = Actor.for_user(request.user, "browser")
    if verb == "reset":
        services.fix_session_reset(session_id=session_id, actor=actor, reason="reset from the FIX page")
    else:
        services.fix_session_set_enabled(session_id=session_id, enabled=verb == "enable", actor=actor, reason=f"{verb}d from the FIX page")
    return redirect(f"/fix/sessions/{session_id}/?done={verb}")
