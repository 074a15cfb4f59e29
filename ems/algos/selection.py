"""Strategy selection matrix: from the order and the instrument to a strategy, its parameters and why.

The matrix is the table :data:`MATRIX`, read top to bottom, first matching row wins (a row whose strategy
cannot finish the order by its end within ``MAX_PARTICIPATION`` of the expected volume is skipped, and
the reason says so; the last row catches what no schedule can do); every condition is
data (a range or a set), so the same table drives the code and docs/execution.md (:func:`matrix_markdown`).
Inputs, all derived by :func:`order_features`:

* **% ADV**: the order's quantity over the instrument's average daily volume;
* **order**: market, marketable limit (the limit is at or through the far touch) or passive limit;
* **urgency**: the PM's low / medium / high;
* **daily vol**: the instrument's daily volatility, bps;
* **spread**: its typical quoted spread, bps;
* **liquidity**: illiquid when the ADV is worth less than ``ILLIQUID_ADV_NOTIONAL`` a day; a listed option
  (``listed_option`` on the instrument) is worked by RFQ whatever its size: no lit book of options is simulated,
  dealers price it (and a strategy the PM named other than RFQ cannot apply to it).

A strategy the PM asked for is kept unless it cannot apply (:func:`_cannot_apply`: a participation
algorithm that cannot finish by the end within ``MAX_PARTICIPATION``, an immediate order far larger than
any book shows, an IS with no time left), and then the reason says why and the matrix decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ems.algos.cost import time_for_volume_share, volume_share
from ems.algos.types import SCHEDULED_STRATEGIES, InstrumentView, OrderSpec, RoutingMode, StrategyName, Urgency
from ems.sim.clock import SESSION_US, US, format_clock

INF = math.inf
ILLIQUID_ADV_NOTIONAL = 10_000_000.0  # currency per day
MAX_PARTICIPATION = 0.25  # no participation algorithm is run above this share of the market's volume
DIRECT_MAX_PCT_ADV = 5.0  # above this, "all now" is not an execution strategy: it would sweep far past any book

MARKET, MARKETABLE, PASSIVE = "market", "marketable limit", "passive limit"


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the matrix: conditions (half-open ranges ``[lo, hi)``, sets; None = any) and the outcome.

    ``params``: ``target`` participation the schedule aims at (it sets the end time: the moment the
    expected volume since the start reaches ``qty / target``, or the close), ``cap`` the maximum
    participation, ``end``: ``"volume"`` (from the target) or ``"close"`` (the order's end or the close),
    ``urgency`` for IS's risk aversion, ``router`` for DIRECT's routing mode.
    """

    name: str
    strategy: StrategyName
    pct_adv: tuple[float, float] = (0.0, INF)
    order: frozenset[str] | None = None
    urgency: frozenset[Urgency] | None = None
    vol_bps: tuple[float, float] = (0.0, INF)
    spread_bps: tuple[float, float] = (0.0, INF)
    illiquid: bool | None = None
    option: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)
    why: str = ""

    def matches(self, f: dict[str, Any]) -> bool:
        return (
            self.pct_adv[0] <= f["pct_adv"] < self.pct_adv[1]
            and (self.order is None or f["order"] in self.order)
            and (self.urgency is None or f["urgency"] in self.urgency)
            and self.vol_bps[0] <= f["vol_bps"] < self.vol_bps[1]
            and self.spread_bps[0] <= f["spread_bps"] < self.spread_bps[1]
            and (self.illiquid is None or f["illiquid"] is self.illiquid)
            and (self.option is None or f["option"] is self.option)
        )


