"""The embedded broker (filesystem transport) neither loses a message nor crashes the worker on one.

kombu's filesystem transport writes each message into the queue folder in place, and a worker polling the
folder can take the file while the producer is still writing it: it read a half-written message, died on
JSONDecodeError, and the message (a queued sync) was gone. Here several producer processes, each pausing
halfway through every write, send at once to a real worker, which must run every message, once.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.worker

PRODUCERS = 4
MESSAGES_EACH = 15
PAYLOAD_BYTES = 4096
TIMEOUT = 120

# A producer whose every write into the broker's folder stops halfway for a moment, as a busy machine's can:
# a reader that takes a message file before its producer has finished it reads half a message.
PRODUCER = """
import builtins, os, sys, time
from config.celery import app

run, producer, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
broker_dir = os.environ["CELERY_FS_DIR"]
real_open = builtins.open


class HalfwayPause:
    def __init__(self, f):
        self._f = f

    def write(self, data):
        half = len(data) // 2
        written = self._f.write(data[:half])
        self._f.flush()
        time.sleep(0.3)
        return written + self._f.write(data[half:])

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def open_pausing(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    return HalfwayPause(f) if "w" in mode and str(file).startswith(broker_dir) else f


builtins.open = open_pausing
with app.connection_for_write() as connection:
    for n in range(count):
        app.send_task("celery.accumulate", args=(f"{run}-{producer}-{n}", "x" * size), connection=connection)
"""


@pytest.fixture
def broker_env(tmp_path):
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the embedded broker is in use only without CELERY_BROKER_URL")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        ROLLCALL_VAR_DIR=str(tmp_path / "var"),
        CELERY_FS_DIR=str(tmp_path / "broker"),
        PYTHONUNBUFFERED="1",
    )
    return env


def test_concurrent_producers_lose_no_message_and_never_crash_the_worker(broker_env, tmp_path):
    run = uuid.uuid4().hex[:8]
    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--hostname", f"broker-{run}@%h"],
        cwd=settings.BASE_DIR, env=broker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    # What an older version's crash may have left: a message file that is not whole. Set aside, not fatal.
    queue_dir = Path(broker_env["CELERY_FS_DIR"]) / "queue"
    queue_dir.mkdir(parents=True, exist_ok=True)
    (queue_dir / "0_broken.celery.msg").write_bytes(b'{"body": "half a mess')
    try:
        producers = [
            subprocess.Popen(
                [sys.executable, "-c", PRODUCER, run, str(p), str(MESSAGES_EACH), str(PAYLOAD_BYTES)],
                cwd=settings.BASE_DIR,
                env=broker_env,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for p in range(PRODUCERS)
        ]
        for producer in producers:
            _, err = producer.communicate(timeout=TIMEOUT)
            assert producer.returncode == 0, err.decode(errors="replace")[-3000:]

        expected = {f"{run}-{p}-{n}" for p in range(PRODUCERS) for n in range(MESSAGES_EACH)}
        done: set[str] = set()
        deadline = time.monotonic() + TIMEOUT
        while done != expected and time.monotonic() < deadline:
            assert worker.poll() is None, f"the worker died:\n{log_path.read_text(errors='replace')[-4000:]}"
            time.sleep(0.5)
            text = log_path.read_text(errors="replace")
            done = set(re.findall(rf"celery\.accumulate\[[^\]]+\] succeeded in [^\n]*?\(\(?'({run}-\d+-\d+)'", text))
        text = log_path.read_text(errors="replace")
        assert done == expected, f"{len(expected - done)} of {len(expected)} messages never ran:\n{text[-4000:]}"
        assert worker.poll() is None
        assert (Path(broker_env["CELERY_FS_DIR"]) / "unreadable" / "0_broken.celery.msg").exists()
        assert "broker message unreadable, set aside" in text
    finally:
        try:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)
        log.close()
