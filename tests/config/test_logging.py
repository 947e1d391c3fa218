"""Log output as each environment sees it: a real `manage.py` process reading the real settings."""

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings

LOG_A_LINE = (
    "import logging; logging.getLogger('rollcall.probe').warning("
    "'sync %s', 'started', extra={'school': 'alder', 'password': 'hunter2', 'api_token': 'rc_live_1'})"
)


def _manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    dropped = {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "LOG_FORMAT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
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


def _log_a_line(**env_overrides: str) -> subprocess.CompletedProcess:
    return _manage("shell", "--verbosity", "0", "--command", LOG_A_LINE, **env_overrides)


def _production() -> dict[str, str]:
    return {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "rollcall.example.org"}


def test_production_writes_one_json_object_a_line_to_stdout():
    result = _log_a_line(**_production())

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    line = next(line for line in lines if line["event"] == "sync started")
    assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
    assert line["level"] == "warning"
    assert line["logger"] == "rollcall.probe"
    assert line["timestamp"].endswith("Z")
    assert line["school"] == "alder"


def test_secrets_passed_as_context_are_redacted():
    result = _log_a_line(**_production())

    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "rc_live_1" not in result.stdout
    line = json.loads(result.stdout.splitlines()[-1])
    assert line["password"] == line["api_token"] == "[redacted]"


def test_log_format_json_turns_json_on_with_debug_on():
    result = _log_a_line(DEBUG="1", LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["event"] == "sync started"


def test_development_writes_readable_console_lines():
    result = _log_a_line(DEBUG="1")

    assert result.returncode == 0, result.stderr
    line = result.stdout.splitlines()[-1]
    assert not line.startswith("{")
    assert "[warning  ] sync started" in line
    assert "[rollcall.probe]" in line
    assert "school=alder" in line
    assert "hunter2" not in line


def test_an_unknown_log_format_stops_the_start():
    result = _manage("check", DEBUG="1", LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be json or console" in result.stderr
