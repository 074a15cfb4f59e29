"""Where the processes' log lines go: the console keeps what a person watching ``make run`` needs, a file keeps
everything.

A running desk logs a line for every Celery task received and succeeded, every beat dispatch (seven schedules,
most every one or two seconds) and every HTTP request the pages' polling makes: about 8 MB an hour, which buries
a warning on the console. So:

- **console** (stderr): warnings and errors from everything, and the INFO lines of start-up and of rare events
  (a worker ready, an instrument-day handed over, a reconciliation break); the INFO lines of the routine loggers
  (:data:`ROUTINE_LOGGERS`) are not printed. ``LOG_CONSOLE_LEVEL`` raises or lowers the bar
  (``DEBUG`` prints the routine lines too);
- **file** (when ``LOG_DIR`` is set; ``make run`` sets ``.data/logs``): every line at ``LOG_LEVEL`` (INFO), one
  file per process (``LOG_NAME``: ``web.log``, ``worker1.log``, ``beat.log``), rotated at ``LOG_FILE_MAX_BYTES``
  (20 MB) keeping ``LOG_FILE_BACKUPS`` (5) old files, so a desk's logs never outgrow a bounded size.

Celery and uvicorn use this configuration too (``config.celery`` takes over Celery's ``setup_logging``; uvicorn's
loggers are re-pointed here when Django configures logging), so ``-l info`` on their command lines sets nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

# INFO lines a running desk writes many times a minute: kept in the file, not shown on the console.
ROUTINE_LOGGERS = (
    "celery.app.trace",  # "Task ... succeeded in 0.01s"
    "celery.worker.strategy",  # "Task ... received"
    "celery.beat",  # "Scheduler: Sending due task ..."
    "uvicorn.access",  # one line per HTTP request (the pages poll)
    "oms.audit",  # the audit checkpoint, every minute (also in the checkpoint file)
)
FILE_MAX_BYTES = 20 * 1024 * 1024
FILE_BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class RoutineFilter(logging.Filter):
    """Drop the routine loggers' lines below WARNING (a routine logger's warning still shows)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not any(record.name == name or record.name.startswith(name + ".") for name in ROUTINE_LOGGERS)


def logging_config(*, level: str = "INFO", console_level: str = "INFO", log_dir: str | Path | None = None,
                   name: str = "app", max_bytes: int = FILE_MAX_BYTES, backups: int = FILE_BACKUPS) -> dict:
    """The ``LOGGING`` dict (``logging.config.dictConfig``): a filtered console, and a rotating file in ``log_dir``."""
    handlers: dict = {
        "console": {"class": "logging.StreamHandler", "level": console_level.upper(), "formatter": "plain",
                    **({} if console_level.upper() == "DEBUG" else {"filters": ["routine"]})},
    }
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handlers["file"] = {"class": "logging.handlers.RotatingFileHandler", "filename": str(Path(log_dir) / f"{name}.log"),
                            "maxBytes": max_bytes, "backupCount": backups, "encoding": "utf-8", "formatter": "plain"}
    # uvicorn configures its own handlers before Django starts: empty them so its lines reach ours once.
    to_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": FORMAT}},
        "filters": {"routine": {"()": RoutineFilter}},
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level.upper()},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # 4xx answers are part of the API contract (denials, validation), not server problems.
            "django.request": {"level": "ERROR"},
            # django-axes: each failed sign-in and lockout (WARNING), not its bookkeeping (INFO).
            "axes": {"level": "WARNING"},
            "uvicorn": to_root, "uvicorn.error": to_root, "uvicorn.access": to_root,
        },
    }
