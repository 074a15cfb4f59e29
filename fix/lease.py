"""One gateway per session at a time, enforced by PostgreSQL: each session's lease is an advisory lock.

Two engines serving one session would write the same sequence numbers and send the same outbox rows. So a
gateway takes, before its engine starts, a session-level advisory lock per session it is to serve
(``pg_try_advisory_lock(LEASE_LOCK_CLASS, session id)``: tried, never waited for) on a connection of its own,
held for the process's life and named after it (``application_name``: ``fix_gateway <machine> <host>:<port>
pid <pid>``, which the FIX page and the refusal below show). A gateway that cannot take every lock it needs
refuses to start and releases what it took, naming each session and who serves it: an operator moves a
session by stopping the gateway that serves it, never by having two race for it.

The locks go with the connection: a gateway stopped (``Gateway.stop``) closes it; a process killed has it
closed by the kernel and PostgreSQL releases the locks at once; a machine gone silent is noticed by the
server's TCP keepalives, set short on this connection (about 25 s), after which another gateway may take its
sessions. A gateway whose own lease connection is lost (the server restarted, the network dropped it)
cannot know whether someone else took its sessions since: it stops itself (``Gateway`` checks every
``SEQNUM_SAVE_S``). The connection must reach PostgreSQL directly or through a pooler in session mode (a
transaction-mode pooler does not keep session locks).
"""

from __future__ import annotations

import logging
import os
import socket

import psycopg
from django.db import connections

from fix.engine import GatewayError, SessionKey

log = logging.getLogger(__name__)

# The first key of the two-int4 advisory locks of the sessions' leases ("FIXS" in ASCII); the second is
# FixSession.id. pg_locks shows them as classid = this, objid = the session id, objsubid = 2.
LEASE_LOCK_CLASS = 0x46495853
KEEPALIVE = {"idle": 10, "interval": 5, "count": 3}  # seconds, seconds, probes: a dead peer is dropped in ~25 s
HOLDERS_SQL = """
    SELECT l.objid::bigint, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def lease_label(host: str, port: int) -> str:
    """The name a gateway's lease connection carries (PostgreSQL keeps 63 bytes of it)."""
    return f"fix_gateway {socket.gethostname().split('.')[0]} {host}:{port} pid {os.getpid()}"[:63]


def lease_holders(cursor) -> dict[int, str]:
    """Session id -> the name of the gateway holding its lease, read with ``cursor`` (a DB-API cursor)."""
    cursor.execute(HOLDERS_SQL, [LEASE_LOCK_CLASS])
    return {sid: name for sid, name in cursor.fetchall()}


class SessionsServedElsewhere(GatewayError):
    """Another gateway holds the lease of one or more of the sessions asked for."""


class SessionLease:
    """The leases of a gateway's sessions (``fix.engine.Lease``), on one connection of its own."""

    def __init__(self, session_ids: dict[SessionKey, int], *, label: str):
        self._ids = dict(session_ids)
        self._label = label
        self._conn: psycopg.Connection | None = None
        self._held = 0  # how many locks it took

    def acquire(self, keys: list[SessionKey]) -> None:
        params = connections["default"].get_connection_params()
        server_keepalive = " ".join(f"-c tcp_keepalives_{name}={value}" for name, value in KEEPALIVE.items())
        params["options"] = f"{params.get('options', '')} {server_keepalive}".strip()
        conn = psycopg.connect(
            **params, autocommit=True, application_name=self._label, keepalives=1, keepalives_idle=KEEPALIVE["idle"],
            keepalives_interval=KEEPALIVE["interval"], keepalives_count=KEEPALIVE["count"],
            tcp_user_timeout=sum((KEEPALIVE["idle"], KEEPALIVE["interval"] * KEEPALIVE["count"])) * 1000,
        )
        refused = []
        try:
            for key in sorted(keys):
                if not conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [LEASE_LOCK_CLASS, self._ids[key]]).fetchone()[0]:
                    refused.append(key)
            if refused:
                holders = lease_holders(conn.cursor())
        except BaseException:
            conn.close()
            raise
        if refused:
            conn.close()  # and with it the locks it did take
            named = "; ".join(f"{ours}->{theirs} is served by another gateway ({holders.get(self._ids[(ours, theirs)], 'gone meanwhile')})"
                              for ours, theirs in refused)
            raise SessionsServedElsewhere(f"Not started: {named}. Stop that gateway first, or start this one without it (--sessions)")
        self._conn = conn
        self._held = len(keys)

    def held(self) -> bool:
        """Whether this gateway still holds every lease it took (False once its connection is lost)."""
        if self._conn is None:
            return False
        try:
            count = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
                " AND classid = %s AND objsubid = 2", [LEASE_LOCK_CLASS]).fetchone()[0]
        except Exception:  # noqa: BLE001 - whatever failed, the lease can no longer be vouched for
            log.exception("FIX lease connection")
            return False
        return count == self._held

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # PostgreSQL releases a session's advisory locks when it ends
            self._conn = None
