"""Seeded market model of one instrument-day: mid path, volume curve, trade prints, quotes and depth.

Everything the model shows at market time ``t`` is a pure function of ``(seed, instrument, venue set,
day, t)`` plus our own executions (:class:`ems.sim.impact.Footprint`). Each component (mid path, prints,
one venue's spreads, one venue's depth, one dark pool's contra) is drawn from its own counter-seeded
stream (:func:`ems.sim.seeding.rng`) for the whole day at once with NumPy, lazily, and cached in-process
(:func:`market_day`, an LRU); a fresh process recomputes the identical arrays.

Model, per instrument-day (T = 23,400 s session, sigma = daily volatility):

* Day levels: ``x_d = log(open_d / reference_price)`` follows a mean-reverting AR(1) across days,
  ``x_{d+1} = phi x_d + sigma eps_d`` with a 60-day half-life (a demo that runs for months stays near the
  reference price); day *d* opens at ``exp(x_d)`` and closes at ``exp(x_{d+1})``, the next day's open.
* Mid path: per-second Gaussian log increments with sd ``sigma / sqrt(T)``, pinned to the day's open
  and close (a Brownian bridge, whose quadratic variation is that of the free walk: realised daily vol
  is sigma).
* Volume: expected volume per minute ``ADV * f_d * w_m`` with a U-shaped curve ``w`` (:func:`volume_curve`)
  and a day factor ``f_d`` (lognormal, mean 1); prints arrive as a Poisson process per minute with
  uniform times, sizes ``lot * (1 + floor(X + U))`` with X lognormal (randomised rounding keeps the mean
  size exact, so volume matches ADV on average); each print is buyer- or seller-initiated (more buys in
  seconds where the mid rose) and goes to a lit venue drawn by market share. A buy prints at that venue's
  ask, a sell at its bid.
* Quotes: each lit venue quotes ``bid = floor(mid (1 - h) / tick)``, ``ask = ceil(mid (1 + h) / tick)``
  ticks, ``h`` = half the instrument's spread (bps), wider after the open, with smooth per-venue noise.
  As ``h > 0``, every bid is below the mid and every ask above it: no venue and no consolidated book is
  ever crossed or locked, and the spread is at least one tick.
* Depth: ``N_LEVELS`` levels per side, one tick apart, sizes ``touch * depth_factor * profile[k]`` lots
  with smooth lognormal noise (the profile grows away from the touch).
* Dark pools: in each second, hidden contra interest is present with the venue's ``fill_probability``;
  side 50/50; size at least the venue's ``min_size``, mean ``max(2 min_size, share * ADV / (p T))``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ems.sim.clock import SESSION_MINUTES, SESSION_SECONDS, US
from ems.sim.impact import ASK, BID, DEFAULT_IMPACT, Footprint, ImpactParams
from ems.sim.instrument import InstrumentParams  # re-exported: ``from ems.sim.market import InstrumentParams`` keeps working
from ems.sim.orders import Fill
from ems.sim.seeding import rng
from ems.sim.venues import DEFAULT_VENUES, VenueProfile, venue_map

T = SESSION_SECONDS
N_LEVELS = 10
_LEVEL_PROFILE = np.array([1.0, 1.25, 1.5, 1.7, 1.85, 2.0, 2.1, 2.2, 2.3, 2.4])
_TOUCH_ADV_FRACTION = 2e-4  # displayed size at one venue's touch ~ 0.02% of ADV (x depth_factor)
_MAX_PRINTS_PER_DAY = 25_000  # expected prints/day cap: a larger ADV means larger prints
_PRINT_SIZE_SIGMA = 1.0  # lognormal shape of print sizes
_DAY_VOLUME_SIGMA = 0.2  # day-to-day volume variation (lognormal, mean 1)
_SPREAD_NOISE = 0.25
_DEPTH_NOISE = 0.35
_SMOOTH_SECONDS = 8  # moving-average window of spread / depth noise
_OPEN_SPREAD_BOOST, _OPEN_SPREAD_DECAY_S = 0.8, 900.0  # spreads are wider just after the open
_DAY_HALF_LIFE = 60  # days, mean reversion of the daily level to the reference price
_DAY_WINDOW = 2048  # AR(1) sum truncated here: phi**2048 ~ 5e-11
_DAY_BLOCK = 256


def volume_curve(minutes: int = SESSION_MINUTES) -> np.ndarray:
    """Return the intraday volume share of each minute (sums to 1): U-shaped, heaviest at the open."""
    x = (np.arange(minutes) + 0.5) / minutes
    w = 1.0 + 3.0 * np.exp(-x / 0.04) + 1.8 * np.exp(-(1.0 - x) / 0.05) + 0.6 * (2.0 * x - 1.0) ** 2
    return w / w.sum()


_CURVE = volume_curve()


def mean_print_lots(params: InstrumentParams) -> float:
    """Return the mean print size in lots (at least one lot; grows with ADV past the prints/day cap)."""
    return max(1.0, params.adv / (_MAX_PRINTS_PER_DAY * params.lot_size))


def _lognormal(g: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    return g.lognormal(math.log(mean) - 0.5 * sigma * sigma, sigma, n)


def _smooth_noise(g: np.random.Generator, rows: int, cols: int | None = None) -> np.ndarray:
    """Return unit-variance Gaussian noise of ``rows`` seconds, moving-averaged over a few seconds."""
    k = _SMOOTH_SECONDS
    z = g.standard_normal((rows + k - 1,) if cols is None else (rows + k - 1, cols))
    c = np.cumsum(z, axis=0)
    out = c[k - 1 :].copy()
    out[1:] -= c[: rows - 1]
    return out / math.sqrt(k)


def _read_only(a: np.ndarray) -> np.ndarray:
    # Day arrays are shared through the cache: a consumer writing into one would corrupt every user.
    a.setflags(write=False)
    return a


@lru_cache(maxsize=512)
def _daily_shocks(seed: int, symbol: str, block: int) -> np.ndarray:
    return _read_only(rng(seed, symbol, "daily", block).standard_normal(_DAY_BLOCK))


def day_level(seed: int, symbol: str, daily_vol: float, day: int) -> float:
    """Return ``x_d = log(open_d / reference_price)`` (AR(1) over days, truncated at ``_DAY_WINDOW`` terms)."""
    lo = max(0, day - _DAY_WINDOW)
    if day <= lo:
        return 0.0
    eps = np.concatenate([_daily_shocks(seed, symbol, b) for b in range(lo // _DAY_BLOCK, (day - 1) // _DAY_BLOCK + 1)])
    base = (lo // _DAY_BLOCK) * _DAY_BLOCK
    eps = eps[lo - base : day - base]
    phi = 0.5 ** (1.0 / _DAY_HALF_LIFE)
    weights = phi ** np.arange(day - lo - 1, -1, -1)  # phi^(d-1-k) for k = lo .. d-1
    return float(daily_vol * (weights @ eps))


class PrintArrays(NamedTuple):
    """Impact-free trade prints of a day, sorted by time (prices are computed on demand, with impact)."""

    t: np.ndarray  # int64 microseconds since the open
    venue: np.ndarray  # int8 index into MarketDay.lit
    size: np.ndarray  # int64 shares
    buy: np.ndarray  # bool: buyer-initiated (prints at the ask)


class ContraArrays(NamedTuple):
    """Hidden contra interest of one dark pool: present during second ``sec``, showing up at ``t`` for
    orders already resting."""

    sec: np.ndarray  # int64
    t: np.ndarray  # int64
    buy: np.ndarray  # bool: the contra is a buyer (so it matches our sells)
    size: np.ndarray  # int64 shares


class MarketDay:
    """The impact-free model of one instrument-day; each component is generated on first use."""

    def __init__(self, params: InstrumentParams, seed: int, day: int, venues: tuple[VenueProfile, ...]) -> None:
        self.params, self.seed, self.day, self.venues = params, int(seed), int(day), venues
        self.lit = tuple(v for v in venues if v.is_lit)
        self.dark = tuple(v for v in venues if not v.is_lit)
        if not self.lit:
            raise ValueError("the market needs at least one lit venue")
        self._mid: np.ndarray | None = None
        self._log_mid: np.ndarray | None = None
        self._prints: PrintArrays | None = None
        self._half: np.ndarray | None = None
        self._depth: list[np.ndarray | None] = [None] * len(self.lit)
        self._contra: list[ContraArrays | None] = [None] * len(self.dark)

    def _rng(self, *keys: str) -> np.random.Generator:
        return rng(self.seed, self.params.symbol, self.day, *keys)

    @property
    def log_mid(self) -> np.ndarray:
        """Log mid at each second boundary 0..T (index T is the close)."""
        if self._log_mid is None:
            p = self.params
            x0 = day_level(self.seed, p.symbol, p.daily_vol, self.day)
            x1 = day_level(self.seed, p.symbol, p.daily_vol, self.day + 1)
            w = np.zeros(T + 1)
            np.cumsum(self._rng("mid").standard_normal(T) * (p.daily_vol / math.sqrt(T)), out=w[1:])
            # Brownian bridge from the day's open level to its close level.
            w += np.arange(T + 1) / T * ((x1 - x0) - w[-1])
            self._log_mid = _read_only(math.log(p.reference_price) + x0 + w)
        return self._log_mid

    @property
    def mid(self) -> np.ndarray:
        """Impact-free mid at each second boundary 0..T."""
        if self._mid is None:
            self._mid = _read_only(np.exp(self.log_mid))
        return self._mid

    @property
    def prints(self) -> PrintArrays:
        if self._prints is None:
            self._prints = PrintArrays(*map(_read_only, self._make_prints()))
        return self._prints

    def _make_prints(self) -> PrintArrays:
        p = self.params
        g = self._rng("prints")
        day_factor = math.exp(_DAY_VOLUME_SIGMA * g.standard_normal() - 0.5 * _DAY_VOLUME_SIGMA**2)
        lots_mean = mean_print_lots(p)
        counts = g.poisson(p.adv * day_factor * _CURVE / (lots_mean * p.lot_size))
        n = int(counts.sum())
        t = np.repeat(np.arange(SESSION_MINUTES, dtype=np.int64) * (60 * US), counts)
        t += (g.random(n) * (60 * US)).astype(np.int64)
        t.sort()
        if lots_mean > 1.0:
            # E[floor(X + U)] = E[X] for U ~ U(0,1): the mean print is exactly lots_mean lots.
            lots = 1 + np.floor(_lognormal(g, lots_mean - 1.0, _PRINT_SIZE_SIGMA, n) + g.random(n)).astype(np.int64)
        else:
            lots = np.ones(n, np.int64)
        sec = t // US
        sigma_s = p.daily_vol / math.sqrt(T)
        drift = (self.log_mid[sec + 1] - self.log_mid[sec]) / sigma_s
        buy = g.random(n) < 0.5 + 0.3 * np.tanh(drift)
        shares = np.cumsum([v.market_share for v in self.lit])
        if shares[-1] <= 0:
            shares = np.arange(1, len(self.lit) + 1, dtype=float)
        venue = np.searchsorted(shares, g.random(n) * shares[-1], side="right").astype(np.int8)
        return PrintArrays(t, np.minimum(venue, len(self.lit) - 1), lots * p.lot_size, buy)

    @property
    def half(self) -> np.ndarray:
        """Relative half-spread per lit venue and second, shape ``(n_lit, T + 1)``."""
        if self._half is None:
            secs = np.arange(T + 1)
            shape = 1.0 + _OPEN_SPREAD_BOOST * np.exp(-secs / _OPEN_SPREAD_DECAY_S)
            base = 0.5e-4 * self.params.spread_bps * shape
            rows = []
            for v in self.lit:
                z = _smooth_noise(self._rng("spread", v.code), T + 1)
                rows.append(base * np.exp(_SPREAD_NOISE * z - 0.5 * _SPREAD_NOISE**2))
            self._half = _read_only(np.vstack(rows))
        return self._half

    def depth(self, i: int) -> np.ndarray:
        """Displayed lots of lit venue ``i``, shape ``(T + 1, 2, N_LEVELS)`` (side BID/ASK, level from the touch)."""
        out = self._depth[i]
        if out is None:
            p, v = self.params, self.lit[i]
            touch = max(1.0, p.adv * _TOUCH_ADV_FRACTION / p.lot_size) * v.depth_factor
            z = _smooth_noise(self._rng("depth", v.code), T + 1, 2 * N_LEVELS)
            lots = np.tile(touch * _LEVEL_PROFILE, 2) * np.exp(_DEPTH_NOISE * z - 0.5 * _DEPTH_NOISE**2)
            out = np.clip(np.rint(lots), 1, 65_535).astype(np.uint16).reshape(T + 1, 2, N_LEVELS)
            self._depth[i] = out = _read_only(out)
        return out

    def contra(self, j: int) -> ContraArrays:
        """Hidden contra interest of dark venue ``j``."""
        out = self._contra[j]
        if out is None:
            p, v = self.params, self.dark[j]
            g = self._rng("dark", v.code)
            sec = np.flatnonzero(g.random(T) < v.fill_probability).astype(np.int64)
            m = len(sec)
            t = sec * US + g.integers(0, US, m)
            buy = g.random(m) < 0.5
            floor_size = max(v.min_size, p.lot_size)
            mean = max(2.0 * floor_size, v.market_share * p.adv / max(v.fill_probability * T, 1e-9))
            extra = np.floor(_lognormal(g, (mean - floor_size) / p.lot_size, 0.8, m) + g.random(m))
            out = ContraArrays(sec, t, buy, floor_size + p.lot_size * extra.astype(np.int64))
            self._contra[j] = out = ContraArrays(*map(_read_only, out))
        return out

    def generate_all(self) -> None:
        """Generate every component now (benchmarks; a warm cache before a backtest)."""
        _ = self.prints, self.half
        for i in range(len(self.lit)):
            self.depth(i)
        for j in range(len(self.dark)):
            self.contra(j)

    def book_updates(self) -> int:
        """Count (lit venue, second) pairs at which the displayed ladder (prices or sizes) changed."""
        tick = self.params.tick_size
        total = 0
        for i in range(len(self.lit)):
            bid = np.floor(self.mid * (1 - self.half[i]) / tick)
            ask = np.ceil(self.mid * (1 + self.half[i]) / tick)
            d = self.depth(i)
            changed = (bid[1:] != bid[:-1]) | (ask[1:] != ask[:-1]) | np.any(d[1:] != d[:-1], axis=(1, 2))
            total += int(changed.sum())
        return total


@lru_cache(maxsize=32)
def market_day(params: InstrumentParams, seed: int, day: int, venues: tuple[VenueProfile, ...]) -> MarketDay:
    """Return the (cached) impact-free model of one instrument-day.

    A fully generated day holds about 4 MB (3 lit venues); the cache keeps the 32 most recently used
    instrument-days of this process (``market_day.cache_clear()`` empties it).
    """
    return MarketDay(params, seed, day, venues)


class Level(NamedTuple):
    price: float
    size: int


@dataclass(frozen=True, slots=True)
class Book:
    """One lit venue's displayed ladder at ``t_us``: best price first on each side."""

    venue: str
    t_us: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def best_bid(self) -> Level | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level | None:
        return self.asks[0] if self.asks else None


