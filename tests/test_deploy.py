"""Production settings: `check --deploy` is clean, and a missing secret stops the start."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings


def _manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    # A production environment, not the test run's: the browser harness sets DJANGO_ALLOW_ASYNC_UNSAFE.
    dropped = {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_check_deploy_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="rollcall.example.org",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNING" not in result.stderr


def test_it_refuses_to_start_with_debug_off_and_no_secret_key():
    result = _manage("check", DEBUG="0", ALLOWED_HOSTS="rollcall.example.org")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def _sample_secret_key() -> str:
    line = next(x for x in (settings.BASE_DIR / ".env.example").read_text().splitlines() if x.startswith("SECRET_KEY="))
    return line.partition("=")[2]


@pytest.mark.parametrize(
    "published",
    [
        pytest.param(_sample_secret_key(), id="the sample of .env.example"),
        pytest.param(f"  {_sample_secret_key()} ", id="the sample with spaces"),
        pytest.param("dev-only-insecure-key-rollcall-" + "x" * 40, id="the development key"),
    ],
)
def test_it_refuses_to_start_with_debug_off_and_a_published_secret_key(published):
    result = _manage("check", DEBUG="0", ALLOWED_HOSTS="rollcall.example.org", SECRET_KEY=published)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_sample_secret_key_still_serves_development():
    result = _manage("check", DEBUG="1", SECRET_KEY=_sample_secret_key())

    assert result.returncode == 0, result.stderr
