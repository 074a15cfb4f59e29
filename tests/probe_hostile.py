"""Probe (run on demand; pytest does not collect it): send each hostile body of issue 20 item 1 to a running
server while a second client measures GET /login/ latency, and print the figures.

    .venv/bin/python tests/probe_hostile.py [http://127.0.0.1:8000]

With no URL it starts the server itself (``config.server.command``) on a free port, with the environment of
this shell (``DATABASE_URL`` etc., as ``make run`` sets them; config.runtime finds or starts PostgreSQL and Redis).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.hostile_bodies import hostile_post, many_parts, one_big_part  # noqa: E402

CASES = [
    ("200,000 parts (11.5 MB) to /login/", "/login/", lambda: many_parts(200_000), False),
    ("200,000 parts (11.5 MB) to the upload path", "/api/tca/executions/import/", lambda: many_parts(200_000), False),
    ("one 60 MB part, Content-Length", "/api/tca/executions/import/", lambda: one_big_part(), False),
    ("one 60 MB part, chunked", "/api/tca/executions/import/", lambda: one_big_part(), True),
    ("multipart without a boundary", "/login/", lambda: b"--x\r\n\r\nx\r\n--x--\r\n", False),
]


def probe(url: str) -> None:
    with httpx.Client(timeout=60) as idle:
        baseline = [_timed(idle, url) for _ in range(5)]
    print(f"GET /login/ idle: median {statistics.median(baseline) * 1000:.0f} ms")
    for label, path, make, chunked in CASES:
        body = make()
        latencies: list[float] = []
        done = threading.Event()

        def second_client(latencies=latencies, done=done):
            with httpx.Client(timeout=60) as client:
                while not done.is_set():
                    latencies.append(_timed(client, url))

        watcher = threading.Thread(target=second_client)
        start = time.monotonic()
        watcher.start()
        content_type = "multipart/form-data" if "boundary" in label else None
        kwargs = {"content_type": content_type} if content_type else {}
        status, error = hostile_post(url, path, body, chunked=chunked, meanwhile=lambda: time.sleep(0.5), **kwargs)
        answered = time.monotonic() - start
        time.sleep(0.5)
        done.set()
        watcher.join()
        print(f"{label}: {status} {error.get('code')} after {answered:.2f} s; GET /login/ meanwhile "
              f"n={len(latencies)} max {max(latencies) * 1000:.0f} ms median {statistics.median(latencies) * 1000:.0f} ms")


def _timed(client: httpx.Client, url: str) -> float:
    t = time.monotonic()
    client.get(f"{url}/login/").raise_for_status()
    return time.monotonic() - t


def main() -> int:
    if len(sys.argv) > 1:
        probe(sys.argv[1].rstrip("/"))
        return 0
    from config import runtime
    from tests.servers import run_server

    runtime.configure()
    runtime.ensure_secret_key()
    with run_server({}) as (url, _log):
        probe(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
