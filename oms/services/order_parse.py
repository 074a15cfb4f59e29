"""Parse one submitted order into an ``ParsedOrder``: every field checked at the edge, before anything
reaches SQL, with a stable code per problem. The browser ticket, the API and the bulk all come through here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from oms.error_codes import FieldErrorCode, PermissionErrorCode
from oms.errors import NotPermitted, ValidationFailed
from oms.models import Instrument, Order, OrderType, Portfolio, Side, Strategy, TimeInForce, Urgency
from oms.refdata import symbol_key
from oms.risk_reference import RiskReference, plain, static_reference

ORDER_FIELDS = (
    "client_order_id", "portfolio", "instrument", "side", "quantity", "order_type", "limit_price",
    "time_in_force", "urgency", "strategy", "start_time", "end_time", "max_participation",
)
# fullmatch only: with match(), "$" also matches before a trailing newline.
CLIENT_ORDER_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
# The one rule for text input, wherever it comes from (JSON bodies, query strings, form fields, CSV cells):
# no control character (Unicode Cc: C0 with NUL, tab and newline, DEL, C1), no invisible format character
# (Cf: the right-to-left and isolate overrides U+202A-202E and U+2066-2069, the marks U+200E/F and U+061C,
# zero-width spaces, soft hyphen, BOM; but not the joiners U+200C/D that scripts and emoji need), and no lone
# surrogate (a string that cannot be encoded as UTF-8). PostgreSQL text refuses NUL, the JSON renderer cannot
# encode a surrogate, escapes reach terminals and bidi overrides disguise ids in pages, CSV and spreadsheets.
INVALID_CHARACTERS_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")
# An optional minus sign is parsed, so that "-5" is told it must be positive (it is a whole number).
ASCII_DIGITS_RE = re.compile(r"-?[0-9]+")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_QUANTITY = 10**12  # shares; far above any real order, far below the bigint column
PRICE_BOUND = Decimal(10) ** 12  # numeric(18, 6)
# Choice values, computed once (the enums' .values builds a new list on every access).
SIDES, ORDER_TYPES, TIFS = tuple(Side.values), tuple(OrderType.values), tuple(TimeInForce.values)
URGENCIES, STRATEGIES = tuple(Urgency.values), tuple(Strategy.values)


@dataclass(frozen=True)
class ParsedOrder:
    """A parsed, valid order as the client asked for it (not yet risk-checked)."""

    client_order_id: str
    portfolio: Portfolio
    instrument: Instrument
    side: str
    quantity: int
    order_type: str
    limit_price: Decimal | None
    time_in_force: str
    urgency: str
    strategy: str
    start_time: datetime | None
    end_time: datetime | None
    max_participation: Decimal | None
    # The price risk measures this order against (live mid or static fallback); set by orders_submit.
    reference: RiskReference | None = None

    @property
    def risk_reference(self) -> RiskReference:
        return self.reference if self.reference is not None else static_reference(self.instrument)

    @property
    def notional(self) -> Decimal:
        px = self.limit_price if self.limit_price is not None else self.risk_reference.price
        # Options: quantity in contracts, price per share (FIX 231 ContractMultiplier).
        return (Decimal(self.quantity) * px * self.instrument.multiplier).quantize(Decimal("0.01"))

    @property
    def content_key(self) -> tuple:
        """What must match for a resend of the same client_order_id to count as the same order."""
        return _content_key(self.portfolio.id, self.instrument.id, self)

    @property
    def duplicate_key(self) -> tuple:
        """What "the same order" means for duplicate detection: the economic content."""
        return _content_key(self.portfolio.id, self.instrument.id, self)[:6]


def _norm(d: Decimal | None) -> Decimal | None:
    return None if d is None else d.normalize()


def _content_key(portfolio_id: int, instrument_id: int, o) -> tuple:
    # The first six fields are the duplicate key (see ParsedOrder.duplicate_key).
    return (
        portfolio_id, instrument_id, o.side, o.quantity, o.order_type, _norm(o.limit_price),
        o.time_in_force, o.urgency, o.strategy, o.start_time, o.end_time, _norm(o.max_participation),
    )


def order_content_key(o: Order) -> tuple:
    """The content key of a stored order (compare with ParsedOrder.content_key)."""
    return _content_key(o.portfolio_id, o.instrument_id, o)


class _Errors:
    def __init__(self):
        self.by_field: dict[str, list[dict]] = {}

    def add(self, field: str, code: str, detail: str) -> None:
        self.by_field.setdefault(field, []).append({"code": code, "detail": detail})


def _choice(data, errors, field, choices, default):
    value = data.get(field)
    if value in (None, ""):
        if default is None:
            errors.add(field, FieldErrorCode.REQUIRED, f"{field} is required")
        return default
    if not isinstance(value, str) or value.lower() not in choices:
        errors.add(field, FieldErrorCode.INVALID, f"{field} must be one of: {', '.join(choices)}")
        return default
    return value.lower()


def _decimal(data, errors, field, *, below: Decimal, places: int) -> Decimal | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        errors.add(field, FieldErrorCode.INVALID, f"{field} must be a number")
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        errors.add(field, FieldErrorCode.INVALID, f"{field} must be a number")
        return None
    if not d.is_finite():
        errors.add(field, FieldErrorCode.INVALID, f"{field} must be a finite number")
        return None
    # Bounded by the database columns: refuse what they would round or overflow, rather than change it.
    if abs(d) >= below:
        errors.add(field, FieldErrorCode.MAX_VALUE, f"{field} must be less than {below:,}")
        return None
    if d.as_tuple().exponent < -places:
        errors.add(field, FieldErrorCode.MAX_DECIMALS, f"{field} has at most {places} decimal places")
        return None
    return d


def _datetime(data, errors, field) -> datetime | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        errors.add(field, FieldErrorCode.INVALID, f"{field} must be an ISO 8601 date-time")
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def has_invalid_characters(value: str) -> bool:
    """Whether a string holds a control or format character or a lone surrogate (see INVALID_CHARACTERS_RE)."""
    return INVALID_CHARACTERS_RE.search(value) is not None


def printable(value: str) -> str:
    """``value`` if it is clean, else its escaped form: safe to echo in a message, a log or a JSON key."""
    return value if not has_invalid_characters(value) else value.encode("unicode_escape").decode("ascii")


def _refuse_invalid_characters(data: dict, errors: _Errors) -> dict:
    """Report every key or string value holding invalid characters, and leave them out of further parsing."""
    clean = {}
    for key, value in data.items():
        if has_invalid_characters(key):
            errors.add(printable(key), FieldErrorCode.INVALID_CHARACTERS, "Field names must not contain control characters or invalid Unicode")
        elif isinstance(value, str) and has_invalid_characters(value):
            errors.add(key, FieldErrorCode.INVALID_CHARACTERS, f"{key} must not contain control characters or invalid Unicode")
        else:
            clean[key] = value
    return clean


def _known_fields(data, errors: _Errors, fields: tuple[str, ...], *, not_object: str) -> dict:
    """A JSON object's fields, less those with invalid characters; those and unknown fields are reported."""
    if not isinstance(data, dict):
        raise ValidationFailed({"non_field_errors": [{"code": FieldErrorCode.INVALID, "detail": not_object}]})
    clean = _refuse_invalid_characters(data, errors)
    for unknown in sorted(set(clean) - set(fields)):
        errors.add(unknown, FieldErrorCode.UNKNOWN_FIELD, f"Unknown field {unknown!r}")
    return clean


