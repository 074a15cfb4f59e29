"""EMS writes, one module per verb family (re-exported here)."""

from ems.services.venues import venues_sync_from_sim

__all__ = ["venues_sync_from_sim"]
