"""Properties of ``parse_order`` (the edge of intake), with hypothesis. No database: in-memory reference data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from oms.errors import ValidationFailed
from oms.models import Instrument, Portfolio
from oms.services.order_parse import parse_order

BOOK = Portfolio(id=1, code="BOOK", name="Book")
ACME = Instrument(id=1, symbol="ACME", name="Acme", reference_price=Decimal("100.00"), adv=1_000_000,
                  daily_volatility=Decimal("0.02"), spread_bps=Decimal("2"), tick_size=Decimal("0.01"), lot_size=1)
LOTS = Instrument(id=2, symbol="LOTS", name="Lots", reference_price=Decimal("10.00"), adv=1_000_000,
                  daily_volatility=Decimal("0.02"), spread_bps=Decimal("2"), tick_size=Decimal("0.05"), lot_size=100)
INSTRUMENTS = {"ACME": ACME, "LOTS": LOTS}


def _parse(**overrides):
    data = {"client_order_id": "P-1", "portfolio": "BOOK", "instrument": "ACME", "side": "buy", "quantity": 100,
            "order_type": "limit", "limit_price": "100.00"}
    data.update(overrides)
    return parse_order({k: v for k, v in data.items() if v is not None}, portfolios={"BOOK": BOOK}, instruments=INSTRUMENTS)


ANY_QUANTITY = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=6),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


@given(quantity=ANY_QUANTITY, symbol=st.sampled_from(["ACME", "LOTS"]))
@example(quantity="\u00b2", symbol="ACME")  # str.isdigit() is true for "²", int("²") raises ValueError
@example(quantity="0", symbol="ACME")
@example(quantity=True, symbol="ACME")
def test_parse_order_accepts_only_positive_whole_quantities_on_the_lot(quantity, symbol):
    price = "100.00" if symbol == "ACME" else "10.00"
    try:
        req = _parse(quantity=quantity, instrument=symbol, limit_price=price)
    except ValidationFailed as exc:
        assert set(exc.errors) == {"quantity"}
        return

    assert type(req.quantity) is int
    assert req.quantity > 0
    assert req.quantity % INSTRUMENTS[symbol].lot_size == 0


@given(price=st.one_of(
    st.decimals(min_value=Decimal("-1000"), max_value=Decimal("999999999"), places=4),
    st.floats(min_value=-1e6, max_value=1e6),
    st.text(max_size=8),
))
@example(price="1E100")  # Decimal % tick_size raises InvalidOperation past the context precision
@example(price="-0.05")
def test_parse_order_accepts_only_positive_limit_prices_on_the_tick(price):
    try:
        req = _parse(instrument="LOTS", limit_price=price)
    except ValidationFailed as exc:
        assert set(exc.errors) == {"limit_price"}
        return

    assert req.limit_price > 0
    assert req.limit_price % LOTS.tick_size == 0


@given(quantity=st.integers(min_value=1, max_value=10**9), ticks=st.integers(min_value=1, max_value=10**7))
def test_notional_is_quantity_times_price_in_cents(quantity, ticks):
    price = Decimal(ticks) * Decimal("0.01")

    req = _parse(quantity=quantity, limit_price=str(price))

    assert req.notional == (quantity * price).quantize(Decimal("0.01"))


@given(quantity=st.integers(min_value=1, max_value=10**9))
def test_market_order_notional_uses_the_reference_price(quantity):
    req = _parse(quantity=quantity, order_type="market", limit_price=None)

    assert req.limit_price is None
    assert req.notional == quantity * ACME.reference_price


@given(ticks=st.integers(min_value=1, max_value=10**6), zeros=st.integers(min_value=0, max_value=4))
def test_content_key_ignores_how_the_price_is_written(ticks, zeros):
    price = Decimal(ticks) * Decimal("0.01")
    padded = f"{price:.{2 + zeros}f}"

    assert _parse(limit_price=str(price)).content_key == _parse(limit_price=padded).content_key


@given(participation=st.decimals(min_value=Decimal("-2"), max_value=Decimal("2"), allow_nan=False, places=6))
def test_max_participation_is_a_fraction_in_0_to_1(participation):
    try:
        req = _parse(max_participation=str(participation))
    except ValidationFailed as exc:
        assert set(exc.errors) == {"max_participation"}
        return

    assert Decimal("0") < req.max_participation <= Decimal("1")


@pytest.mark.parametrize("unknown", ["BOOK2", "book"])
def test_parse_order_unknown_portfolio_code_is_a_field_error(unknown, db):
    with pytest.raises(ValidationFailed) as info:
        _parse(portfolio=unknown)

    assert info.value.errors["portfolio"][0]["code"] == "unknown"