def _quantity(value, errors: _Errors, instrument: Instrument | None) -> int | None:
    """A whole, positive number of shares within bounds and (when the instrument is known) in whole lots."""
    if isinstance(value, str) and ASCII_DIGITS_RE.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add("quantity", FieldErrorCode.INVALID, "quantity must be a whole number of shares")
        return None
    if value <= 0:
        errors.add("quantity", FieldErrorCode.INVALID, "quantity must be positive")
        return None
    if value > MAX_QUANTITY:
        errors.add("quantity", FieldErrorCode.MAX_VALUE, f"quantity must be at most {MAX_QUANTITY:,}")
        return None
    if instrument is not None and value % instrument.lot_size:
        errors.add("quantity", FieldErrorCode.LOT_SIZE, f"quantity must be a multiple of the lot size {instrument.lot_size}")
    return value


def _check_limit(limit_price: Decimal | None, order_type: str | None, errors: _Errors, instrument: Instrument | None) -> None:
    """A limit price belongs to a limit order only, is positive and (when the instrument is known) on the tick grid."""
    if limit_price is None:
        return
    if order_type == OrderType.MARKET:
        errors.add("limit_price", FieldErrorCode.NOT_ALLOWED, "A market order takes no limit_price")
    elif limit_price <= 0:
        errors.add("limit_price", FieldErrorCode.INVALID, "limit_price must be greater than zero")
    elif instrument is not None and limit_price % instrument.tick_size:
        errors.add("limit_price", FieldErrorCode.TICK_SIZE, f"limit_price must be a multiple of the tick size {plain(instrument.tick_size)}")


