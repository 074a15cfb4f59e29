"""Helpers of the audit trail tests."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def triggers_bypassed():
    """What an attacker with database superuser rights can do: write past the append-only triggers."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        try:
            yield cur
        finally:
            cur.execute("SET session_replication_role = DEFAULT")
