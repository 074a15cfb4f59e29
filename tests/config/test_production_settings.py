"""Production settings: no built-in secret key, HTTPS hardening from the environment, `check --deploy` clean.

Each case runs `manage.py` in a fresh process with the environment a deployment would give it.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import BASE_DIR

STRONG_KEY = secrets.token_urlsafe(64)


def _manage(*args: str, env: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    # A deployment has none of the test run's variables (DJANGO_ALLOW_ASYNC_UNSAFE is the suite's own).
    full = {k: v for k, v in os.environ.items() if k not in (*drop, "DJANGO_ALLOW_ASYNC_UNSAFE")}
    full.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=full, capture_output=True, text=True, timeout=120)


def _setting(name: str, *, env: dict[str, str]) -> str:
    out = _manage("shell", "-c", f"from django.conf import settings; print(repr(getattr(settings, {name!r}, None)))", env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_debug_off_without_a_secret_key_refuses_to_start(tmp_path):
    out = _manage("check", env={"DEBUG": "0", "SMART_OMS_DATA_DIR": str(tmp_path)}, drop=("SECRET_KEY",))
    assert out.returncode != 0
    assert "SECRET_KEY is not set" in out.stderr
    assert "dev-only" not in Path(BASE_DIR / "config" / "settings.py").read_text()  # no built-in fallback key


def test_the_data_folder_key_that_make_run_generates_is_used_and_kept(tmp_path):
    env = {"DEBUG": "0", "SMART_OMS_DATA_DIR": str(tmp_path)}
    from config import runtime

    without_env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    subprocess.run([sys.executable, "-c", "from config import runtime; runtime.ensure_secret_key()"], cwd=BASE_DIR, env={**without_env, **env}, check=True)
    key_file = tmp_path / runtime.SECRET_KEY_FILE.name
    key = key_file.read_text()
    assert len(key) >= 64 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = subprocess.run(
        [sys.executable, "-c", "from config import runtime; runtime.ensure_secret_key(); print(runtime.secret_key())"],
        cwd=BASE_DIR, env={**without_env, **env}, capture_output=True, text=True, check=True,
    )
    assert again.stdout.strip() == key  # generated once, then kept
    assert _manage("check", env=env, drop=("SECRET_KEY",)).returncode == 0


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": STRONG_KEY,
    "HTTPS": "1",
    "ALLOWED_HOSTS": "oms.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://oms.example.com",
    "AUDIT_HMAC_KEY": secrets.token_urlsafe(48),
}


def test_check_deploy_is_clean_under_production_settings():
    out = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout


def test_check_deploy_asks_for_an_audit_key_of_its_own():
    out = _manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION, "AUDIT_HMAC_KEY": ""})
    assert out.returncode != 0
    assert "oms.W001" in out.stderr + out.stdout


def test_check_deploy_flags_plain_http_settings():
    out = _manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION, "HTTPS": "0"})
    assert out.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):  # HSTS, redirect, cookies
        assert warning in out.stderr + out.stdout


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SECURE_SSL_REDIRECT", "True"),
        ("SESSION_COOKIE_SECURE", "True"),
        ("CSRF_COOKIE_SECURE", "True"),
        ("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "True"),
        ("SECURE_PROXY_SSL_HEADER", "None"),  # not trusted unless TLS_PROXY_HEADER=1 says a proxy sets it
    ],
)
def test_https_switches_on_secure_cookies_hsts_and_redirect(name, expected):
    assert _setting(name, env=PRODUCTION) == expected


def test_behind_a_tls_proxy_the_forwarded_proto_header_is_trusted_only_when_said_so():
    value = _setting("SECURE_PROXY_SSL_HEADER", env={**PRODUCTION, "TLS_PROXY_HEADER": "1"})
    assert value == "('HTTP_X_FORWARDED_PROTO', 'https')"
