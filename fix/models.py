"""FIX sessions as data, and the message log that is also the engine's message store (see ``fix.store``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# FIX CompIDs are free text in the standard; ours are what an operator types on a command line and what
# the engine writes into file names and settings keys: letters, digits and a few separators.
COMPID_PATTERN = r"^[A-Za-z0-9._\-]{1,64}$"


class SessionKind(models.TextChoices):
    ORDER_ENTRY = "order-entry", "Order entry"
    DROP_COPY = "drop-copy", "Drop copy"


class ResetPolicy(models.TextChoices):
    # Sequence numbers continue across logons and gateway restarts; an operator resets them (fix_session reset)
    # or the client asks for it with ResetSeqNumFlag(141)=Y on its Logon.
    NEVER = "never", "Never (continue across logons and restarts)"
    LOGON = "logon", "At each logon (ResetOnLogon=Y)"


class FixSession(models.Model):
    """One FIX 4.4 session the gateway accepts: who we are, who they are, and whom they act as."""

    sender_comp_id = models.CharField(max_length=64, help_text="Ours: FIX 49 SenderCompID on what we send")
    target_comp_id = models.CharField(max_length=64, help_text="Theirs: FIX 56 TargetCompID on what we send")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fix_sessions",
        help_text="The API client this session acts as: its role and portfolios decide what it may do, as over REST.",
    )
    kind = models.CharField(max_length=16, choices=SessionKind.choices, default=SessionKind.ORDER_ENTRY)
    heartbeat_seconds = models.PositiveIntegerField(default=30, help_text="FIX 108 HeartBtInt we expect")
    reset_policy = models.CharField(max_length=8, choices=ResetPolicy.choices, default=ResetPolicy.NEVER)
    enabled = models.BooleanField(default=True)
    # The engine's sequence numbers as the gateway last saw them (it saves them every second and when it stops);
    # the message log below holds what was sent, for resends after a restart.
    next_sender_seq = models.PositiveIntegerField(default=1, help_text="FIX 34 of the next message we send")
    next_target_seq = models.PositiveIntegerField(default=1, help_text="FIX 34 we expect next from them")
    # Messages logged before this moment belong to an earlier sequence (an operator's reset).
    store_reset_at = models.DateTimeField(null=True, blank=True)
    # An operator's reset the gateway has not applied to the engine yet (it does at its start, or within a second).
    reset_pending = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender_comp_id", "target_comp_id"], name="fix_session_unique_comp_ids"),
            models.CheckConstraint(condition=models.Q(sender_comp_id__regex=COMPID_PATTERN), name="fix_session_sender_comp_id_format"),
            models.CheckConstraint(condition=models.Q(target_comp_id__regex=COMPID_PATTERN), name="fix_session_target_comp_id_format"),
            models.CheckConstraint(condition=models.Q(heartbeat_seconds__gte=1), name="fix_session_heartbeat_positive"),
        ]
        ordering = ["sender_comp_id", "target_comp_id"]

    def __str__(self) -> str:
        return f"{self.sender_comp_id}->{self.target_comp_id} ({self.kind})"

    @property
    def source(self) -> str:
        """The order source of what this session submits (client order ids are unique per source)."""
        return f"fix:{self.sender_comp_id}:{self.target_comp_id}"


class Direction(models.TextChoices):
    IN = "in", "Received"
    OUT = "out", "Sent"


class FixMessage(models.Model):
    """One message received or sent on a session, exactly as on the wire (the engine's store is rebuilt from it)."""

    session = models.ForeignKey(FixSession, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    seq_num = models.PositiveIntegerField()  # FIX 34 MsgSeqNum
    msg_type = models.CharField(max_length=8)  # FIX 35 MsgType
    cl_ord_id = models.CharField(max_length=64, blank=True, db_index=True)  # FIX 11 ClOrdID, for the log search
    poss_dup = models.BooleanField(default=False)  # FIX 43 PossDupFlag: a resend of an earlier message
    raw = models.BinaryField()  # bytes as on the wire: a data field may hold any byte, NUL included
    logged_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["session", "direction", "-id"], name="fix_message_session_recent")]

    def __str__(self) -> str:
        return f"{self.direction} {self.msg_type} #{self.seq_num}"


class FixReport(models.Model):
    """The outbox: one ExecutionReport (or OrderCancelReject) for one session, written in the same transaction as
    the change it reports, sent after commit in ``id`` order by the gateway when the session is logged on."""

    session = models.ForeignKey(FixSession, on_delete=models.CASCADE, related_name="reports")
    order = models.ForeignKey("oms.Order", on_delete=models.PROTECT, related_name="+")
    exec_id = models.CharField(max_length=200)  # FIX 17: stable; the same report is never written twice
    exec_type = models.CharField(max_length=1)  # FIX 150
    cl_ord_id = models.CharField(max_length=64)  # FIX 11 (the cancel's or the replace's own id when it answers one)
    orig_cl_ord_id = models.CharField(max_length=64, blank=True)  # FIX 41
    body = models.TextField()  # the body's fields as on the wire, tag=value separated by SOH (no header, no trailer)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_seq = models.PositiveIntegerField(null=True, blank=True)  # FIX 34 it went out with
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "exec_id"], name="fix_report_unique_exec_id")]
        indexes = [
            models.Index(fields=["session", "id"], name="fix_report_unsent", condition=models.Q(sent_seq__isnull=True)),
            models.Index(fields=["order", "session"], name="fix_report_order"),
        ]

    def __str__(self) -> str:
        return f"{self.exec_type} {self.exec_id} -> {self.session_id}"


class FixOrderId(models.Model):
    """A ClOrdID an order took over FIX after its first one (OrderCancelReplaceRequest, FIX 11 of a G): the order
    answers to it afterwards (F, G and H name it), and reports about the order carry the latest one."""

    session = models.ForeignKey(FixSession, on_delete=models.CASCADE, related_name="order_ids")
    cl_ord_id = models.CharField(max_length=64)
    order = models.ForeignKey("oms.Order", on_delete=models.PROTECT, related_name="+")
    orig_cl_ord_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "cl_ord_id"], name="fix_order_id_unique")]
        indexes = [models.Index(fields=["order", "-id"], name="fix_order_id_latest")]
