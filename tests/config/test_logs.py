"""`make run`'s logs: the console keeps warnings, errors and start-up; the routine lines (task received /
succeeded, beat dispatches, HTTP requests) go only to the process's file in LOG_DIR."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from django.db import connection

from config.logs import RoutineFilter, logging_config
from tests.servers import BASE_DIR, database_url, run_server, stop, wait_for


def _record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "line", None, None)


def test_routine_filter_drops_routine_info_and_keeps_their_warnings():
    f = RoutineFilter()
    assert not f.filter(_record("celery.app.trace", logging.INFO))
    assert not f.filter(_record("celery.beat", logging.INFO))
    assert not f.filter(_record("uvicorn.access", logging.INFO))
    assert f.filter(_record("celery.beat", logging.WARNING))
    assert f.filter(_record("celery.apps.worker", logging.INFO))  # "celery@w1 ready."
    assert f.filter(_record("tca.tasks", logging.INFO))


def test_without_log_dir_there_is_no_file_handler_and_debug_shows_everything():
    assert set(logging_config()["handlers"]) == {"console"}
    assert "filters" not in logging_config(console_level="DEBUG")["handlers"]["console"]


def test_beat_writes_its_dispatches_to_its_file_not_to_the_console(tmp_path):
    """A real ``celery beat`` (what ``make run`` starts): "Sending due task" is in beat.log only."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_DIR": str(tmp_path), "LOG_NAME": "beat"}
    with tempfile.NamedTemporaryFile(prefix="beat-", suffix=".out", delete=False) as console:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info", "--schedule", str(tmp_path / "schedule")],
            cwd=BASE_DIR, env=env, stdout=console, stderr=subprocess.STDOUT,
        )
    log = tmp_path / "beat.log"
    try:
        assert wait_for(lambda: log.exists() and log.read_text().count("Sending due task") >= 3, 60, every_s=0.2), \
            Path(console.name).read_text()[-3000:]
    finally:
        stop(proc)
    printed = Path(console.name).read_text()
    assert "Sending due task" not in printed
    assert "celery beat" in printed  # the start-up banner still says what started


@pytest.mark.django_db(transaction=True)
def test_web_requests_are_logged_to_the_file_not_to_the_console(tmp_path):
    connection.close()
    path = f"/login/?probe={uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": database_url(connection.settings_dict), "LOG_DIR": str(tmp_path), "LOG_NAME": "web"}
    with run_server(env) as (url, console):
        assert httpx.get(url + path).status_code == 200
        log = tmp_path / "web.log"
        assert wait_for(lambda: log.exists() and path in log.read_text(), 10)
        assert path not in console.read_text()
