"""What our own trading does to the simulated market: price impact and taken displayed depth.

Impact model (log-price, added to the seeded mid path: ``mid(t) = base_mid(t) * exp(I(t))``)::

    I(t)      = I_perm(t) + I_temp(t)
    I_perm(t) = gamma * sigma * sum_{t_i <= t} w_i q_i / ADV                  (Almgren-Chriss permanent, linear)
    E(t)      = sum_{t_i <= t} w_i q_i * 2 ** (-(t - t_i) / H)              (our decayed signed volume)
    x(t)      = |E(t)| / ADV
    I_temp(t) = eta * sigma * sign(E) * (sqrt(x + x0) - sqrt(x0))           (square-root law, linear below x0)

``q_i`` is the signed quantity of our fill i (buy > 0), ``w_i`` the venue's ``leakage`` (dark pools leak
less), ``sigma`` the daily volatility and ``H`` the half-life of the temporary part. A meta-order of Q
shares done quickly (well within H) moves the price by the square-root law ``eta sigma sqrt(Q / ADV)``
(Toth et al. 2011; Almgren-Chriss temporary impact with exponent 1/2); spread over a whole day part of it
decays as it goes. Calibration (defaults, eta = 2, H = 1 h, x0 = 5e-4, gamma = 0.3): buying 10% of ADV
evenly over one day peaks at about 0.8 sigma sqrt(0.1) and costs on average about 0.7 sigma sqrt(0.1)
temporary + gamma sigma 0.05 permanent + half the spread, i.e. on the order of sigma sqrt(0.1) (an
effective square-root prefactor Y ~ 0.8, inside the empirical 0.5-1). Below x0 (0.05% of ADV, 2,500
shares at 5M ADV) impact is linear, so a lone 100-share order moves the mid by a fraction of a basis
point rather than by the square root of something tiny. Permanent impact is linear in quantity (no
round-trip arbitrage, Huberman-Stanzl), gamma ~ 0.3 after Almgren et al. (2005). The state is rebuilt
from the list of our executions, so the market after our trading is a pure function of the seed and them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ems.sim.clock import US
from ems.sim.instrument import InstrumentParams
from ems.sim.orders import Fill, Liquidity, Side

if TYPE_CHECKING:
    from ems.sim.venues import VenueProfile

LN2 = math.log(2.0)
BID, ASK = 0, 1  # book sides


@dataclass(frozen=True, slots=True)
class ImpactParams:
    """Coefficients of the impact model above (dimensionless unless stated)."""

    eta: float = 2.0  # temporary (square-root) coefficient
    gamma: float = 0.3  # permanent coefficient (Almgren et al. 2005: 0.314)
    half_life_s: float = 3600.0  # temporary impact half-life, market seconds
    linear_below: float = 5e-4  # x0: decayed volume (fraction of ADV) below which impact is linear


DEFAULT_IMPACT = ImpactParams()


class ImpactState:
    """Our executions in time order and the log-price impact they leave; appended as fills happen."""

    __slots__ = ("_t", "_e", "_perm", "_decay", "_adv", "_k_perm", "_k_temp", "_x0", "_sqrt_x0", "_buf")

    def __init__(self, daily_vol: float, adv: float, params: ImpactParams = DEFAULT_IMPACT) -> None:
        self._t: list[int] = []
        self._e: list[float] = []  # E just after execution k
        self._perm: list[float] = []  # cumulative permanent log impact after execution k
        self._decay = LN2 / (params.half_life_s * US)  # per microsecond
        self._adv = float(adv)
        self._k_perm = params.gamma * daily_vol / adv
        self._k_temp = params.eta * daily_vol
        self._x0 = params.linear_below
        self._sqrt_x0 = math.sqrt(params.linear_below)
        # The same three series as arrays for vectorised reads, grown by doubling (amortised O(1) append).
        self._buf = (np.empty(64, np.int64), np.empty(64), np.empty(64))

    def __len__(self) -> int:
        return len(self._t)

    def add(self, t_us: int, signed_qty: float) -> None:
        """Record an execution of ``signed_qty`` (already leakage-weighted; buy > 0) at ``t_us``."""
        if self._t:
            if t_us < self._t[-1]:
                raise ValueError("executions must be recorded in time order")
            e = self._e[-1] * math.exp(-self._decay * (t_us - self._t[-1])) + signed_qty
            perm = self._perm[-1] + self._k_perm * signed_qty
        else:
            e, perm = float(signed_qty), self._k_perm * signed_qty
        n = len(self._t)
        if n == len(self._buf[0]):
            self._buf = tuple(np.concatenate([a, np.empty_like(a)]) for a in self._buf)
        self._buf[0][n], self._buf[1][n], self._buf[2][n] = t_us, e, perm
        self._t.append(int(t_us))
        self._e.append(e)
        self._perm.append(perm)

    def _temp(self, e: float) -> float:
        return math.copysign(self._k_temp * (math.sqrt(abs(e) / self._adv + self._x0) - self._sqrt_x0), e)

    def components(self, t_us: int) -> tuple[float, float]:
        """Return ``(permanent, temporary)`` log impact at ``t_us`` of the executions strictly before it.

        Strictly: a print at the instant of our fill is the one that filled us, at the price it had.
        """
        k = bisect_left(self._t, t_us) - 1
        if k < 0:
            return 0.0, 0.0
        e = self._e[k] * math.exp(-self._decay * (t_us - self._t[k]))
        return self._perm[k], self._temp(e)

    def at(self, t_us: int) -> float:
        """Return the total log impact ``I(t)`` at ``t_us``."""
        perm, temp = self.components(t_us)
        return perm + temp

    def at_many(self, t_us: np.ndarray) -> np.ndarray:
        """Return ``I(t)`` for an array of times (vectorised :meth:`at`)."""
        n = len(self._t)
        if not n:
            return np.zeros(len(t_us))
        ts, es, perms = (a[:n] for a in self._buf)
        k = np.searchsorted(ts, t_us, side="left") - 1
        valid = k >= 0
        kk = np.where(valid, k, 0)
        e = es[kk] * np.exp(-self._decay * (t_us - ts[kk]))
        temp = np.sign(e) * self._k_temp * (np.sqrt(np.abs(e) / self._adv + self._x0) - self._sqrt_x0)
        return np.where(valid, perms[kk] + temp, 0.0)


class Footprint:
    """Everything our trading left on one instrument-day: the impact state and the displayed depth we took.

    Taken depth is keyed by venue, book side and absolute price tick and comes back exponentially with the
    venue's ``refill_half_life_s`` (a simple replenishment model: other participants re-post what we
    took); it only affects what :meth:`ems.sim.market.Market.snapshot` displays, not the trade prints.
    """

    def __init__(
        self,
        params: InstrumentParams,
        venues: Sequence[VenueProfile],
        impact: ImpactParams = DEFAULT_IMPACT,
    ) -> None:
        self.impact = ImpactState(params.daily_vol, params.adv, impact)
        self._tick = params.tick_size
        self._venues = {v.code: v for v in venues}
        self._lit_index = {v.code: i for i, v in enumerate(v for v in venues if v.is_lit)}
        lit = [v for v in venues if v.is_lit]
        self._refill = [LN2 / (v.refill_half_life_s * US) for v in lit]
        # Takes older than 24 half-lives are below 1e-7 of their size: never looked at again.
        self._window = [int(24 * v.refill_half_life_s * US) for v in lit]
        # (lit venue index, side) -> ([t_us...], [price tick...], [qty...]) in time order
        self._taken: dict[tuple[int, int], tuple[list[int], list[int], list[int]]] = {}

    def record(self, t_us: int, venue: str, side: Side, qty: int, price: float, liquidity: Liquidity) -> None:
        """Record one of our fills."""
        profile = self._venues[venue]
        self.impact.add(t_us, Side(side).sign * qty * profile.leakage)
        if liquidity is Liquidity.TAKER and profile.is_lit:
            book_side = ASK if side is Side.BUY else BID
            key = (self._lit_index[venue], book_side)
            times, ticks, qtys = self._taken.setdefault(key, ([], [], []))
            times.append(t_us)
            ticks.append(round(price / self._tick))
            qtys.append(qty)

    def record_fill(self, fill: Fill) -> None:
        self.record(fill.time, fill.venue, fill.side, fill.qty, fill.price, fill.liquidity)

    def record_fills(self, fills: Iterable[Fill]) -> None:
        """Replay fills (e.g. loaded from a database) in time order."""
        for fill in sorted(fills, key=lambda f: f.time):
            self.record_fill(fill)

    def taken(self, lit_index: int, book_side: int, t_us: int) -> dict[int, float]:
        """Return ``{price tick: shares still missing}`` on one side of one lit venue's book at ``t_us``
        (takes at ``t_us`` itself included: a second order in the same microsecond finds them gone)."""
        taken = self._taken.get((lit_index, book_side))
        if not taken:
            return {}
        times, ticks, qtys = taken
        rate = self._refill[lit_index]
        out: dict[int, float] = {}
        for k in range(bisect_left(times, t_us - self._window[lit_index]), bisect_right(times, t_us)):
            out[ticks[k]] = out.get(ticks[k], 0.0) + qtys[k] * math.exp(-rate * (t_us - times[k]))
        return out


def walk_book(levels: Sequence[tuple[int, int]], qty: int, limit: int | None, side: Side) -> list[tuple[int, int]]:
    """Take displayed ``(price_tick, size)`` levels best first until ``qty`` is done or ``limit`` is passed.

    ``levels`` is the opposite side of the book (asks for a buy). Returns the ``(price_tick, qty)`` taken
    per level; a market order passes ``limit=None``.
    """
    out: list[tuple[int, int]] = []
    left = qty
    for price, size in levels:
        if left <= 0:
            break
        if limit is not None and (price > limit if side is Side.BUY else price < limit):
            break
        take = min(left, size)
        if take > 0:
            out.append((price, take))
            left -= take
    return out
