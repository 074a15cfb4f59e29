"""Demo venues, seeded from the simulator's default profiles, and the first market prices."""


def seed_venues() -> None:
    from ems.services import venues_sync_from_sim

    venues_sync_from_sim()


def seed_market_prices() -> None:
    """Refresh the market prices once now, so the first order after start-up is checked against the market
    (beat refreshes them every 2 s from then on)."""
    from ems.tasks import market_prices_refresh

    market_prices_refresh()