def parse_order(
    data, *, portfolios: dict[str, Portfolio], instruments: dict[str, Instrument], known_portfolios=frozenset(),
) -> ParsedOrder:
    """Validate one order payload; raise ValidationFailed (400) or NotPermitted (403).

    ``portfolios`` are those the caller may trade; ``known_portfolios`` every code that exists (so that
    someone else's portfolio is a 403, an unknown one a 400).
    """
    errors = _Errors()
    data = _known_fields(data, errors, ORDER_FIELDS, not_object="Each order must be a JSON object")

    coid = data.get("client_order_id")
    if "client_order_id" in errors.by_field:
        pass  # invalid characters, reported above
    elif coid in (None, ""):
        errors.add("client_order_id", FieldErrorCode.REQUIRED, "client_order_id is required")
    elif not isinstance(coid, str) or not CLIENT_ORDER_ID_RE.fullmatch(coid):
        errors.add("client_order_id", FieldErrorCode.INVALID, "client_order_id: 1-64 characters of letters, digits and . _ : -")

    portfolio = None
    code = data.get("portfolio")
    if code in (None, ""):
        errors.add("portfolio", FieldErrorCode.REQUIRED, "portfolio is required")
    elif not isinstance(code, str):
        errors.add("portfolio", FieldErrorCode.INVALID, "portfolio must be a portfolio code")
    else:
        portfolio = portfolios.get(code)
        if portfolio is None:
            if code in known_portfolios:
                raise NotPermitted(PermissionErrorCode.PORTFOLIO_NOT_GRANTED, f"You may not trade portfolio {code}", field="portfolio")
            errors.add("portfolio", FieldErrorCode.UNKNOWN, f"Unknown portfolio {code!r}")

    instrument = None
    symbol = data.get("instrument")
    if symbol in (None, ""):
        errors.add("instrument", FieldErrorCode.REQUIRED, "instrument is required")
    elif not isinstance(symbol, str) or symbol_key(symbol) not in instruments:
        errors.add("instrument", FieldErrorCode.UNKNOWN, f"Unknown instrument {symbol!r}")
    else:
        instrument = instruments[symbol_key(symbol)]

    side = _choice(data, errors, "side", SIDES, None)

    quantity = data.get("quantity")
    if quantity in (None, ""):
        errors.add("quantity", FieldErrorCode.REQUIRED, "quantity is required")
        quantity = None
    else:
        quantity = _quantity(quantity, errors, instrument)

    order_type = _choice(data, errors, "order_type", ORDER_TYPES, None)
    limit_price = _decimal(data, errors, "limit_price", below=PRICE_BOUND, places=6)
    if order_type == OrderType.LIMIT and limit_price is None and "limit_price" not in errors.by_field:
        errors.add("limit_price", FieldErrorCode.REQUIRED, "limit_price is required for a limit order")
    elif order_type is not None:
        _check_limit(limit_price, order_type, errors, instrument)

    time_in_force = _choice(data, errors, "time_in_force", TIFS, TimeInForce.DAY)
    urgency = _choice(data, errors, "urgency", URGENCIES, Urgency.MEDIUM)
    strategy = _choice(data, errors, "strategy", STRATEGIES, Strategy.AUTO)
    start_time = _datetime(data, errors, "start_time")
    end_time = _datetime(data, errors, "end_time")
    if start_time and end_time and end_time <= start_time:
        errors.add("end_time", FieldErrorCode.BEFORE_START, "end_time must be after start_time")
    max_participation = _decimal(data, errors, "max_participation", below=Decimal(10), places=4)
    if max_participation is not None and not (0 < max_participation <= 1):
        errors.add("max_participation", FieldErrorCode.INVALID, "max_participation is a fraction between 0 and 1 (e.g. 0.1)")

    if errors.by_field:
        raise ValidationFailed(errors.by_field)
    return ParsedOrder(
        client_order_id=coid, portfolio=portfolio, instrument=instrument, side=side, quantity=quantity,
        order_type=order_type, limit_price=limit_price, time_in_force=time_in_force, urgency=urgency,
        strategy=strategy, start_time=start_time, end_time=end_time, max_participation=max_participation,
    )


# --- cancel/replace ---------------------------------------------------------------------------------

REPLACE_FIELDS = ("quantity", "limit_price")


@dataclass(frozen=True)
class ReplaceRequest:
    """What a cancel/replace asks for: a new quantity and/or a new limit price (None: keep the order's)."""

    quantity: int | None
    limit_price: Decimal | None


def replace_body(data) -> dict:
    """The fields of a cancel/replace body (a JSON object of ``quantity`` and/or ``limit_price``); raise
    ValidationFailed for another shape, an unknown field or invalid characters. Values are checked by
    :func:`parse_replace` against the order."""
    errors = _Errors()
    clean = _known_fields(data, errors, REPLACE_FIELDS, not_object="Send a JSON object with quantity and/or limit_price")
    if errors.by_field:
        raise ValidationFailed(errors.by_field)
    return clean


def parse_replace(*, quantity, limit_price, order: Order) -> ReplaceRequest:
    """Check a new quantity and/or limit price for ``order`` (its instrument's lot and tick, its order type);
    raise ValidationFailed. Neither given is an error; a value equal to the order's is kept as asked."""
    errors = _Errors()
    if quantity in (None, "") and limit_price in (None, ""):
        errors.add("non_field_errors", FieldErrorCode.REQUIRED, "Send a new quantity and/or limit_price")
        raise ValidationFailed(errors.by_field)
    data = _refuse_invalid_characters({"quantity": quantity, "limit_price": limit_price}, errors)
    new_quantity = None if data.get("quantity") in (None, "") else _quantity(data["quantity"], errors, order.instrument)
    new_limit = _decimal(data, errors, "limit_price", below=PRICE_BOUND, places=6)
    _check_limit(new_limit, order.order_type, errors, order.instrument)
    if errors.by_field:
        raise ValidationFailed(errors.by_field)
    return ReplaceRequest(quantity=new_quantity, limit_price=new_limit)
