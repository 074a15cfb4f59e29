"""Market time and the clocks that tell it.

Market time is a pair ``(day, t_us)``: the index of a simulated trading day and the integer number of
microseconds since that day's session open (09:30). The regular session is 09:30-16:00, so
``0 <= t_us <= SESSION_US`` (23,400 s). Every simulator object takes time as ``t_us`` within one ``day``;
clocks are injected, so a backtest runs on a :class:`VirtualClock` and the live app on a :class:`LiveClock`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import NamedTuple, Protocol

US = 1_000_000  # microseconds per second
SESSION_SECONDS = 23_400  # 09:30-16:00
SESSION_US = SESSION_SECONDS * US
SESSION_MINUTES = SESSION_SECONDS // 60
SESSION_OPEN_SECONDS = 9 * 3600 + 30 * 60  # 09:30 as seconds after midnight


class MarketTime(NamedTuple):
    """A point in simulated market time: trading-day index and microseconds since that day's open."""

    day: int
    t_us: int

    @property
    def absolute_us(self) -> int:
        """Microseconds of session time since day 0's open (days are back to back, no overnight)."""
        return self.day * SESSION_US + self.t_us

    @classmethod
    def from_absolute(cls, absolute_us: int) -> MarketTime:
        day, t_us = divmod(int(absolute_us), SESSION_US)
        return cls(day, t_us)

    def clock_str(self) -> str:
        return format_clock(self.t_us)

    def label(self, *, ms: bool = False) -> str:
        """Return what a person reads: ``'D3 14:55:13'`` (``ms``: ``'D3 14:55:13.250'``, as TCA shows fills)."""
        return f"D{self.day} {format_clock(self.t_us)[:12 if ms else 8]}"


def format_clock(t_us: int) -> str:
    """Return the wall-clock time of day of ``t_us`` after the open, e.g. ``'10:15:30.250000'``."""
    seconds, micros = divmod(SESSION_OPEN_SECONDS * US + int(t_us), US)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{micros:06d}"


def session_date(day: int, first_session: date) -> date:
    """Return the calendar date of trading-day ``day``, counting weekdays only from ``first_session``."""
    d = first_session
    while d.weekday() >= 5:
        d += timedelta(days=1)
    weeks, rest = divmod(day, 5)
    d += timedelta(weeks=weeks)
    while rest:
        d += timedelta(days=1)
        if d.weekday() < 5:
            rest -= 1
    return d


def market_datetime(mt: MarketTime, first_session: date) -> datetime:
    """Return the naive local (exchange time zone) datetime of a market time, for display and charts."""
    d = session_date(mt.day, first_session)
    return datetime(d.year, d.month, d.day) + timedelta(seconds=SESSION_OPEN_SECONDS, microseconds=mt.t_us)


class Clock(Protocol):
    """What simulator and algorithm code may ask of a clock."""

    def now(self) -> int:
        """Microseconds since the open of the current trading day."""

    @property
    def day(self) -> int:
        """Index of the current trading day."""

    def market_time(self) -> MarketTime:
        """``(day, now)`` read atomically (a live clock may roll to the next day between two calls)."""


class VirtualClock:
    """A clock moved only by its owner (the backtest event loop); time never goes backwards."""

    __slots__ = ("_day", "_t")

    def __init__(self, day: int = 0, t_us: int = 0) -> None:
        self._day = int(day)
        self._t = int(t_us)

    def now(self) -> int:
        return self._t

    @property
    def day(self) -> int:
        return self._day

    def market_time(self) -> MarketTime:
        return MarketTime(self._day, self._t)

    def advance_to(self, t_us: int) -> None:
        """Move to ``t_us`` of the current day; a move into the past is a bug in the caller."""
        if t_us < self._t:
            raise ValueError(f"virtual clock cannot go back from {self._t} to {t_us}")
        self._t = int(t_us)


class LiveClock:
    """Map wall time to market time at ``speed`` market seconds per wall second.

    ``anchor_wall`` (Unix seconds) is the wall instant at which market time was ``(anchor_day,
    anchor_t_us)``. Market time runs continuously across days: the 16:00 close of day *d* is the 09:30 open
    of day *d + 1*, so a demo never stops. Every process of a deployment must be given the same anchor and
    speed (from settings) to agree on the market; ``anchor_wall=None`` anchors at construction, which only
    suits a single-process demo or a test. Wall times before the anchor read as the anchor.
    """

    __slots__ = ("speed", "anchor_wall", "_anchor_abs", "_wall")

    def __init__(
        self,
        speed: float = 60.0,
        anchor_wall: float | None = None,
        *,
        anchor_day: int = 0,
        anchor_t_us: int = 0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self.anchor_wall = float(wall_clock() if anchor_wall is None else anchor_wall)
        self._anchor_abs = MarketTime(anchor_day, anchor_t_us).absolute_us
        self._wall = wall_clock

    def market_time(self, wall: float | None = None) -> MarketTime:
        """Return the market time at wall time ``wall`` (default: now)."""
        w = self._wall() if wall is None else wall
        elapsed_us = int((w - self.anchor_wall) * self.speed * US)
        return MarketTime.from_absolute(self._anchor_abs + max(elapsed_us, 0))

    def now(self) -> int:
        return self.market_time().t_us

    @property
    def day(self) -> int:
        return self.market_time().day

    def wall_time(self, day: int, t_us: int) -> float:
        """Return the wall time (Unix seconds) at which market time ``(day, t_us)`` occurs."""
        return self.anchor_wall + (MarketTime(day, t_us).absolute_us - self._anchor_abs) / (US * self.speed)

    def wall_seconds(self, market_us: int) -> float:
        """Return how many wall seconds a market duration takes (e.g. a Celery countdown)."""
        return market_us / (US * self.speed)

    def market_us(self, wall_seconds: float) -> int:
        """Return the market duration that passes in ``wall_seconds`` of wall time."""
        return int(wall_seconds * self.speed * US)
