"""Netting of opposing client orders into internal crosses (pure Python: no Django).

The rule, per instrument and per aggregation cycle:

1. **Who may cross.** A buy whose limit is at or above the mid, a sell whose limit is at or below it, and
   every market order. Crossing at the mid never fills an order through its limit, and it is better
   than anything the market offers either side (no spread, no fee, no impact), so urgency, strategy and
   time window do not matter here: they only decide how the *rest* is worked.
2. **How much.** ``crossed = min(eligible buys, eligible sells)`` rounded down to whole lots. Only an
   order's whole lots are eligible (intake admits lot multiples only, so in practice all of it).
3. **Who gets it: pro rata, largest remainder, in whole lots.** Each side's ``crossed`` is shared over
   that side's eligible orders in proportion to their quantities (:func:`pro_rata`): every order first
   gets the floor of its exact share, in lots; the lots left over go one each to the largest
   remainders, ties to the lower key (the order id: the older order). The shares sum exactly to
   ``crossed``, no order gets more than it asked for, and no order is more than one lot away from its
   exact share. The smaller side is therefore crossed in full and the larger side pro rata.
   Pro rata rather than oldest-first: the cross is a free benefit of several PMs' orders meeting in
   the same cycle, so it is shared in proportion to size, as the parent's fills are later, and it
   does not depend on which order reached the database a millisecond earlier.
4. **No mid, no cross** (an empty or one-sided book: there is no fair price to cross at).

What is not crossed goes to the market: the caller aggregates each order's rest
(``quantity - crossed``) into its parent. The aggregation applies the same rule a second time to what is
left, with new orders on one side and working parents (their quantity not at a venue) on the other
(``ems.services.aggregation``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

BUY, SELL = "buy", "sell"


@dataclass(frozen=True, slots=True)
class NetCandidate:
    """An order that may take part in a cross: its key (the order id), side, quantity and limit (None: market)."""

    key: int
    side: str
    quantity: int
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class NetResult:
    """The cross of one instrument: ``quantity`` per side, and what each order crossed (key -> quantity)."""

    quantity: int
    buys: dict[int, int]
    sells: dict[int, int]

    def crossed(self, key: int) -> int:
        return self.buys.get(key, 0) or self.sells.get(key, 0)


NO_CROSS = NetResult(0, {}, {})


def crossable(side: str, limit_price: Decimal | None, mid: Decimal) -> bool:
    """Whether an order may be filled at ``mid`` without going through its limit."""
    if limit_price is None:
        return True
    return limit_price >= mid if side == BUY else limit_price <= mid


def pro_rata(total: int, wants: Sequence[tuple[Hashable, int]], lot: int) -> dict:
    """Share ``total`` (a whole number of lots) over ``wants`` ``(key, quantity)`` in proportion to the
    quantities, in whole lots, by largest remainder (ties: lower key first).

    Every share is at most the key's whole lots, the shares sum exactly to ``total``, and each is within
    one lot of its exact share. Keys with a zero share are left out.
    """
    if lot <= 0:
        raise ValueError("lot must be positive")
    if total % lot:
        raise ValueError(f"total {total} is not a whole number of lots of {lot}")
    lots = [(key, qty // lot) for key, qty in wants]
    available = sum(n for _, n in lots)
    want_lots = total // lot
    if want_lots > available:
        raise ValueError(f"cannot share {total} over {available * lot}")
    if want_lots == 0:
        return {}
    shares: dict = {}
    remainders = []
    for key, n in lots:
        floor, rem = divmod(want_lots * n, available)  # exact share = want_lots * n / available lots
        shares[key] = floor
        remainders.append((-rem, key))
    left = want_lots - sum(shares.values())
    # A remainder is > 0 for at least ``left`` keys (the fractions sum to ``left``), so a key whose exact
    # share is whole (remainder 0, possibly all it asked for) never gets an extra lot.
    for _, key in sorted(remainders)[:left]:
        shares[key] += 1
    return {key: n * lot for key, n in shares.items() if n}


def net(candidates: Iterable[NetCandidate], *, mid: Decimal | None, lot: int) -> NetResult:
    """Cross the eligible buys against the eligible sells of one instrument at ``mid`` (module docstring)."""
    if mid is None or lot <= 0:
        return NO_CROSS
    buys: list[tuple[int, int]] = []
    sells: list[tuple[int, int]] = []
    for c in candidates:
        if c.quantity >= lot and crossable(c.side, c.limit_price, mid):
            (buys if c.side == BUY else sells).append((c.key, c.quantity))
    eligible_buys = sum(q // lot for _, q in buys) * lot
    eligible_sells = sum(q // lot for _, q in sells) * lot
    quantity = min(eligible_buys, eligible_sells)
    if quantity == 0:
        return NO_CROSS
    return NetResult(quantity, pro_rata(quantity, sorted(buys), lot), pro_rata(quantity, sorted(sells), lot))
