"""Admin for reference data, portfolios, risk limits, users, roles and API tokens. The audit trail is read-only here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_permission_codename
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import Token, TokenProxy

from oms.models import (
    AuditCheckpoint,
    AuditEvent,
    Instrument,
    Order,
    Portfolio,
    PortfolioDailyUsage,
    RestrictedInstrument,
    RiskLimit,
)
from oms.roles import Actor
from oms.services.tokens import api_token_issue, api_token_revoke, api_token_rotate, token_expires_at, token_is_expired


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "currency", "reference_price", "adv", "daily_volatility", "spread_bps", "tick_size", "lot_size", "is_active")
    list_filter = ("is_active", "currency")
    search_fields = ("symbol", "name")


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "base_currency")
    search_fields = ("code", "name")
    filter_horizontal = ("members",)


@admin.register(RiskLimit)
class RiskLimitAdmin(admin.ModelAdmin):
    list_display = ("__str__", *RiskLimit.LIMBS)


@admin.register(RestrictedInstrument)
class RestrictedInstrumentAdmin(admin.ModelAdmin):
    list_display = ("instrument", "portfolio", "reason", "created_at")
    list_filter = ("portfolio",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never editable: the database refuses changes anyway."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "ts", "actor", "source", "event_type", "object_type", "object_id", "reason")
    list_filter = ("event_type", "object_type", "actor_type")
    search_fields = ("actor", "object_id", "event_type")


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    """Signed heads of the audit chain; written by the checkpoint task and each verification, never here."""

    list_display = ("id", "seq", "event_count", "high_water", "created_at", "key_id", "head_hash")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders change only through services (with their audit rows), so the admin only shows them."""

    list_display = ("id", "client_order_id", "source", "portfolio", "instrument", "side", "quantity", "order_type", "limit_price", "status", "created_at")
    list_filter = ("status", "side", "order_type", "portfolio")
    search_fields = ("client_order_id", "source")
    list_select_related = ("portfolio", "instrument")


@admin.register(PortfolioDailyUsage)
class PortfolioDailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("portfolio", "trade_date", "gross_notional")


class ApiTokenAdmin(DrfTokenAdmin):
    """API tokens: issue (add), rotate and revoke (actions), each through its audited service.

    Keys are never listed: a new key is shown once, in the message after it was issued or rotated.
    Deleting is not offered (a revocation is the audited way to delete).
    """

    list_display = ("user", "key_start", "created", "expires_at", "expired")
    actions = ["rotate_tokens", "revoke_tokens"]

    @admin.display(description="Key")
    def key_start(self, obj):
        return f"{obj.key[:4]}…"

    def action_checkbox(self, obj):
        # The stock box is labelled with str(obj): for a token, its whole key.
        attrs = {"class": "action-select", "aria-label": f"Select the API token of {obj.user}"}
        return forms.CheckboxInput(attrs, lambda value: False).render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    @admin.display(description="Expires at")
    def expires_at(self, obj):
        return token_expires_at(obj) or "never"

    @admin.display(description="Expired", boolean=True)
    def expired(self, obj):
        return token_is_expired(obj)

    def get_object(self, request, object_id, from_field=None):
        # Shown read-only (titles, breadcrumbs and history use str(obj), the key): never saved from here.
        token = super().get_object(request, object_id, from_field)
        if token is not None:
            token.key = f"{token.key[:4]}…"
        return token

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_manage_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def response_action(self, request, queryset):
        # Rows are identified by user id (DRF's TokenProxy keeps keys out of URLs), but the stock action
        # handling matches the ticked ids against the key: hand it the keys of the ticked users instead.
        ticked = [i for i in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if i.isdigit()]
        if ticked:
            post = request.POST.copy()
            post.setlist(helpers.ACTION_CHECKBOX_NAME, list(Token.objects.filter(user_id__in=ticked).values_list("key", flat=True)))
            request.POST = post
        return super().response_action(request, queryset)

    def save_model(self, request, obj, form, change):
        token = api_token_issue(user=obj.user, actor=Actor.for_user(request.user, "browser"))
        # str(obj) is what the admin's own message and its change log record: the key's start, not the key.
        obj.key, obj.created = f"{token.key[:4]}…", token.created
        self.message_user(request, f"API token for {obj.user.get_username()}: {token.key} (shown once: copy it now)", messages.SUCCESS)

    @admin.action(description="Rotate the selected tokens (new keys; the old ones stop working at once)", permissions=["manage"])
    def rotate_tokens(self, request, queryset):
        actor = Actor.for_user(request.user, "browser")
        for token in queryset.select_related("user").order_by("user_id"):
            new = api_token_rotate(user=token.user, actor=actor, reason=f"rotated in the admin by {request.user.get_username()}")
            self.message_user(request, f"New API token for {token.user.get_username()}: {new.key} (shown once: copy it now)", messages.SUCCESS)

    @admin.action(description="Revoke the selected tokens (they stop working at once)", permissions=["manage"])
    def revoke_tokens(self, request, queryset):
        actor = Actor.for_user(request.user, "browser")
        users = [t.user for t in queryset.select_related("user").order_by("user_id")]
        for user in users:
            api_token_revoke(user=user, actor=actor, reason=f"revoked in the admin by {request.user.get_username()}")
        self.message_user(request, f"Revoked the API tokens of {', '.join(u.get_username() for u in users)}", messages.SUCCESS)


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, ApiTokenAdmin)
