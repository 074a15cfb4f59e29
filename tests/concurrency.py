"""Real concurrency for tests: functions run in their own threads (own database connections), released together."""

from __future__ import annotations

import threading

from django.db import connection


def run_together(fns) -> tuple[list, list[BaseException]]:
    """Run each fn in its own thread, released by one barrier; return (results in order, exceptions raised).

    Each thread closes its own database connection when done.
    """
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)
    errors: list[BaseException] = []

    def worker(i, fn):
        try:
            barrier.wait(timeout=30)
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results, errors
