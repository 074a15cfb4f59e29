"""The live market of an instrument-day, kept in the memory of the worker process that owns it.

:class:`LiveMarket` is the seeded market with our footprint and the one venue simulator every parent on the
instrument-day trades against. The owner builds it once from the database (:func:`live_market_for`: the
``InstrumentDay`` row's simulator state and every lit and dark fill of ours on the day, through
:func:`ems.selectors.instrument_day_market`, the recipe TCA uses too) and then only advances it: a tick
applies what is new and leaves the cost of the next tick independent of how many fills the day holds.

The copy in memory is good while its ``version`` is the row's: a tick that commits moves both on
(:func:`live_market_committed`), a tick that rolls back drops the copy (:func:`live_market_discard`), and a
process that finds the row moved on without it (another worker ticked it meanwhile) rebuilds. So routing
only decides speed; correctness never depends on a tick reaching the owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.models import InstrumentDay
from ems.selectors import instrument_day_market
from ems.sim.exchange import VenueSimulator
from ems.sim.market import Market

ID_PREFIX = ""  # venue order ids are <venue>-<symbol>-<day>-<n>: one counter per instrument-day


@dataclass
class LiveMarket:
    """One instrument-day's market and venue simulator, as of the row's ``version``."""

    instrument_id: int
    day: int
    version: int
    market: Market
    sim: VenueSimulator
    rebuilt: bool = False  # built from the database for this tick (a takeover, a restart, a first tick)


_LIVE: dict[tuple[int, int], LiveMarket] = {}


def live_market_for(row: InstrumentDay, *, start_us: int) -> LiveMarket:
    """The in-memory market of ``row`` (locked by the caller), rebuilt from the database when this process has
    none at the row's version. A new instrument-day's simulator starts at ``start_us``."""
    key = (row.instrument_id, row.market_day)
    live = _LIVE.get(key)
    if live is not None and live.version == row.version:
        live.rebuilt = False
        return live
    state = row.sim_state or None
    if state:
        market = instrument_day_market(row.instrument, row.market_day, until_us=int(state["time"]),
                                       extra_fills=VenueSimulator.state_fills(state))
        sim = VenueSimulator.from_state(market, state, id_prefix=ID_PREFIX)
    else:
        market = instrument_day_market(row.instrument, row.market_day, until_us=start_us)
        sim = VenueSimulator(market, id_prefix=ID_PREFIX)
        sim.advance(start_us)
    live = LiveMarket(row.instrument_id, row.market_day, row.version, market, sim, rebuilt=True)
    _LIVE[key] = live
    return live


def live_market_committed(live: LiveMarket, version: int) -> None:
    """The tick that advanced ``live`` committed as ``version``: keep the copy for the next tick."""
    live.version = version
    _LIVE[(live.instrument_id, live.day)] = live


def live_market_discard(instrument_id: int, day: int) -> None:
    """Forget the copy of an instrument-day (its tick rolled back: memory is ahead of the database)."""
    _LIVE.pop((instrument_id, day), None)


def live_markets_held() -> list[tuple[int, int]]:
    """The instrument-days this process holds in memory (for the operations page and tests)."""
    return sorted(_LIVE)


__all__ = ["LiveMarket", "live_market_committed", "live_market_discard", "live_market_for", "live_markets_held"]
