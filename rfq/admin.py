"""Admin of the RFQ platform: liquidity provider profiles are edited here (django-pghistory keeps every
version); their scorecards are shown beside them, computed from history, never typed in. Requests,
disseminations and quotes are written only by the RFQ services (each with its audit event): read-only."""

from __future__ import annotations

from django.contrib import admin

from oms.admin import ReadOnlyAdmin
from rfq.models import RFQ, Dissemination, LiquidityProvider, Quote
from rfq.scoring import provider_score
from rfq.selectors import provider_scorecards


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _bps(x: float | None, signed: bool = False) -> str:
    return "—" if x is None else (f"{x:+.1f}" if signed else f"{x:.1f}")


@admin.register(LiquidityProvider)
class LiquidityProviderAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_active", "response_probability", "latency_ms_median", "base_spread_bps",
                    "size_coef_bps", "vol_coef", "skew_bps", "max_size", "last_look_reject_probability",
                    "sc_requests", "sc_response_rate", "sc_hit_ratio", "sc_bps_from_mid", "sc_markout", "sc_score")
    list_display_links = ("code", "name")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    filter_horizontal = ("instruments",)
    readonly_fields = ("scorecard", "created_at", "updated_at")
    fieldsets = (
        ("Identity", {"fields": ("code", "name", "is_active", "seed")}),
        ("What it quotes", {"fields": ("instruments",)}),
        ("Response", {"fields": ("response_probability", "latency_ms_median", "latency_ms_sigma", "quote_life_ms")}),
        ("Pricing", {"fields": ("base_spread_bps", "size_coef_bps", "vol_coef", "skew_bps"),
                     "description": "half-spread bps = base + size_coef x 100 x size/ADV + vol_coef x daily vol (bps) x sqrt(size/ADV); "
                                    "the skew shifts both sides (positive: it leans to buy)."}),
        ("Size", {"fields": ("max_size", "partial_probability")}),
        ("Last look", {"fields": ("last_look_reject_probability", "last_look_tolerance_bps")}),
        ("Scorecard (from history)", {"fields": ("scorecard", "created_at", "updated_at")}),
    )

    def get_changelist_instance(self, request):
        # One scorecard computation for the whole page (a few grouped queries), not one per row and column.
        cl = super().get_changelist_instance(request)
        rows = list(cl.result_list)  # evaluates the page's queryset; the template then reuses these objects
        cards = provider_scorecards(rows)
        for lp in rows:
            lp.card = cards.get(lp.pk)
        return cl

    @staticmethod
    def _card(obj):
        card = getattr(obj, "card", None)
        if card is None and obj.pk:
            card = obj.card = provider_scorecards([obj]).get(obj.pk)
        return card

    @admin.display(description="requests")
    def sc_requests(self, obj):
        card = self._card(obj)
        return card.requests if card else 0

    @admin.display(description="response rate")
    def sc_response_rate(self, obj):
        card = self._card(obj)
        return _pct(card.response_rate if card else None)

    @admin.display(description="hit ratio")
    def sc_hit_ratio(self, obj):
        card = self._card(obj)
        return _pct(card.hit_ratio if card else None)

    @admin.display(description="bps from mid")
    def sc_bps_from_mid(self, obj):
        card = self._card(obj)
        return _bps(card.mean_bps_from_mid if card else None)

    @admin.display(description="markout bps (n)")
    def sc_markout(self, obj):
        card = self._card(obj)
        if not card or card.markout_bps is None:
            return "—"
        return f"{_bps(card.markout_bps, signed=True)} ({card.executions})"

    @admin.display(description="score")
    def sc_score(self, obj):
        card = self._card(obj)
        return f"{provider_score(card)[0]:.1f}" if card else "—"

    @admin.display(description="scorecard")
    def scorecard(self, obj):
        card = self._card(obj) if obj and obj.pk else None
        if card is None:
            return "no history yet"
        score, reason = provider_score(card)
        return f"score {score:.1f}: {reason}"


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows rows and changes nothing (the RFQ's history is the audit trail's)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DisseminationInline(ReadOnlyInline):
    model = Dissemination
    fields = ("provider", "rank", "score", "reason", "reference", "sent_at", "responded_at", "response", "payload")


class QuoteInline(ReadOnlyInline):
    model = Quote
    fields = ("provider", "bid_price", "bid_size", "ask_price", "ask_size", "price", "size", "bps_from_mid",
              "mid_at_quote", "status", "status_reason", "received_at", "valid_until")


@admin.register(RFQ)
class RFQAdmin(ReadOnlyAdmin):
    list_display = ("id", "instrument", "side", "direction", "quantity", "status", "mode", "execute_at", "window_s",
                    "executed_quantity", "executed_price", "source", "round", "parent", "created_at")
    list_filter = ("status", "mode", "direction", "source")
    search_fields = ("instrument__symbol", "=id", "=parent__id")
    list_select_related = ("instrument", "parent")
    raw_id_fields = ("parent", "child", "executed_quote")
    inlines = (DisseminationInline, QuoteInline)


@admin.register(Dissemination)
class DisseminationAdmin(ReadOnlyAdmin):
    list_display = ("id", "rfq", "provider", "rank", "score", "response", "sent_at", "responded_at", "reason")
    list_filter = ("response", "provider")
    search_fields = ("reference", "=rfq__id")
    list_select_related = ("rfq", "provider")


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("id", "rfq", "provider", "price", "size", "bps_from_mid", "status", "received_at", "valid_until")
    list_filter = ("status", "provider")
    search_fields = ("=rfq__id",)
    list_select_related = ("rfq", "provider")