_U = Urgency
MATRIX: tuple[Rule, ...] = (
    Rule("option", StrategyName.RFQ, option=True, why="a listed option: dealers price it (no lit book of options is worked)"),
    Rule(
        "block", StrategyName.RFQ, pct_adv=(25.0, INF), why="a quarter of a day's volume or more: ask dealers for a block price"
    ),
    Rule(
        "illiquid_block",
        StrategyName.RFQ,
        pct_adv=(5.0, INF),
        illiquid=True,
        why="a large block in a thin name: the lit market cannot absorb it",
    ),
    Rule(
        "small_urgent",
        StrategyName.DIRECT,
        pct_adv=(0.0, 1.0),
        urgency=frozenset({_U.HIGH}),
        params={"router": RoutingMode.PARALLEL},
        why="take the displayed liquidity now",
    ),
    Rule(
        "tiny",
        StrategyName.DIRECT,
        pct_adv=(0.0, 0.05),
        # A passive limit does not take the books now: it waits for the market (row passive_limit).
        order=frozenset({MARKET, MARKETABLE}),
        spread_bps=(0.0, 30.0),
        params={"router": None},
        why="fits the displayed books: no schedule needed",
    ),
    Rule(
        "urgent",
        StrategyName.IS,
        urgency=frozenset({_U.HIGH}),
        params={"urgency": _U.HIGH, "target": 0.15, "cap": 0.25, "end": "volume"},
        why="front-load to cut timing risk (Almgren-Chriss)",
    ),
    Rule(
        "volatile",
        StrategyName.IS,
        pct_adv=(1.0, INF),
        vol_bps=(300.0, INF),
        params={"urgency": _U.MEDIUM, "target": 0.10, "cap": 0.20, "end": "volume"},
        why="timing risk dominates: trade it off against impact (Almgren-Chriss)",
    ),
    Rule(
        "thin_name",
        StrategyName.TWAP,
        illiquid=True,
        params={"target": 0.05, "cap": 0.10, "end": "volume"},
        why="the volume profile of a thin name is unreliable: spread evenly in time",
    ),
    Rule(
        "large",
        StrategyName.POV,
        pct_adv=(10.0, INF),
        params={"target": 0.10, "cap": 0.12, "end": "close"},
        why="let the market's volume set the pace",
    ),
    Rule(
        "passive_limit",
        StrategyName.POV,
        order=frozenset({PASSIVE}),
        params={"target": 0.10, "cap": 0.15, "end": "close"},
        why="participate whenever the market trades at or through the limit",
    ),
    Rule(
        "patient",
        StrategyName.VWAP,
        urgency=frozenset({_U.LOW}),
        params={"target": 0.05, "cap": 0.10, "end": "close"},
        why="track the whole session's VWAP",
    ),
    Rule(
        "default",
        StrategyName.VWAP,
        params={"target": 0.05, "cap": 0.10, "end": "volume"},
        why="track VWAP over the time the volume takes at the target rate",
    ),
    # Reached only when every matching row above was skipped: no schedule finishes by the end.
    Rule("last_resort", StrategyName.RFQ, why="no schedule can finish by the end within the participation limit: ask dealers"),
)


@dataclass(frozen=True, slots=True)
class Selection:
    strategy: StrategyName
    params: dict[str, Any]
    reason: str
    reason_code: str
    rule: str
    why: str = ""  # the outcome and why, in a line (the reason leads with the inputs that decided it)


def order_features(order: OrderSpec, inst: InstrumentView) -> dict[str, Any]:
    """Return the matrix's inputs for ``order`` on ``inst`` (see the module docstring)."""
    price = float(order.price or inst.reference_price)
    half = price * inst.spread_bps / 2e4
    if order.limit_price is None:
        kind = MARKET
    else:
        far = price + order.side.sign * half  # the ask for a buy, the bid for a sell
        kind = MARKETABLE if order.side.sign * (order.limit_price - far) >= -1e-9 else PASSIVE
    return {
        "pct_adv": order.qty / inst.adv * 100.0,
        "order": kind,
        "urgency": order.urgency,
        "vol_bps": inst.daily_vol * 1e4,
        "spread_bps": float(inst.spread_bps),
        "illiquid": inst.adv * price < ILLIQUID_ADV_NOTIONAL,
        "option": bool(getattr(inst, "listed_option", False)),
        "price": price,
    }


