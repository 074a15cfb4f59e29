"""EMS writes, one module per verb family (re-exported here)."""

from ems.services.venues import venue_profile, venue_profiles, venues_sync_from_sim

__all__ = ["venue_profile", "venue_profiles", "venues_sync_from_sim"]