@dataclass(frozen=True, slots=True)
class BBO:
    """Consolidated best bid and offer across lit venues (sizes summed over venues at the best price)."""

    t_us: int
    bid: float
    bid_size: int
    ask: float
    ask_size: int
    bid_venues: tuple[str, ...]
    ask_venues: tuple[str, ...]

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    @property
    def spread(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class Prints:
    """Market trade prints in a time interval (arrays aligned by index). ``side`` is +1 buyer-initiated."""

    time: np.ndarray
    venue: np.ndarray  # index into ``venues``
    price: np.ndarray
    size: np.ndarray
    side: np.ndarray
    venues: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.time)

    def records(self) -> list[dict]:
        """Return one dict per print (JSON-ready: time in µs, venue code, price, size, side)."""
        codes = self.venues
        return [
            {"time": int(t), "venue": codes[v], "price": float(px), "size": int(sz), "side": "buy" if s > 0 else "sell"}
            for t, v, px, sz, s in zip(self.time, self.venue, self.price, self.size, self.side, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class Quotes:
    """Top of book at each whole second in an interval (consolidated, or one venue's)."""

    time: np.ndarray
    bid: np.ndarray
    bid_size: np.ndarray
    ask: np.ndarray
    ask_size: np.ndarray

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, slots=True)
class Tape:
    prints: Prints
    quotes: Quotes


@dataclass(frozen=True, slots=True)
class Bars:
    """OHLCV bars from market prints; a bar without prints carries the previous close and volume 0."""

    time: np.ndarray  # bar start, µs
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    vwap: np.ndarray


def _sec(t_us: int) -> int:
    return min(max(int(t_us), 0) // US, T)


class Market:
    """The simulated market of one instrument-day as we see it: the seeded model plus our footprint.

    Times are microseconds since the open of ``day`` (``0 <= t <= SESSION_US``; outside, the nearest
    session second is used). Our fills are added through :attr:`footprint` (the venue simulator does it);
    ``fills`` replays fills loaded from elsewhere, e.g. a database.
    """

    def __init__(
        self,
        params: InstrumentParams,
        *,
        seed: int = 0,
        day: int = 0,
        venues: tuple[VenueProfile, ...] = DEFAULT_VENUES,
        impact: ImpactParams = DEFAULT_IMPACT,
        fills: Iterable[Fill] = (),
    ) -> None:
        self.params, self.seed, self.day = params, int(seed), int(day)
        self.venues = tuple(venues)
        self.venue_by_code = venue_map(self.venues)
        self.impact_params = impact
        self.lit_codes = tuple(v.code for v in self.venues if v.is_lit)
        self.lit_index = {code: i for i, code in enumerate(self.lit_codes)}
        self.footprint = Footprint(params, self.venues, impact)
        self.footprint.record_fills(fills)
        self._data: MarketDay | None = None
        self._decimals = params.price_decimals

    def __getstate__(self) -> dict:
        # The day's arrays are recomputable from the seed: never pickle them.
        return {**self.__dict__, "_data": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def data(self) -> MarketDay:
        if self._data is None:
            self._data = market_day(self.params, self.seed, self.day, self.venues)
        return self._data

    # --- prices -----------------------------------------------------------------------------------
    def price(self, ticks: int) -> float:
        """Return the price of a tick count, rounded to the tick's decimals (no float dust)."""
        return round(ticks * self.params.tick_size, self._decimals)

    def ticks(self, price: float) -> int:
        return round(price / self.params.tick_size)

    def on_tick_grid(self, price: float) -> bool:
        return abs(price / self.params.tick_size - round(price / self.params.tick_size)) < 1e-6

    def mid(self, t_us: int) -> float:
        """Return the model mid at ``t_us``: seeded path times ``exp(our impact)``."""
        return float(self.data.mid[_sec(t_us)]) * math.exp(self.footprint.impact.at(t_us))

    def mids(self, t_us: np.ndarray) -> np.ndarray:
        t_us = np.asarray(t_us, np.int64)
        s = np.clip(t_us // US, 0, T)
        return self.data.mid[s] * np.exp(self.footprint.impact.at_many(t_us))

    def mid_series(self, t0: int, t1: int, step_us: int = US) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(times, mids)`` sampled every ``step_us`` in ``[t0, t1)`` (a price chart)."""
        times = np.arange(int(t0), int(t1), int(step_us), dtype=np.int64)
        return times, self.mids(times)

    # --- books --------------------------------------------------------------------------------------
    def ladder_ticks(self, i: int, t_us: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return lit venue ``i``'s displayed ``(price tick, shares)`` bids and asks, best first."""
        d = self.data
        s = _sec(t_us)
        m = float(d.mid[s]) * math.exp(self.footprint.impact.at(t_us))
        h = float(d.half[i, s])
        tick, lot = self.params.tick_size, self.params.lot_size
        bid0 = math.floor(m * (1.0 - h) / tick)
        ask0 = math.ceil(m * (1.0 + h) / tick)
        bid_lots, ask_lots = d.depth(i)[s].tolist()
        bids = [(bid0 - k, n * lot) for k, n in enumerate(bid_lots)]
        asks = [(ask0 + k, n * lot) for k, n in enumerate(ask_lots)]
        return self._net_of_taken(bids, i, BID, t_us), self._net_of_taken(asks, i, ASK, t_us)

    def _net_of_taken(self, levels: list[tuple[int, int]], i: int, side: int, t_us: int) -> list[tuple[int, int]]:
        taken = self.footprint.taken(i, side, t_us)
        if not taken:
            return levels
        out = []
        for price, size in levels:
            left = size - round(taken.get(price, 0.0))
            if left > 0:
                out.append((price, left))
        return out

    def snapshot(self, venue: str, t_us: int, depth: int = N_LEVELS) -> Book:
        """Return the displayed ladder of lit ``venue`` at ``t_us`` (up to ``depth`` levels per side)."""
        bids, asks = self.ladder_ticks(self.lit_index[venue], t_us)
        price = self.price
        return Book(
            venue,
            int(t_us),
            tuple(Level(price(p), n) for p, n in bids[:depth]),
            tuple(Level(price(p), n) for p, n in asks[:depth]),
        )

    def snapshots(self, t_us: int, depth: int = N_LEVELS) -> dict[str, Book]:
        """Return every lit venue's ladder at ``t_us``."""
        return {code: self.snapshot(code, t_us, depth) for code in self.lit_codes}

    def bbo(self, t_us: int) -> BBO:
        """Return the consolidated best bid and offer across lit venues at ``t_us``."""
        best_bid, best_ask = -1, 1 << 62
        bid_size = ask_size = 0
        bid_venues: list[str] = []
        ask_venues: list[str] = []
        for i, code in enumerate(self.lit_codes):
            bids, asks = self.ladder_ticks(i, t_us)
            if bids:
                p, n = bids[0]
                if p > best_bid:
                    best_bid, bid_size, bid_venues = p, n, [code]
                elif p == best_bid:
                    bid_size += n
                    bid_venues.append(code)
            if asks:
                p, n = asks[0]
                if p < best_ask:
                    best_ask, ask_size, ask_venues = p, n, [code]
                elif p == best_ask:
                    ask_size += n
                    ask_venues.append(code)
        # A side we emptied on every venue (a sweep of all displayed levels) reads as NaN until it refills.
        bid = self.price(best_bid) if bid_venues else math.nan
        ask = self.price(best_ask) if ask_venues else math.nan
        return BBO(int(t_us), bid, bid_size, ask, ask_size, tuple(bid_venues), tuple(ask_venues))

    # --- tape ---------------------------------------------------------------------------------------
    def print_range(self, t0: int, t1: int) -> tuple[int, int]:
        """Return the index range of the day's prints with ``t0 <= time < t1``."""
        t = self.data.prints.t
        return int(np.searchsorted(t, t0, "left")), int(np.searchsorted(t, t1, "left"))

    def print_ticks(self, lo: int, hi: int) -> np.ndarray:
        """Return the price ticks of prints ``lo:hi``: the venue's ask (buys) or bid (sells) at print time."""
        d = self.data
        pr = d.prints
        t = pr.t[lo:hi]
        s = t // US
        m = d.mid[s] * np.exp(self.footprint.impact.at_many(t))
        h = d.half[pr.venue[lo:hi], s]
        tick = self.params.tick_size
        return np.where(pr.buy[lo:hi], np.ceil(m * (1.0 + h) / tick), np.floor(m * (1.0 - h) / tick)).astype(np.int64)

    def prints(self, t0: int, t1: int) -> Prints:
        """Return the market's trade prints in ``[t0, t1)`` (other participants; our fills are not in it)."""
        lo, hi = self.print_range(t0, t1)
        pr = self.data.prints
        price = np.round(self.print_ticks(lo, hi) * self.params.tick_size, self._decimals)
        side = np.where(pr.buy[lo:hi], 1, -1).astype(np.int8)
        return Prints(pr.t[lo:hi], pr.venue[lo:hi], price, pr.size[lo:hi], side, self.lit_codes)

    def quotes(self, t0: int, t1: int, venue: str | None = None) -> Quotes:
        """Return the top of book at each whole second in ``[t0, t1)``, consolidated or for one ``venue``.

        Quotes include our impact but not the few seconds of depth we took (see :meth:`snapshot`).
        """
        d = self.data
        secs = np.arange(-(-max(int(t0), 0) // US), min(-(-int(t1) // US), T + 1), dtype=np.int64)
        m = d.mid[secs] * np.exp(self.footprint.impact.at_many(secs * US))
        tick, lot = self.params.tick_size, self.params.lot_size
        venues = range(len(self.lit_codes)) if venue is None else [self.lit_index[venue]]
        bid = np.full(len(secs), -1, np.int64)
        ask = np.full(len(secs), 1 << 62, np.int64)
        bid_size = np.zeros(len(secs), np.int64)
        ask_size = np.zeros(len(secs), np.int64)
        for i in venues:
            depth = d.depth(i)[secs]
            vb = np.floor(m * (1.0 - d.half[i, secs]) / tick).astype(np.int64)
            va = np.ceil(m * (1.0 + d.half[i, secs]) / tick).astype(np.int64)
            vbs = depth[:, BID, 0].astype(np.int64) * lot
            vas = depth[:, ASK, 0].astype(np.int64) * lot
            bid_size = np.where(vb > bid, vbs, np.where(vb == bid, bid_size + vbs, bid_size))
            ask_size = np.where(va < ask, vas, np.where(va == ask, ask_size + vas, ask_size))
            bid = np.maximum(bid, vb)
            ask = np.minimum(ask, va)
        dec = self._decimals
        return Quotes(secs * US, np.round(bid * tick, dec), bid_size, np.round(ask * tick, dec), ask_size)

    def tape(self, t0: int, t1: int) -> Tape:
        """Return trades and consolidated quotes in ``[t0, t1)``."""
        return Tape(self.prints(t0, t1), self.quotes(t0, t1))

    def volume(self, t0: int, t1: int) -> int:
        lo, hi = self.print_range(t0, t1)
        return int(self.data.prints.size[lo:hi].sum())

    def vwap(self, t0: int, t1: int) -> float | None:
        """Return the market's volume-weighted average print price in ``[t0, t1)`` (None: no prints)."""
        p = self.prints(t0, t1)
        vol = int(p.size.sum())
        return float(p.price @ p.size) / vol if vol else None

    def twap(self, t0: int, t1: int) -> float:
        """Return the time-weighted average mid over ``[t0, t1)``: the mean of the mid at each whole second
        in the interval (the mid at ``t0`` if the interval holds no whole second)."""
        times = np.arange(-(-int(t0) // US) * US, int(t1), US, dtype=np.int64)
        return float(self.mids(times).mean()) if len(times) else self.mid(t0)

    def bars(self, t0: int, t1: int, bar_us: int = 60 * US) -> Bars:
        """Return OHLCV bars of ``bar_us`` from ``t0`` up to ``t1`` (a candlestick chart)."""
        p = self.prints(t0, t1)
        starts = np.arange(int(t0), int(t1), int(bar_us), dtype=np.int64)
        n = len(starts)
        bounds = np.searchsorted(p.time, np.append(starts, int(t1)))
        volume = np.add.reduceat(np.append(p.size, 0), bounds[:-1])[:n] * (bounds[1:] > bounds[:-1])
        notional = np.add.reduceat(np.append(p.price * p.size, 0.0), bounds[:-1])[:n] * (bounds[1:] > bounds[:-1])
        close = np.empty(n)
        open_, high, low = np.empty(n), np.empty(n), np.empty(n)
        last = self.mid(t0)
        for k in range(n):
            a, b = bounds[k], bounds[k + 1]
            if b > a:
                seg = p.price[a:b]
                open_[k], high[k], low[k], close[k] = seg[0], seg.max(), seg.min(), seg[-1]
                last = close[k]
            else:
                open_[k] = high[k] = low[k] = close[k] = last
        vwap = np.divide(notional, volume, out=close.copy(), where=volume > 0)
        return Bars(starts, open_, high, low, close, volume, vwap)
