"""Benchmark the execution algorithms over many seeded days; prints figures, asserts nothing.

Run: ``.venv/bin/python bench/execution.py [--days N] [--workers W]`` (from the repository root).

Every algorithm (TWAP, VWAP, POV at 10%, IS at medium urgency, DIRECT) works a whole-day parent (09:30
to 16:00; buy on even days, sell on odd ones) of 1% and of 10% of ADV on each instrument, on the same
seeded days (day d of seed 7 is the same market for every algorithm). Per algorithm and size, over all
instruments and days:

* slippage vs arrival mid, vs interval VWAP and vs interval TWAP (mid), in bps, positive = better than
  the benchmark, quantity-weighted mean and standard deviation; the interval is from start to the last
  fill (POV and DIRECT usually finish early);
* completion rate (share of parents fully filled by the end) and realised participation (our filled
  quantity / the market volume in the interval);
* IS: mean realised shortfall (price vs arrival, fees included, currency) against the mean
  Almgren-Chriss E[C] of the trajectory it followed;
* smart routing saving: the same algorithm and days with everything sent to one lit venue (XSMA, no
  dark pools), mean arrival slippage smart minus single-venue, in bps (1%-ADV parents only);
* time per backtested day (one algorithm, one instrument, one day), CPU and wall; the day's market is
  generated once per instrument-day (by the first algorithm) and shared by the others.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ems.algos import ALGORITHMS, IS, algo_params, run_backtest  # noqa: E402
from ems.algos.types import StrategyName  # noqa: E402
from ems.sim.clock import US  # noqa: E402
from ems.sim.instrument import InstrumentParams  # noqa: E402
from ems.sim.orders import Side  # noqa: E402

SEED = 7
SINGLE_VENUE = "XSMA"
INSTRUMENTS = (
    InstrumentParams("V", 279.40, 6_500_000, 0.011, 1.6, lot_size=1),  # liquid, tight (demo instrument)
    InstrumentParams("ACME", 100.0, 5_000_000, 0.02, 5.0),  # the simulator's reference name
    InstrumentParams("THIN", 25.0, 400_000, 0.035, 20.0),  # small cap: wide, volatile, thin
)
SIZES = (0.01, 0.10)
ALGOS = tuple(ALGORITHMS)


def make(name: StrategyName, inst: InstrumentParams, side: Side, qty: int, venue: str | None):
    return ALGORITHMS[name](algo_params(name, side=side, qty=qty, venue=venue, dark=venue is None, seed=SEED), inst)


def run_one(name: StrategyName, inst: InstrumentParams, day: int, size: float, venue: str | None) -> dict:
    side = Side.BUY if day % 2 == 0 else Side.SELL
    qty = max(inst.lot_size, int(inst.adv * size) // inst.lot_size * inst.lot_size)
    algo = make(name, inst, side, qty, venue)
    cpu = time.process_time()
    r = run_backtest(inst, algo, seed=SEED, day=day)
    cpu = time.process_time() - cpu
    filled = r.filled_qty()
    out = {
        "algo": name.value,
        "inst": inst.symbol,
        "size": size,
        "venue": venue,
        "day": day,
        "qty": qty,
        "filled": filled,
        "wall": r.wall_time_s,
        "cpu": cpu,
    }
    if not filled:
        return out
    last = max(f.time for f in r.fills) + 1
    vwap = r.market.vwap(r.start, last)
    avg = r.avg_price(side)
    out.update(
        arrival=r.slippage_bps(side, r.arrival_mid),
        vwap=r.slippage_bps(side, vwap) if vwap else None,
        twap=r.slippage_bps(side, r.market.twap(r.start, last)),
        participation=filled / max(1, r.market.volume(r.start, last)),
        shortfall=side.sign * (avg - r.arrival_mid) * filled,
        # The same, less the market's own move between arrival and each fill (the seeded, impact-free
        # mid): what our trading cost, without the price noise AC's E[C] averages out (a control variate;
        # its expectation is the same for a schedule that does not look at the future).
        impact_cost=sum(side.sign * (f.price - base_mid(r, f.time)) * f.qty for f in r.fills)
        + side.sign * (base_mid(r, r.start) - r.arrival_mid) * filled,
        fees=r.fees,
    )
    if isinstance(algo, IS):
        out["expected_cost"] = algo.expected_cost()[0]
    return out


def base_mid(r, t_us: int) -> float:
    """The impact-free seeded mid at ``t_us`` (measurement only: an algorithm never sees this)."""
    return float(r.market.data.mid[min(t_us // US, len(r.market.data.mid) - 1)])


def _job(args: tuple) -> list[dict]:
    inst, day = args
    rows = []
    for size in SIZES:
        for name in ALGOS:
            rows.append(run_one(name, inst, day, size, None))
            if size == SIZES[0]:
                rows.append(run_one(name, inst, day, size, SINGLE_VENUE))
    return rows


def wmean_std(rows: list[dict], key: str) -> tuple[float, float]:
    pts = [(r[key], r["filled"]) for r in rows if r.get(key) is not None]
    if not pts:
        return math.nan, math.nan
    w = sum(q for _, q in pts)
    m = sum(x * q for x, q in pts) / w
    var = sum(q * (x - m) ** 2 for x, q in pts) / w
    return m, math.sqrt(var)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after the days finished by then")
    args = ap.parse_args()
    jobs = [(inst, day) for day in range(args.days) for inst in INSTRUMENTS]
    wall = time.perf_counter()
    chunks = []
    with Pool(args.workers) as pool:
        for k, chunk in enumerate(pool.imap(_job, jobs)):
            chunks.append(chunk)
            if (k + 1) % (10 * len(INSTRUMENTS)) == 0:
                print(
                    f"  ... {(k + 1) // len(INSTRUMENTS)} days, {time.perf_counter() - wall:.0f} s", file=sys.stderr, flush=True
                )
            if args.max_minutes is not None and time.perf_counter() - wall > 60 * args.max_minutes:
                pool.terminate()
                break
    days = len(chunks) // len(INSTRUMENTS)  # whole days only: every instrument of a day
    rows = [r for chunk in chunks[: days * len(INSTRUMENTS)] for r in chunk]
    elapsed = time.perf_counter() - wall
    print(
        f"{days} days x {len(INSTRUMENTS)} instruments ({', '.join(i.symbol for i in INSTRUMENTS)}), seed {SEED}; "
        f"{len(rows)} backtests in {elapsed:.0f} s on {args.workers} worker(s)\n"
    )
    head = f"{'algo':6} {'size':>5} {'vs arrival':>15} {'vs int. VWAP':>15} {'vs int. TWAP':>15} {'complete':>8} {'particip.':>9} {'routing saving':>14} {'cpu s/day':>9}"
    print("slippage in bps, positive = better than the benchmark; mean +/- std, quantity-weighted")
    print(head)
    print("-" * len(head))
    for size in SIZES:
        for name in ALGOS:
            sel = [r for r in rows if r["algo"] == name.value and r["size"] == size and r["venue"] is None]
            single = [r for r in rows if r["algo"] == name.value and r["size"] == size and r["venue"] == SINGLE_VENUE]
            cells = []
            for key in ("arrival", "vwap", "twap"):
                m, s = wmean_std(sel, key)
                cells.append(f"{m:+7.2f} +/-{s:5.1f}" if not math.isnan(m) else "-")
            complete = sum(r["filled"] == r["qty"] for r in sel) / len(sel)
            part = statistics.fmean(r["participation"] for r in sel if "participation" in r)
            part_s = f"{part:9.2%}" if part < 1 else f"{'>100%':>9}"  # DIRECT: done in milliseconds
            saving = f"{wmean_std(sel, 'arrival')[0] - wmean_std(single, 'arrival')[0]:+6.2f} bps" if single else "-"
            sec = statistics.fmean(r["cpu"] for r in sel)
            print(
                f"{name.value:6} {size:5.0%} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15} {complete:8.1%} {part_s} {saving:>14} {sec:9.3f}"
            )
    print()
    print("IS: realised cost vs Almgren-Chriss E[C] per parent (currency, fees excluded as in E[C]; mean +/- s.e.)")
    print("    shortfall = price vs arrival mid; impact-only = the same less the market's own (impact-free) move")
    for size in SIZES:
        for inst in INSTRUMENTS:
            sel = [
                r
                for r in rows
                if r["algo"] == "is"
                and r["size"] == size
                and r["inst"] == inst.symbol
                and r["venue"] is None
                and "shortfall" in r
            ]
            exp = statistics.fmean(r["expected_cost"] for r in sel)
            cells = []
            for key in ("shortfall", "impact_cost"):
                m = statistics.fmean(r[key] for r in sel)
                se = statistics.pstdev(r[key] for r in sel) / math.sqrt(len(sel))
                cells.append(f"{m:11,.0f} +/-{se:9,.0f} ({m / exp:5.2f}x)")
            fees = statistics.fmean(r["fees"] for r in sel)
            print(
                f"  {inst.symbol:5} {size:4.0%}: E[C] {exp:11,.0f}  shortfall {cells[0]}  impact-only {cells[1]}  fees {fees:+,.0f}"
            )
    print()
    for what in ("cpu", "wall"):
        print(
            f"{what} time per backtested day: mean {statistics.fmean(r[what] for r in rows):.3f} s, "
            f"1%-ADV {statistics.fmean(r[what] for r in rows if r['size'] == SIZES[0]):.3f} s, "
            f"10%-ADV {statistics.fmean(r[what] for r in rows if r['size'] == SIZES[1]):.3f} s "
            f"(includes generating the day's market for the first algorithm of each instrument-day)"
        )
    print("(wall time depends on the machine's load; cpu time is this process's own)")


if __name__ == "__main__":
    main()