def _window(order: OrderSpec, rule: Rule) -> dict[str, Any]:
    """Return the schedule parameters of ``rule`` for ``order``: end time and participation."""
    end_cap = min(order.end if order.end is not None else SESSION_US, SESSION_US)
    p = rule.params
    out: dict[str, Any] = {"start": order.start}
    if rule.strategy in (StrategyName.DIRECT, StrategyName.RFQ):
        out["end"] = order.start
        if "router" in p:
            out["router_mode"] = None if p["router"] is None else str(p["router"])
        return out
    target = p["target"] if order.max_participation is None else min(p["target"], order.max_participation)
    cap = p["cap"] if order.max_participation is None else min(p["cap"], order.max_participation)
    return (
        out
        | {"target": target, "cap": cap, "end_cap": end_cap, "end_rule": p["end"]}
        | ({"urgency": str(p["urgency"])} if "urgency" in p else {})
    )


def _finish(order: OrderSpec, inst: InstrumentView, strategy: StrategyName, w: dict[str, Any]) -> dict[str, Any]:
    """Fill in ``end``, the horizon and the expected participation for a scheduled strategy."""
    if strategy in (StrategyName.DIRECT, StrategyName.RFQ):
        return {k: v for k, v in w.items() if not k.startswith("end_")}
    share_needed = order.qty / inst.adv / w["target"]
    end = w["end_cap"] if w["end_rule"] == "close" else time_for_volume_share(order.start, share_needed, w["end_cap"])
    end = max(end, min(w["end_cap"], order.start + 60 * US))  # at least a minute
    expected = inst.adv * volume_share(order.start, end)
    out = {k: v for k, v in w.items() if k not in ("end_cap", "end_rule", "target")}
    out |= {
        "end": int(end),
        "end_clock": format_clock(end)[:5],
        "horizon_s": (end - order.start) / US,
        "target_participation": w["target"],
        "max_participation": w["cap"],
        "expected_participation": order.qty / expected if expected > 0 else math.inf,
    }
    if order.limit_price is not None:
        out["limit_price"] = order.limit_price
    return out


def _describe(f: dict[str, Any], order: OrderSpec) -> str:
    liq = "a listed option" if f["option"] else "illiquid" if f["illiquid"] else "liquid"
    return f"{f['pct_adv']:.2g}% of ADV, {f['order']}, {order.urgency} urgency, {f['vol_bps']:.0f} bps daily vol, {f['spread_bps']:.0f} bps spread, {liq}"


def _outcome(strategy: StrategyName, params: dict[str, Any], f: dict[str, Any]) -> str:
    if strategy is StrategyName.RFQ:
        return "RFQ to dealers"
    if strategy is StrategyName.DIRECT:
        mode = params.get("router_mode")
        routing = f" ({mode} routing)" if mode else " (smart routing)"
        if f["order"] == PASSIVE:
            return "DIRECT at the limit, routed whenever the market reaches it" + routing
        return "DIRECT now" + routing
    text = f"{strategy.name} to {params['end_clock']}, max {params['max_participation']:.0%} participation"
    if "urgency" in params:
        text += f", {params['urgency']} risk aversion"
    exp = params["expected_participation"]
    if exp > params["max_participation"]:
        text += f" (needs {exp:.0%} of the expected volume: will not finish by {params['end_clock']})"
    return text


def _cannot_apply(strategy: StrategyName, order: OrderSpec, inst: InstrumentView, f: dict[str, Any]) -> str:
    """Return why the PM's ``strategy`` cannot work this order ('' if it can)."""
    end = min(order.end if order.end is not None else SESSION_US, SESSION_US)
    if strategy is StrategyName.DIRECT:
        if f["pct_adv"] >= DIRECT_MAX_PCT_ADV:
            return f"DIRECT cannot apply: {f['pct_adv']:.2g}% of ADV at once is far beyond any displayed book (max {DIRECT_MAX_PCT_ADV:g}%)"
        return ""
    if strategy is StrategyName.RFQ:
        return ""
    if f["option"]:
        return f"{strategy.name} cannot apply: a listed option is worked by RFQ (no lit book of options)"
    if end <= order.start:
        return f"{strategy.name} cannot apply: no time left before {format_clock(end)[:5]}"
    expected = inst.adv * volume_share(order.start, end)
    needed = order.qty / expected if expected > 0 else math.inf
    cap = min(MAX_PARTICIPATION, order.max_participation or MAX_PARTICIPATION)
    if strategy in SCHEDULED_STRATEGIES and needed > cap:
        return f"{strategy.name} cannot apply: it would need {needed:.0%} of the volume expected by {format_clock(end)[:5]} (max {cap:.0%})"
    return ""


