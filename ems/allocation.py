"""Progressive pro-rata allocation of a parent's fills to its constituents, in whole lots (pure Python).

Each fill is split at once, so a portfolio manager sees partial fills while the parent works. The rule,
for a fill of ``q`` shares over constituents ``i`` that want ``W_i`` shares in all and hold ``A_i`` already:

1. Target. After the fill the parent has ``F = sum(A_i) + q`` filled out of ``W = sum(W_i)``; order ``i``'s
   fair share is ``T_i = F * W_i / W``. Its *need* is ``T_i - A_i``, floored at 0 (an order that an
   earlier rounding put ahead waits until the others catch up). The needs add up to at least ``q``; when
   an order was ahead they add up to more, and all needs are scaled by the same factor so they add up to
   exactly ``q``. A need is never above the order's remaining quantity ``W_i - A_i`` (since ``F <= W``).
2. Whole lots. Each order first gets its need floored to whole lots.
3. Largest remainder. The lots of ``q`` still unassigned go one each, down the ranking by the remainder
   of the need after step 2 (largest first; ties by key, smallest first), to orders with room for a
   whole lot more (never above their remaining quantity).
4. Residual. What is left below one lot (the fill is not a multiple of the lot), or what no order had room
   for in whole lots (a remaining quantity that is not a lot multiple, e.g. the last shares of an order),
   goes down the same ranking to each order up to its remaining quantity.

So allocations add up exactly to ``q``, no order passes its quantity, and when the parent fills completely
every constituent holds exactly ``W_i`` (step 4 completes the last odd shares). The arithmetic is exact
(integers over a common denominator), so the result is a pure function of its inputs: any worker computes
the same split.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


class AllocationError(ValueError):
    """The fill cannot be allocated: more shares than the constituents have room for, or bad inputs."""


def allocate(fill_qty: int, wants: Sequence[tuple[Hashable, int, int]], lot: int = 1) -> dict:
    """Split ``fill_qty`` over ``wants`` = ``[(key, want_qty, already_allocated), ...]`` in lots of ``lot``.

    Return ``{key: quantity}`` for the keys that receive something (quantities > 0, summing to ``fill_qty``).
    Keys must be distinct and sortable (order ids).
    """
    if fill_qty < 0 or lot < 1:
        raise AllocationError("fill quantity must be >= 0 and the lot >= 1")
    if fill_qty == 0:
        return {}
    total_want = 0
    rooms = []
    for key, want, already in wants:
        if want < 0 or already < 0 or already > want:
            raise AllocationError(f"{key}: allocated {already} of {want}")
        total_want += want
        rooms.append(want - already)
    room_total = sum(rooms)
    if fill_qty > room_total:
        raise AllocationError(f"fill of {fill_qty} exceeds the {room_total} still to allocate")
    filled_after = total_want - room_total + fill_qty

    # Step 1, as integers: need_i = num_i / den.
    nums = [max(0, filled_after * want - already * total_want) for _, want, already in wants]
    num_total = sum(nums)
    den = total_want
    if num_total > fill_qty * total_want:  # someone was ahead: scale the needs down to add up to q
        nums = [n * fill_qty for n in nums]
        den = num_total
    lot_den = lot * den

    # Step 2: whole lots of each need.
    given = [n // lot_den * lot for n in nums]
    left = fill_qty - sum(given)
    # The ranking of steps 3 and 4: largest remainder first, ties by key.
    ranking = sorted(range(len(nums)), key=lambda i: (-(nums[i] - given[i] * den), wants[i][0]))

    # Step 3: one more whole lot each, down the ranking.
    lots_left = left // lot
    for i in ranking:
        if lots_left == 0:
            break
        if given[i] + lot <= rooms[i]:
            given[i] += lot
            lots_left -= 1
    left = fill_qty - sum(given)

    # Step 4: the residual, down the ranking, up to each order's remaining quantity.
    for i in ranking:
        if left == 0:
            break
        extra = min(left, rooms[i] - given[i])
        given[i] += extra
        left -= extra
    return {wants[i][0]: q for i, q in enumerate(given) if q > 0}
