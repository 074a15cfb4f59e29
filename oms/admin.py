"""Admin for reference data, portfolios, risk limits, users and roles. The audit trail is read-only here."""

from django.contrib import admin

from oms.models import AuditEvent, Instrument, Order, Portfolio, PortfolioDailyUsage, RestrictedInstrument, RiskLimit


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