def _requested_params(strategy: StrategyName, order: OrderSpec, inst: InstrumentView) -> dict[str, Any]:
    """Parameters for a strategy the PM named: those of its first row in the matrix, urgency adjusted."""
    rule = next((r for r in MATRIX if r.strategy is strategy), None)
    if rule is None:
        rule = Rule("requested", strategy, params={"target": 0.05, "cap": 0.10, "end": "volume"})
    if strategy is StrategyName.IS:
        rule = Rule(rule.name, strategy, params=rule.params | {"urgency": order.urgency})
    return _finish(order, inst, strategy, _window(order, rule))


def select_strategy(order: OrderSpec, inst: InstrumentView) -> Selection:
    """Return the strategy for ``order`` on ``inst``: the PM's if it can apply, else the matrix's first
    matching row; the reason names the deciding inputs."""
    f = order_features(order, inst)
    described = _describe(f, order)
    overruled = ""
    if order.requested not in (None, StrategyName.AUTO):
        why_not = _cannot_apply(order.requested, order, inst, f)
        if not why_not:
            params = _requested_params(order.requested, order, inst)
            outcome = _outcome(order.requested, params, f)
            return Selection(
                order.requested,
                params,
                f"{described} -> {outcome} (requested by the PM)",
                "select.requested",
                "requested",
                f"{outcome}: requested by the PM",
            )
        overruled = why_not
    skipped = []
    for rule in MATRIX:
        if not rule.matches(f):
            continue
        why_not = _cannot_apply(rule.strategy, order, inst, f)
        if not why_not:
            break
        skipped.append(f"row {rule.name} skipped: {why_not}")
    params = _finish(order, inst, rule.strategy, _window(order, rule))
    outcome = _outcome(rule.strategy, params, f)
    reason = f"{described} -> {outcome} (rule {rule.name}: {rule.why})"
    why = f"{outcome}: {rule.why}"
    if skipped:
        reason += "; " + "; ".join(skipped)
    code = f"select.{rule.name}"
    if overruled:
        reason = f"{overruled}; instead {reason}"
        why = f"{overruled}; instead {why}"
        code = f"select.requested_overridden.{rule.name}"
    return Selection(rule.strategy, params, reason, code, rule.name, why)


# --- the table, for people --------------------------------------------------------------------------------
def _range(lo: float, hi: float, unit: str) -> str:
    if lo <= 0 and hi == INF:
        return "any"
    if hi == INF:
        return f">= {lo:g}{unit}"
    if lo <= 0:
        return f"< {hi:g}{unit}"
    return f"{lo:g}-{hi:g}{unit}"


def _params_text(rule: Rule) -> str:
    p = rule.params
    if rule.strategy is StrategyName.DIRECT:
        return f"routing: {p['router'] or 'router picks'}"
    if rule.strategy is StrategyName.RFQ:
        return "dealer quotes"
    end = "to the close" if p["end"] == "close" else f"to when {p['target']:.0%} of the expected volume covers the order"
    text = f"{end}; max {p['cap']:.0%} participation"
    if "urgency" in p:
        text += f"; {p['urgency']} risk aversion"
    return text


def matrix_markdown(matrix: tuple[Rule, ...] = MATRIX) -> str:
    """Return the matrix as a Markdown table (first matching row wins)."""
    head = "| # | Rule | % ADV | Order | Urgency | Daily vol | Spread | Liquidity | Strategy | Parameters | Why |"
    lines = [head, "|" + "|".join("---" for _ in range(11)) + "|"]
    for i, r in enumerate(matrix, 1):
        cells = [
            str(i),
            r.name,
            _range(*r.pct_adv, "%"),
            "any" if r.order is None else ", ".join(sorted(r.order)),
            "any" if r.urgency is None else ", ".join(u.value for u in Urgency if u in r.urgency),
            _range(*r.vol_bps, " bps"),
            _range(*r.spread_bps, " bps"),
            "listed option" if r.option else "any" if r.illiquid is None else ("illiquid" if r.illiquid else "liquid"),
            r.strategy.name,
            _params_text(r),
            r.why,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
