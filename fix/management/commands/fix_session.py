import getpass

from django.core.management.base import BaseCommand, CommandError

from fix.models import ResetPolicy, SessionKind
from fix.refusals import refusal_text
from fix.selectors import fix_session_by_comp_ids, fix_sessions
from fix.services import fix_session_add, fix_session_reset, fix_session_set_enabled
from oms.errors import DomainError
from oms.roles import Actor


class Command(BaseCommand):
    help = (
        "Manage FIX sessions: add, list, enable, disable, reset (sequence numbers back to 1). Each change is "
        "audited (fix_session.*). A running gateway applies enable/disable/reset within a second; it accepts an "
        "added session from its next start."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a session")
        add.add_argument("--ours", required=True, help="our CompID (SenderCompID on what we send)")
        add.add_argument("--theirs", required=True, help="their CompID (TargetCompID on what we send)")
        add.add_argument("--user", required=True, help="the API client user the session acts as")
        add.add_argument("--kind", required=True, choices=SessionKind.values)
        add.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt in seconds (default 30)")
        add.add_argument("--reset", choices=ResetPolicy.values, default=ResetPolicy.NEVER,
                         help="sequence number reset policy (default: never)")
        add.add_argument("--reason", default="")
        sub.add_parser("list", help="list the sessions")
        for action in ("enable", "disable", "reset"):
            p = sub.add_parser(action, help=f"{action} a session")
            p.add_argument("--ours", required=True)
            p.add_argument("--theirs", required=True)
            p.add_argument("--reason", default="")

    def handle(self, *args, action, **options):
        # The operator is who ran the command on the server (the OS account), as the audit trail records it.
        operator = getpass.getuser()
        actor = Actor(name=operator, type="system", source=f"system:fix_session:{operator}")
        try:
            getattr(self, f"_{action}")(actor, **options)
        except DomainError as exc:
            raise CommandError(refusal_text(exc))

    def _add(self, actor, *, ours, theirs, user, kind, heartbeat, reset, reason, **_):
        s = fix_session_add(ours=ours, theirs=theirs, username=user, kind=kind, heartbeat_seconds=heartbeat,
                            reset_policy=reset, actor=actor, reason=reason)
        self.stdout.write(f"Added FIX session {s.sender_comp_id}->{s.target_comp_id} ({s.kind}) acting as {user}")

    def _list(self, actor, **_):
        rows = list(fix_sessions())
        if not rows:
            self.stdout.write("No FIX sessions")
        for s in rows:
            self.stdout.write(
                f"{s.sender_comp_id:<16} {s.target_comp_id:<16} {s.kind:<12} {s.user.get_username():<16} "
                f"{'enabled' if s.enabled else 'disabled':<9} hb={s.heartbeat_seconds}s reset={s.reset_policy} "
                f"next out={s.next_sender_seq} in={s.next_target_seq}"
            )

    def _one(self, ours, theirs):
        s = fix_session_by_comp_ids(ours, theirs)
        if s is None:
            raise CommandError(f"No FIX session {ours}->{theirs}")
        return s

    def _enable(self, actor, *, ours, theirs, reason, **_):
        fix_session_set_enabled(session_id=self._one(ours, theirs).pk, enabled=True, actor=actor, reason=reason)
        self.stdout.write(f"Enabled {ours}->{theirs}")

    def _disable(self, actor, *, ours, theirs, reason, **_):
        fix_session_set_enabled(session_id=self._one(ours, theirs).pk, enabled=False, actor=actor, reason=reason)
        self.stdout.write(f"Disabled {ours}->{theirs}")

    def _reset(self, actor, *, ours, theirs, reason, **_):
        fix_session_reset(session_id=self._one(ours, theirs).pk, actor=actor, reason=reason)
        self.stdout.write(f"Reset {ours}->{theirs}: next sequence numbers 1 and 1")
