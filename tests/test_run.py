"""`make run` / bin/run: on 127.0.0.1 by default, and a signal stops the web server, worker and beat with it.

Each case starts the real thing on the embedded default (a SQLite file and a filesystem broker in a folder of
its own, migrated and loaded with the demo once for the module), waits for the web server to answer, sends
one signal, and checks that every process it started is gone and the port is free again.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [
    pytest.mark.worker,
    # Each case starts bin/run on the embedded default whatever database this run of the suite uses, so a run on
    # PostgreSQL would only repeat, a minute and a half later, what the embedded run has already proved.
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL") or os.environ.get("CELERY_BROKER_URL")),
        reason="starts the embedded default itself: the suite's run on the embedded default covers it",
    ),
]

VENV_BIN = Path(settings.BASE_DIR) / ".venv" / "bin"
START_TIMEOUT = 120
STOP_TIMEOUT = 10  # bin/run's own limit before it kills what is left


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("run-var")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent (perhaps init) has yet to read its status


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=1).read()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("command", "sig"),
    [
        pytest.param("bin/run", signal.SIGTERM, id="SIGTERM to bin/run"),
        pytest.param("bin/run", signal.SIGHUP, id="SIGHUP to bin/run (a closed terminal)"),
        # CI's or a supervisor's hard stop of make: nobody tells bin/run, which must notice by itself.
        pytest.param("make", signal.SIGKILL, id="SIGKILL to make"),
    ],
)
def test_a_signal_stops_the_web_server_worker_and_beat_and_frees_the_port(var_dir, tmp_path, command, sig):
    if not (VENV_BIN / "celery").exists():
        pytest.skip(f"make run needs the project's virtualenv at {VENV_BIN}")
    port = _free_port()
    # The embedded default in a folder of its own; and no outer make's flags (make test runs this test).
    dropped = ("DATABASE_URL", "CELERY_", "REDIS_URL", "DJANGO_", "HOST", "MAKE", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        ROLLCALL_VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        PORT=str(port),
        STOP_TIMEOUT=str(STOP_TIMEOUT),
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    # make's prerequisites (virtualenv, Debian packages) are taken as done: this is about stopping.
    argv = (
        ["bin/run"]
        if command == "bin/run"
        else ["make", "--no-print-directory", "-o", "venv", "-o", "system-deps", "run"]
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    started: set[int] = set()
    run_pid = proc.pid
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            assert proc.poll() is None, f"{command} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer on port {port}:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.5)
        time.sleep(1)  # the worker and beat are up too
        started = {pid for pid in _descendants(proc.pid) if "sleep" not in _command(pid)}
        commands = " | ".join(_command(pid) for pid in started)
        assert "runserver 127.0.0.1:" in commands  # on this machine only, unless HOST says otherwise
        assert "worker" in commands and "beat" in commands

        run_pid = proc.pid if command == "bin/run" else next(p for p in started if "bin/run" in _command(p))

        os.kill(proc.pid, sig)  # to make alone, or to bin/run alone: never to their process group
        proc.wait(timeout=STOP_TIMEOUT + 15)
        deadline = time.monotonic() + STOP_TIMEOUT + 15
        while _alive(run_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(run_pid), log_path.read_text()[-3000:]
        # Once the command has ended, nothing it started is left: not a worker finishing later, not the port.
        left = [f"{pid}: {_command(pid)}" for pid in started if _alive(pid)]
        assert left == [], log_path.read_text()[-3000:]
        assert _port_free(port)
        if command == "bin/run":
            assert proc.returncode == 0  # stopping on request is not a failure
    finally:
        for pid in [proc.pid, *started]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait(timeout=10)
