"""``manage.py seed_demo``: idempotent demo data a person can log in to and trade with."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from oms import roles
from oms.models import Instrument, Portfolio, RestrictedInstrument, RiskLimit

ROLES = {"pm1": "pm", "pm2": "pm", "trader": "trader", "compliance": "compliance", "bridge": "api_client", "admin": "admin"}


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    from django.apps import apps

    models = [User, Group, Token, Instrument, Portfolio, RiskLimit, RestrictedInstrument, Portfolio.members.through]
    if apps.is_installed("ems"):
        models.append(apps.get_model("ems", "Venue"))
    return {m._meta.label: m.objects.count() for m in models}


@pytest.fixture
def seeded(db):
    return _seed()


def test_seed_demo_twice_leaves_the_same_data(seeded):
    before = _counts()
    token = Token.objects.get(user__username="bridge").key

    _seed()

    assert _counts() == before
    assert Token.objects.get(user__username="bridge").key == token


def test_seed_demo_creates_every_account_with_its_role(seeded):
    for username, role in ROLES.items():
        user = User.objects.get(username=username)
        assert roles.role_of(user) == role, username


def test_seed_demo_accounts_log_in_with_the_printed_passwords(seeded):
    for username in ROLES:
        password = f"{username}-demo-pass"
        assert f"{username:<11} {password}" in seeded
        assert authenticate(username=username, password=password) is not None, username


def test_seed_demo_keeps_a_changed_password(seeded):
    user = User.objects.get(username="pm1")
    user.set_password("my-own-password")
    user.save()

    _seed()

    assert authenticate(username="pm1", password="my-own-password") is not None


def test_seed_demo_prints_the_api_clients_token(seeded):
    token = Token.objects.get(user__username="bridge")

    assert f"API client 'bridge' token: {token.key}" in seeded


def test_seed_demo_instruments_have_usable_reference_figures(seeded):
    instruments = list(Instrument.objects.all())

    assert 18 <= len([i for i in instruments if i.kind == "equity"]) <= 25
    for i in instruments:
        assert i.is_active, i.symbol
        assert i.reference_price > 0 and i.adv > 0 and i.daily_volatility > 0 and i.spread_bps > 0, i.symbol
        assert i.tick_size > 0 and i.lot_size >= 1, i.symbol


def test_seed_demo_portfolios_belong_to_their_pms(seeded):
    def codes(username):
        return set(roles.visible_portfolios(User.objects.get(username=username)).values_list("code", flat=True))

    assert codes("pm1") and codes("pm2") and codes("bridge")
    assert codes("pm1").isdisjoint(codes("pm2"))
    assert codes("trader") == set(Portfolio.objects.values_list("code", flat=True))


def test_seed_demo_sets_global_limits_and_a_restricted_instrument(seeded):
    glob = RiskLimit.objects.get(portfolio=None)

    assert all(getattr(glob, limb) for limb in RiskLimit.LIMBS)
    assert RestrictedInstrument.objects.filter(portfolio=None).exists()


def test_seed_demo_seeds_venues(seeded):
    from django.apps import apps

    Venue = apps.get_model("ems", "Venue")

    assert Venue.objects.count() > 0


def test_bridge_trades_its_books_with_its_token_after_seeding(seeded):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='bridge').key}")
    book = client.get("/api/portfolios/").json()["results"][0]["code"]
    restricted = RestrictedInstrument.objects.filter(portfolio=None).first().instrument
    order = {"portfolio": book, "side": "buy", "quantity": 100, "order_type": "market"}

    ok = client.post("/api/orders/", {**order, "client_order_id": "DEMO-1", "instrument": "AAPL"}, format="json")
    denied = client.post("/api/orders/", {**order, "client_order_id": "DEMO-2", "instrument": restricted.symbol}, format="json")

    assert ok.status_code == 201
    assert (denied.status_code, denied.json()["code"]) == (422, "risk.restricted_instrument")


def test_seed_demo_lists_option_chains_priced_off_their_underlyings(seeded):
    """Issue 22: three expiries of nine strikes, calls and puts, on each option underlying, at the model's value."""
    from oms.demo import OPTION_UNDERLYINGS

    for symbol in OPTION_UNDERLYINGS:
        options = Instrument.objects.filter(kind="option", underlying__symbol=symbol, is_active=True)
        assert options.count() == 54, symbol
        assert {o.multiplier for o in options} == {100}
        assert all(o.reference_price >= o.tick_size for o in options)
        # Priced by the model, not left at intrinsic: the at-the-money calls are worth more than nothing.
        assert options.filter(option_type="call").order_by("expiry", "strike")[4].reference_price > 1
