from django.contrib import admin

from ems.models import Venue


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "status", "maker_fee", "taker_fee", "latency_us", "depth_factor", "market_share", "fill_probability", "min_size")
    list_filter = ("kind", "status")
    list_editable = ("status",)
