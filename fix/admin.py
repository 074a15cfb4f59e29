"""The admin of FIX sessions: read and enable/disable through the audited services, never a raw save."""

from __future__ import annotations

from django.contrib import admin, messages

from fix.models import FixMessage, FixSession
from fix.services import fix_session_reset, fix_session_set_enabled
from oms.admin import ReadOnlyAdmin
from oms.roles import Actor


def _actor(request) -> Actor:
    return Actor.for_user(request.user, "browser")


@admin.register(FixSession)
class FixSessionAdmin(admin.ModelAdmin):
    list_display = ("sender_comp_id", "target_comp_id", "kind", "user", "enabled", "heartbeat_seconds", "reset_policy",
                    "next_sender_seq", "next_target_seq")
    list_filter = ("kind", "enabled")
    search_fields = ("sender_comp_id", "target_comp_id", "user__username")
    actions = ("enable", "disable", "reset_sequence_numbers")
    # Changes go through the services (audited): sessions are added with `manage.py fix_session add`.
    readonly_fields = [f.name for f in FixSession._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Enable the selected sessions")
    def enable(self, request, queryset):
        for s in queryset:
            fix_session_set_enabled(session_id=s.pk, enabled=True, actor=_actor(request), reason="admin")
        messages.success(request, f"Enabled {queryset.count()} session(s)")

    @admin.action(description="Disable the selected sessions (logged out within a second)")
    def disable(self, request, queryset):
        for s in queryset:
            fix_session_set_enabled(session_id=s.pk, enabled=False, actor=_actor(request), reason="admin")
        messages.success(request, f"Disabled {queryset.count()} session(s)")

    @admin.action(description="Reset sequence numbers to 1 (the session is logged out)")
    def reset_sequence_numbers(self, request, queryset):
        for s in queryset:
            fix_session_reset(session_id=s.pk, actor=_actor(request), reason="admin")
        messages.success(request, f"Reset {queryset.count()} session(s)")


@admin.register(FixMessage)
class FixMessageAdmin(ReadOnlyAdmin):
    list_display = ("logged_at", "session", "direction", "seq_num", "msg_type", "cl_ord_id", "poss_dup")
    list_filter = ("direction", "msg_type")
    search_fields = ("cl_ord_id",)
