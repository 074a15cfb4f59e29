"""EMS writes and the bridge between the Venue reference data and the simulator's plain profiles."""

from __future__ import annotations

from django.db import transaction

from ems.models import Venue
from ems.sim.venues import DEFAULT_VENUES, VenueProfile

_PROFILE_FIELDS = ("maker_fee", "taker_fee", "latency_us", "depth_factor", "market_share", "fill_probability", "min_size", "mid_fee")


def venue_profile(venue: Venue) -> VenueProfile:
    """The simulator profile of a Venue row (fees and factors as floats, as ems.sim works in floats)."""
    defaults = next((p for p in DEFAULT_VENUES if p.code == venue.code), None)
    extra = {}
    if defaults is not None:  # knobs the admin does not edit keep the simulator's documented defaults
        extra = {"refill_half_life_s": defaults.refill_half_life_s, "leakage": defaults.leakage}
    return VenueProfile(
        code=venue.code, name=venue.name, kind=venue.kind,
        maker_fee=float(venue.maker_fee), taker_fee=float(venue.taker_fee), latency_us=venue.latency_us,
        depth_factor=float(venue.depth_factor), market_share=float(venue.market_share),
        fill_probability=float(venue.fill_probability), min_size=venue.min_size, mid_fee=float(venue.mid_fee),
        **extra,
    )


def venue_profiles(*, kinds: tuple[str, ...] = (Venue.Kind.LIT, Venue.Kind.DARK)) -> tuple[VenueProfile, ...]:
    """Profiles of the active simulated venues, in code order (the market model's venue set)."""
    return tuple(venue_profile(v) for v in Venue.objects.filter(status=Venue.Status.ACTIVE, kind__in=kinds).order_by("code"))


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
