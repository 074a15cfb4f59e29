"""One clock on every page: what a person reads is market time, the wall time (UTC) is in its tooltip.

The rule: every time shown is simulated market time, ``D<day> HH:MM:SS`` (trading day and exchange clock,
as the market page, the strategies' end times and TCA read it), from the deployment's live clock
(``ems.selectors.live_clock``: SIM_ANCHOR / SIM_SPEED). The wall instant the database holds (UTC, to the
µs) is kept in the ``title``, for whoever needs to match a log line or a FIX message. A fill carries its
own transact time (``market_day`` / ``market_time_us``) and is shown from it exactly, so the order page
and TCA read the same figure; anything else is mapped from its wall time. A wall time from before the
clock's anchor (day 0's open) has no market time and reads as wall UTC.

    {% load market_clock %}
    {{ order.created_at|market_time }}      D3 14:55:13
    {{ fill|market_time:"ms" }}             D3 14:55:13.250 (a Fill, to the millisecond like TCA)
    {% market_clock %}                      the header clock, ticking in JS (static/js/market_clock.js)
"""

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

from ems.selectors import live_clock
from ems.sim import MarketTime

register = template.Library()


def _wall_label(wall: datetime) -> str:
    return wall.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


@register.filter
def market_time(value, precision: str = ""):
    """Render a wall datetime, or a Fill, as market time with its wall time (UTC) in the tooltip."""
    if value is None or value == "":
        return "—"
    if hasattr(value, "market_time_us"):  # a fill: its own transact time, exactly
        mt, wall = MarketTime(value.market_day, value.market_time_us), value.executed_at
    else:
        wall = value
        clock = live_clock()
        if wall.timestamp() < clock.anchor_wall:
            return format_html('<span class="mt mt-wall" title="before market day 0 (wall time)">{}</span>', _wall_label(wall)[:19] + " UTC")
        mt = clock.market_time(wall.timestamp())
    return format_html('<span class="mt" title="{} (wall)">{}</span>', _wall_label(wall), mt.label(ms=precision == "ms"))


@register.simple_tag
def market_clock():
    """The header's market clock: now, and the speed the page ticks it at (no polling)."""
    clock = live_clock()
    mt = clock.market_time()
    return format_html(
        '<span class="market-clock" id="market-clock" data-market-us="{}" data-speed="{}" '
        'title="Market time (simulated, {}× wall time): trading day and exchange clock; every time on these pages reads on it">'
        '<span class="lbl">Market</span> <span class="mono" id="market-clock-text">{}</span></span>',
        mt.absolute_us, clock.speed, f"{clock.speed:g}", mt.label(),
    )
