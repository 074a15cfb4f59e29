"""Start Django for a benchmark on a PostgreSQL database of its own, emptied at each run; what a bench that
forks worker processes does around the fork.

Import after setting ``SMART_OMS_DB_NAME`` (and any other environment the bench needs), before importing
Django models. A ``DATABASE_URL`` in the environment is dropped unless ``BENCH_USE_DATABASE_URL=1``, so a
benchmark never fills a real database; with it kept, that database is used as it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_FORKED_AWAY: list = []


def django_on_own_database(*, keep: bool = False) -> bool:
    """Drop and recreate the bench database (unless ``keep``), configure and set up Django; return whether
    the bench runs on a database of its own."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if "DATABASE_URL" in os.environ and os.environ.get("BENCH_USE_DATABASE_URL") != "1":
        del os.environ["DATABASE_URL"]
    own = not os.environ.get("DATABASE_URL")  # read before config sets it
    from config import runtime

    if own and not keep and runtime._answers("127.0.0.1", 5432):
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{os.environ["SMART_OMS_DB_NAME"]}" WITH (FORCE)')
        runtime._create_database_if_missing()
    runtime.configure()
    runtime.ensure_secret_key()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return own


def close_db_for_fork() -> None:
    """Close this process's connections and its connection pool: nothing of them may be shared with a fork."""
    from django.db import connection, connections

    connections.close_all()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


def fresh_channel_layer() -> None:
    """After fork: a channel layer and a publisher of this process's own (the parent's event loop thread
    and its Redis connections do not survive a fork)."""
    from channels.layers import channel_layers

    from oms.broadcast import publisher

    channel_layers.backends = {}
    # The parent's loop and queue stay referenced: collecting them here would "destroy" their pending task, loudly.
    _FORKED_AWAY.append((publisher._loop, publisher._queue))
    publisher._loop = publisher._queue = None
