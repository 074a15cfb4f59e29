"""Demo venues, seeded from the simulator's default profiles."""


def seed_venues() -> None:
    from ems.services import venues_sync_from_sim

    venues_sync_from_sim()
