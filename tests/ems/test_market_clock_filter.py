"""The one home for how a time reads (ems/templatetags/market_clock.py): market time, wall UTC in the tooltip."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.template import Context, Template

from ems.sim import SESSION_US, US, MarketTime

ANCHOR = 1_700_000_000.0  # wall instant of day 0's 09:30 open


@pytest.fixture
def clock(settings):
    settings.SIM_ANCHOR, settings.SIM_SPEED = ANCHOR, 60.0


def render(text: str, **ctx) -> str:
    return Template("{% load market_clock %}" + text).render(Context(ctx))


def wall_of(day: int, t_us: int) -> datetime:
    return datetime.fromtimestamp(ANCHOR + (day * SESSION_US + t_us) / (60.0 * US), UTC)


def test_a_wall_time_reads_as_market_day_and_clock_with_the_wall_time_in_its_title(clock):
    wall = wall_of(3, (5 * 3600 + 25 * 60 + 13) * US + 400_000)  # 14:55:13.4 on day 3
    html = render("{{ t|market_time }}", t=wall)
    assert ">D3 14:55:13<" in html
    assert f'title="{wall.strftime("%Y-%m-%d %H:%M:%S.%f")} UTC (wall)"' in html


def test_a_fill_reads_its_own_transact_time_to_the_millisecond_as_tca_shows_it(clock):
    t_us = 2 * 3600 * US + 999_999  # 11:30:00.999999: a wall round trip could cross the millisecond
    fill = SimpleNamespace(market_day=7, market_time_us=t_us, executed_at=wall_of(7, t_us))
    assert ">D7 11:30:00.999<" in render('{{ f|market_time:"ms" }}', f=fill)
    assert MarketTime(7, t_us).label(ms=True) == "D7 11:30:00.999"


def test_no_time_reads_as_a_dash_and_a_time_before_day_0_reads_as_wall_utc(clock):
    assert render("{{ t|market_time }}", t=None) == "—"
    before = datetime.fromtimestamp(ANCHOR - 3600, UTC)
    html = render("{{ t|market_time }}", t=before)
    assert before.strftime("%Y-%m-%d %H:%M:%S UTC") in html and ">D" not in html


def test_the_header_clock_carries_the_market_time_and_speed_it_ticks_from(clock):
    html = render("{% market_clock %}")
    market_us = int(re.search(r'data-market-us="(\d+)"', html).group(1))
    day = market_us // SESSION_US
    assert 'data-speed="60.0"' in html and f">D{day} " in html


