from datetime import date, datetime

import pytest

from ems.sim.clock import (
    SESSION_US,
    US,
    LiveClock,
    MarketTime,
    VirtualClock,
    format_clock,
    market_datetime,
    session_date,
)


def test_virtual_clock_moves_forward_only():
    clock = VirtualClock(day=3, t_us=10)
    clock.advance_to(1_000)
    assert clock.now() == 1_000 and clock.day == 3
    assert clock.market_time() == MarketTime(3, 1_000)
    with pytest.raises(ValueError):
        clock.advance_to(999)


class FakeWall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_live_clock_maps_wall_time_at_speed():
    wall = FakeWall(1_000.0)
    clock = LiveClock(speed=60.0, anchor_wall=1_000.0, wall_clock=wall)
    assert clock.market_time() == MarketTime(0, 0)
    wall.t = 1_001.5  # 1.5 wall seconds = 90 market seconds
    assert clock.now() == 90 * US and clock.day == 0


def test_live_clock_rolls_to_next_day_at_the_close():
    wall = FakeWall(0.0)
    clock = LiveClock(speed=60.0, anchor_wall=0.0, wall_clock=wall)
    wall.t = 23_400 / 60  # one whole session of market time
    assert clock.market_time() == MarketTime(1, 0)
    wall.t += 10
    assert clock.market_time() == MarketTime(1, 600 * US)


def test_live_clock_wall_time_inverts_market_time():
    clock = LiveClock(speed=120.0, anchor_wall=5_000.0, anchor_day=2, anchor_t_us=60 * US)
    for day, t in [(2, 60 * US), (2, SESSION_US - 1), (7, 123_456_789)]:
        w = clock.wall_time(day, t)
        got = clock.market_time(w)
        assert got.day == day and abs(got.t_us - t) <= 1
    assert clock.wall_seconds(120 * US) == pytest.approx(1.0)
    assert clock.market_us(1.0) == 120 * US


def test_live_clock_before_anchor_reads_anchor():
    clock = LiveClock(speed=60.0, anchor_wall=100.0, anchor_day=1)
    assert clock.market_time(50.0) == MarketTime(1, 0)


def test_live_clock_needs_positive_speed():
    with pytest.raises(ValueError):
        LiveClock(speed=0, anchor_wall=0.0)


def test_format_clock_and_calendar():
    assert format_clock(0) == "09:30:00.000000"
    assert format_clock(SESSION_US) == "16:00:00.000000"
    assert format_clock(90 * US + 250_000) == "09:31:30.250000"
    # 2026-01-02 is a Friday: trading day 1 is the next Monday.
    assert session_date(0, date(2026, 1, 2)) == date(2026, 1, 2)
    assert session_date(1, date(2026, 1, 2)) == date(2026, 1, 5)
    assert session_date(5, date(2026, 1, 2)) == date(2026, 1, 9)
    assert market_datetime(MarketTime(1, 30 * 60 * US), date(2026, 1, 2)) == datetime(2026, 1, 5, 10, 0)
