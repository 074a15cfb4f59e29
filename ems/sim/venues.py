"""Venue profiles: what makes one simulated venue differ from another (fees, latency, depth, dark fill odds).

The matching behaviour lives in :mod:`ems.sim.exchange`; a profile is plain data, hashable so a market
day can be cached per venue set.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.sim.orders import Liquidity

LIT = "lit"
DARK = "dark"


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """A simulated lit exchange or dark pool.

    Fees are currency per share, positive = we pay, negative = rebate. A maker-taker venue pays a maker
    rebate and charges takers; an inverted venue charges makers and pays takers.
    """

    code: str  # MIC-style code
    name: str
    kind: str  # LIT | DARK
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    latency_us: int = 500  # one way: order -> matching engine, and report -> us
    depth_factor: float = 1.0  # lit: scales displayed size at every level
    market_share: float = 0.0  # lit: share of the tape's prints; dark: share of ADV offered as hidden contra
    fill_probability: float = 0.0  # dark: chance that hidden contra interest shows up in a given second
    min_size: int = 0  # dark: smallest order accepted (smaller ones are REJECTED); contra is never smaller
    mid_fee: float = 0.0  # dark: fee per share on a midpoint fill
    refill_half_life_s: float = 2.0  # lit: displayed depth we took comes back with this half-life
    leakage: float = 1.0  # weight of our fills here in the impact model (dark pools leak less)

    def __post_init__(self) -> None:
        if self.kind not in (LIT, DARK):
            raise ValueError(f"venue kind must be {LIT!r} or {DARK!r}, got {self.kind!r}")
        if self.kind == DARK and not 0.0 <= self.fill_probability <= 1.0:
            raise ValueError("fill_probability must be in [0, 1]")

    @property
    def is_lit(self) -> bool:
        return self.kind == LIT

    def fee_per_share(self, liquidity: Liquidity) -> float:
        if liquidity is Liquidity.MAKER:
            return self.maker_fee
        if liquidity is Liquidity.TAKER:
            return self.taker_fee
        return self.mid_fee

    def fee(self, liquidity: Liquidity, qty: int) -> float:
        """Return the fee for a fill of ``qty`` shares (negative = rebate to us)."""
        return round(self.fee_per_share(liquidity) * qty, 6)


def _lit(code: str, name: str, maker: float, taker: float, latency_us: int, depth: float, share: float, **more) -> VenueProfile:
    return VenueProfile(code, name, LIT, maker, taker, latency_us, depth, share, **more)


def _dark(
    code: str, name: str, fee: float, latency_us: int, share: float, p_fill: float, min_size: int, leakage: float
) -> VenueProfile:
    return VenueProfile(code, name, DARK, 0.0, 0.0, latency_us, 0.0, share, p_fill, min_size, fee, leakage=leakage)


# Fictional venues with MIC-style codes, shaped after US equity market structure: two maker-taker
# exchanges (rebate to makers, access fee under the Reg NMS cap of $0.0030 for takers), one inverted
# ("taker-maker") exchange where makers pay and takers earn a rebate, a block-oriented dark pool (rare but
# large contra, 2,000-share minimum) and a broker dark pool (frequent small contra). Lit market shares are
# of the lit tape; dark shares are of ADV and set how much hidden contra interest arrives.
DEFAULT_VENUES: tuple[VenueProfile, ...] = (
    # lit: code, name, maker fee, taker fee, latency µs, depth factor, share of lit prints
    _lit("XSMA", "Sim Exchange Alpha (maker-taker)", -0.0020, 0.0030, 350, 1.2, 0.45),
    _lit("XSMB", "Sim Exchange Beta (maker-taker, cheaper, slower)", -0.0012, 0.0020, 900, 0.9, 0.35),
    _lit("XSMI", "Sim Exchange Inverted (taker-maker)", 0.0015, -0.0010, 250, 0.5, 0.20, refill_half_life_s=4.0),
    # dark: code, name, midpoint fee, latency µs, share of ADV as contra, contra odds per second, min size, leakage
    _dark("DRKA", "Sim Dark Block Pool", 0.0010, 1_200, 0.04, 0.005, 2_000, 0.3),
    _dark("DRKB", "Sim Dark Broker Pool", 0.0008, 600, 0.06, 0.08, 100, 0.5),
)


def venue_map(venues: tuple[VenueProfile, ...]) -> dict[str, VenueProfile]:
    """Return ``{code: profile}``, refusing duplicate codes."""
    out = {v.code: v for v in venues}
    if len(out) != len(venues):
        raise ValueError("venue codes must be unique")
    return out
