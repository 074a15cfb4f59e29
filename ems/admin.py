from django.contrib import admin

from ems.models import Allocation, ChildOrder, Fill, InstrumentDay, InternalCross, ParentOrder, Venue
from oms.admin import ReadOnlyAdmin


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "status", "maker_fee", "taker_fee", "latency_us", "depth_factor", "market_share", "fill_probability", "min_size")
    list_filter = ("kind", "status")
    list_editable = ("status",)


# Execution records are written only by the EMS services (each with its audit event): read-only here.


@admin.register(ParentOrder)
class ParentOrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "instrument", "side", "quantity", "filled_quantity", "avg_price", "strategy", "status", "control", "created_at")
    list_filter = ("status", "control", "strategy", "side")
    search_fields = ("instrument__symbol",)
    list_select_related = ("instrument",)


@admin.register(ChildOrder)
class ChildOrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "parent", "venue", "side", "order_type", "price", "quantity", "filled_quantity", "status", "kind")
    list_filter = ("status", "venue", "kind")
    search_fields = ("client_order_id", "venue_order_id")
    list_select_related = ("parent", "venue")


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ("exec_id", "instrument", "parent", "venue", "side", "quantity", "price", "liquidity", "fee", "executed_at")
    list_filter = ("liquidity", "venue")
    search_fields = ("exec_id",)
    list_select_related = ("instrument", "venue")


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ("id", "fill", "order", "quantity", "price", "created_at")
    list_select_related = ("fill", "order")


@admin.register(InternalCross)
class InternalCrossAdmin(ReadOnlyAdmin):
    list_display = ("id", "instrument", "quantity", "price", "created_at")


@admin.register(InstrumentDay)
class InstrumentDayAdmin(ReadOnlyAdmin):
    """Which worker owns each instrument-day's live market, until when, and how often it was taken over."""

    list_display = ("instrument", "market_day", "owner", "lease_until", "version", "takeovers", "updated_at")
    list_filter = ("market_day", "owner")
    search_fields = ("instrument__symbol", "owner")
    list_select_related = ("instrument",)
    exclude = ("sim_state",)  # the simulator's JSON: large, and nothing a person reads
