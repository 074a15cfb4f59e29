"""The throughput aims of issue 18, one line each: every bench that measures one reports it through ``aim``
(printed where it is measured, and kept in ``.data/bench-aims.json``); ``python bench/aims.py`` (the last step
of ``make bench``) prints the table of the latest figures.

Each figure is a median of several runs (or a percentile over all their samples), measured on the machine
``make bench`` ran on, with the load average at the time: the box is shared, so read them with it.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIMS_FILE = ROOT / ".data" / "bench-aims.json"

# key -> what is measured (bench), in the order of the table.
ROWS = {
    "intake": "single order intake, risk + audit on, ratio to a bare DRF token-auth POST (bench/intake.py)",
    "fills": "fills booked/s, each allocated to 20 orders (bench/ems_fills.py)",
    "push": "report -> fill booked -> websocket push p99 at 200 child orders/s (bench/ems_live.py)",
    "kill": "kill switch: engage -> 500 children cancelled at the venues, p99 (bench/ems_live.py)",
    "aggregation": "aggregation of 10,000 orders (bench/ems_aggregation.py)",
    "audit_writers": "audit appends/s rise with writers, most writers / 1 (bench/audit.py)",
    "seal_delay": "audit seal delay p99 (bench/audit.py)",
    # Issue 21's aim for FIX order entry.
    "fix_round_trip": "FIX NewOrderSingle -> ExecutionReport p99 at 100 orders/s, one session (bench/fix.py)",
}


def aim(key: str, figure: str, target: str, met: bool, note: str = "") -> None:
    """Print one aim's line and keep it for the table."""
    verdict = "met" if met else "missed"
    print(f"  AIM {ROWS[key].split(' (bench/')[0]}: {figure} (aim {target}: {verdict}){f'; {note}' if note else ''}", flush=True)
    AIMS_FILE.parent.mkdir(parents=True, exist_ok=True)
    table = _load()
    table[key] = {"figure": figure, "aim": target, "met": met, "note": note, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    AIMS_FILE.write_text(json.dumps(table, indent=1))


def _load() -> dict:
    try:
        return json.loads(AIMS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def main() -> int:
    table = _load()
    print(f"\n== issue 18 aims (latest figures, {AIMS_FILE.relative_to(ROOT)})")
    for key, what in ROWS.items():
        row = table.get(key)
        if row is None:
            print(f"  {what}: not measured yet")
            continue
        note = f" | {row['note']}" if row.get("note") else ""
        print(f"  {what}: {row['figure']} | aim {row['aim']}: {'MET' if row['met'] else 'MISSED'} ({row['at']}, load {row['load']}){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
