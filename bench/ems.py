"""EMS benchmarks (issue 8): runs each part in its own process and prints its figures.

- bench/ems_aggregation.py: aggregation of 10,000 accepted orders into parents (aim < 1 s)
- bench/ems_fills.py: fills booked per second through the booking service (aim >= 2,000/s)
- bench/ems_live.py: execution report -> fill booked -> websocket push latency at 200 child orders/s
  (aim p99 <= 50 ms) and the kill switch's time to halt 500 working child orders (aim p99 <= 1 s)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("ems_aggregation.py", "ems_fills.py", "ems_live.py")


def main() -> int:
    failed = 0
    for part in PARTS:
        print(f"\n== bench/{part}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / part), *sys.argv[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
