"""Venue writes: the simulator's default venues as rows (their profiles are read by ``ems.selectors.venue_profiles``)."""

from __future__ import annotations

from django.db import transaction

from ems.models import Venue
from ems.sim.venues import DEFAULT_VENUES

_PROFILE_FIELDS = ("maker_fee", "taker_fee", "latency_us", "depth_factor", "market_share", "fill_probability", "min_size", "mid_fee")


@transaction.atomic
def venues_sync_from_sim() -> list[Venue]:
    """Create the simulator's default venues that are missing; leave admin edits of existing ones alone."""
    out = []
    for p in DEFAULT_VENUES:
        venue, _ = Venue.objects.get_or_create(
            code=p.code,
            defaults={"name": p.name, "kind": p.kind, **{f: getattr(p, f) for f in _PROFILE_FIELDS}},
        )
        out.append(venue)
    return out
