"""Venue reference data and the live market view the market-data page and its websocket serve."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.urls import re_path

from ems.models import Venue
from ems.selectors import live_clock, market_view, venue_profile, venue_profiles
from ems.services import venues_sync_from_sim
from ems.sim import DEFAULT_VENUES, N_LEVELS


def test_venue_sync_seeds_every_default_venue_once_and_keeps_admin_edits(venues):
    assert sorted(v.code for v in venues) == sorted(p.code for p in DEFAULT_VENUES)
    Venue.objects.filter(code="XSMA").update(taker_fee="0.0025")

    venues_sync_from_sim()

    assert Venue.objects.count() == len(DEFAULT_VENUES)
    assert venue_profile(Venue.objects.get(code="XSMA")).taker_fee == 0.0025


def test_venue_profiles_follow_the_rows_and_skip_halted_venues(venues):
    Venue.objects.filter(code="DRKA").update(status=Venue.Status.HALTED)
    codes = [p.code for p in venue_profiles()]
    assert "DRKA" not in codes
    assert {"XSMA", "XSMB", "XSMI", "DRKB"} <= set(codes)
    inverted = next(p for p in venue_profiles() if p.code == "XSMI")
    assert inverted.maker_fee > 0 > inverted.taker_fee


def test_market_view_has_uncrossed_ladders_per_lit_venue_and_a_consistent_bbo(venues, instrument):
    view = market_view(instrument, wall=live_clock().wall_time(3, 3_600_000_000))

    assert [v["code"] for v in view["venues"]] == ["XSMA", "XSMB", "XSMI"]
    for v in view["venues"]:
        assert len(v["bids"]) >= 5 and len(v["asks"]) >= 5
        assert v["bids"][0][0] < v["asks"][0][0]
        assert [p for p, _ in v["bids"]] == sorted((p for p, _ in v["bids"]), reverse=True)
        assert [p for p, _ in v["asks"]] == sorted(p for p, _ in v["asks"])
    bbo = view["bbo"]
    assert bbo["bid"] == max(v["bids"][0][0] for v in view["venues"])
    assert bbo["ask"] == min(v["asks"][0][0] for v in view["venues"])
    assert bbo["bid"] < bbo["ask"]
    assert view["clock"] == "10:30:00" and view["day"] == 3
    assert view["prints"] and all(p["size"] > 0 for p in view["prints"])
    assert len(view["chart"]["t"]) == len(view["chart"]["mid"]) > 100


def test_market_view_is_the_same_for_the_same_market_time_and_moves_with_it(venues, instrument):
    clock = live_clock()
    at = clock.wall_time(2, 5_000_000_000)
    assert market_view(instrument, wall=at) == market_view(instrument, wall=at)
    later = market_view(instrument, wall=at + 5)  # 5 s of wall time = 5 min of market time at 60x
    assert later["t_us"] > market_view(instrument, wall=at)["t_us"]
    assert later["venues"] != market_view(instrument, wall=at)["venues"]


def _communicator(user, symbol):
    from channels.routing import URLRouter

    from ems.consumers import MarketDataConsumer

    app = URLRouter([re_path(r"^ws/market/(?P<symbol>[^/]+)/$", MarketDataConsumer.as_asgi())])
    comm = WebsocketCommunicator(app, f"/ws/market/{symbol}/")
    comm.scope["user"] = user
    return comm


@pytest.mark.django_db(transaction=True)
def test_market_websocket_pushes_views_and_refuses_anonymous_and_unknown_symbols(pm, instrument):
    venues_sync_from_sim()

    async def scenario():
        comm = _communicator(pm, instrument.symbol)
        connected, _ = await comm.connect()
        assert connected
        first = await comm.receive_json_from(timeout=5)
        second = await comm.receive_json_from(timeout=5)
        await comm.disconnect()

        anon = _communicator(AnonymousUser(), instrument.symbol)
        anon_connected, anon_code = await anon.connect()
        unknown = _communicator(pm, "NOPE")
        unknown_connected, unknown_code = await unknown.connect()
        return first, second, (anon_connected, anon_code), (unknown_connected, unknown_code)

    first, second, anon, unknown = async_to_sync(scenario)()
    assert first["type"] == "market" and first["symbol"] == instrument.symbol
    assert len(first["venues"]) == 3 and len(first["venues"][0]["bids"]) == N_LEVELS
    assert second["t_us"] >= first["t_us"]
    assert anon == (False, 4401)
    assert unknown == (False, 4404)
