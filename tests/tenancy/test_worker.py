"""The job harness end to end through a real `celery worker` process, not eager mode.

The worker is a separate process on the configured broker (the filesystem broker by default,
Redis when CELERY_BROKER_URL says so) and reads the test database, so the test commits its rows
(a transactional test) and points the worker at the test database.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import PersonType
from accounts.services import census_report_start
from accounts.tasks import census_report
from config.celery import app
from tenancy.models import Job
from tests.factories import MembershipFactory, member

WORKER_TIMEOUT = 60


def _database_url_for_worker() -> str:
    """The test database (not the configured one) as a DATABASE_URL the worker's settings read."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if "postgresql" in db["ENGINE"]:
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"
    pytest.skip(f"no worker test for database engine {db['ENGINE']}")


def _require_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        message = f"Redis broker {url} is unreachable: {exc}"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)


@pytest.fixture
def real_worker(tmp_path):
    """A `celery -A config worker` subprocess sharing the broker and test database with this process."""
    broker_url = settings.CELERY_BROKER_URL
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        DATABASE_URL=_database_url_for_worker(),
        CELERY_BROKER_URL=broker_url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        PYTHONUNBUFFERED="1",
    )
    saved = {
        "task_always_eager": app.conf.task_always_eager,
        "broker_transport_options": app.conf.broker_transport_options,
    }
    if broker_url.startswith("filesystem://"):
        # A folder of its own, so a `make run` worker on this checkout cannot take the message.
        broker_dir = tmp_path / "broker"
        options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
        for key, sub in (
            ("data_folder_in", "queue"),
            ("data_folder_out", "queue"),
            ("processed_folder", "processed"),
            ("control_folder", "control"),
        ):
            (broker_dir / sub).mkdir(parents=True, exist_ok=True)
            options[key] = str(broker_dir / sub)
        env["CELERY_FS_DIR"] = str(broker_dir)
        app.conf.broker_transport_options = options
    elif broker_url.startswith("redis"):
        _require_redis(broker_url)

    app.conf.task_always_eager = False
    app._after_fork()  # drop pooled connections made with the old broker options
    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc, log_path
    finally:
        for key, value in saved.items():
            setattr(app.conf, key, value)
        app._after_fork()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


def _wait_for(job: Job, proc, log_path: Path) -> Job:
    deadline = time.monotonic() + WORKER_TIMEOUT
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (Job.State.SUCCEEDED, Job.State.FAILED):
            return job
        if proc.poll() is not None:
            pytest.fail(f"the worker exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.25)
    pytest.fail(f"job still {job.state} after {WORKER_TIMEOUT}s:\n{log_path.read_text(errors='replace')[-4000:]}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_runs_the_census_job_in_a_real_worker_and_ignores_a_redelivery(real_worker, school_a, centre_admin):
    proc, log_path = real_worker
    for year, n in (("Year 7", 3), ("Year 8", 2)):
        for _ in range(n):
            MembershipFactory(school=school_a, person_type=PersonType.STUDENT, year_group=year)
    member(school_a, person_type=PersonType.CONTACT)

    job = census_report_start(school=school_a, actor=centre_admin)

    job = _wait_for(job, proc, log_path)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.counts == {"student": 5, "staff": 1, "contact": 1}
    assert job.attempts == 1
    assert job.progress_done == job.progress_total == 7
    with job.report.open("rb") as fh:
        lines = fh.read().decode().splitlines()
    assert lines[0] == "Person type,Status,Year group,People"
    assert "Student,Active,Year 7,3" in lines
    assert "Student,Active,Year 8,2" in lines
    assert "Contact,Active,,1" in lines
    finished_at = job.finished_at

    # The same message delivered again: the worker finds the job claimed and leaves it alone.
    # A second job queued behind it tells us when the worker has got past the duplicate.
    census_report.delay(str(school_a.pk), str(job.pk))
    marker = _wait_for(census_report_start(school=school_a, actor=centre_admin), proc, log_path)
    assert marker.state == Job.State.SUCCEEDED
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.finished_at == finished_at
    # The worker logs through settings.LOGGING, and the job's lines carry its id, school and task.
    claimed = next(line for line in log_path.read_text(errors="replace").splitlines() if "already claimed" in line)
    assert f"job_id={job.pk}" in claimed
    assert "school=alder" in claimed
    assert "task=accounts.census_report" in claimed


@pytest.mark.django_db
def test_it_claims_a_job_once_when_its_task_is_delivered_twice(
    school_a, centre_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = census_report_start(school=school_a, actor=centre_admin)  # eager under test settings
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    finished_at, report_name = job.finished_at, job.report.name

    census_report(str(school_a.pk), str(job.pk))

    job.refresh_from_db()
    assert job.attempts == 1
    assert (job.finished_at, job.report.name) == (finished_at, report_name)


def test_a_job_whose_worker_died_is_taken_up_again_but_not_forever(school_a, centre_admin):
    from datetime import timedelta

    from django.utils import timezone

    from tenancy.models import Job
    from tenancy.services import JOB_MAX_ATTEMPTS, JOB_STALE_AFTER, job_claim

    job = census_report_start(school=school_a, actor=centre_admin)
    Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED)
    assert job_claim(job)
    assert not job_claim(job)  # running, and its worker reported lately: another delivery leaves it alone
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - JOB_STALE_AFTER - timedelta(minutes=1))
    assert job_claim(job)  # abandoned by a dead worker: taken up again
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - JOB_STALE_AFTER - timedelta(minutes=1), attempts=JOB_MAX_ATTEMPTS
    )
    assert not job_claim(job)


@pytest.mark.django_db
def test_the_census_is_in_words_and_in_school_year_order(school_a):
    """Found by trying it: the census said "contact,active" and sorted years 10, 11, 7."""
    from accounts.services.reports import census_report_build
    from tenancy.models import Job
    from tests.factories import MembershipFactory

    for year in ("10", "7", "11"):
        MembershipFactory(school=school_a, person_type="student", year_group=year)
    job = Job.objects.create(school=school_a, kind="demo")
    census_report_build(job)
    job.refresh_from_db()
    lines = job.report.read().decode("utf-8-sig").splitlines()
    students = [line for line in lines if line.startswith("Student,")]
    assert [line.split(",")[2] for line in students] == ["7", "10", "11"]
    assert all(",Active," in line for line in students)
