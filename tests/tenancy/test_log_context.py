"""Log context: a request's id, school and account, and a job's id, school and task, on every line."""

import io
import json
import logging
import uuid

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from structlog.contextvars import get_contextvars

from accounts.services import census_report_start
from accounts.tasks import census_report
from config.logs import json_formatter
from tenancy.middleware import RequestIdMiddleware
from tenancy.models import Job
from tenancy.tasks import run_school_job


class JsonLines:
    def __init__(self):
        self.stream = io.StringIO()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def first(self, event_part: str) -> dict:
        return next(line for line in self.lines() if event_part in line["event"])


@pytest.fixture
def json_log(caplog):
    """The root logger's lines as the production formatter writes them."""
    captured = JsonLines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    # Development settings quieten the per-request line (runserver prints its own).
    caplog.set_level(logging.INFO, logger="rollcall.request")
    try:
        yield captured
    finally:
        root.removeHandler(handler)


def test_it_returns_the_callers_request_id(client, db):
    response = client.get("/health/", HTTP_X_REQUEST_ID="edge-7f3a.1")

    assert response.headers["X-Request-ID"] == "edge-7f3a.1"


def test_it_makes_a_new_request_id_when_there_is_none(client, db):
    first = client.get("/health/").headers["X-Request-ID"]
    second = client.get("/health/").headers["X-Request-ID"]

    assert uuid.UUID(hex=first) and uuid.UUID(hex=second)
    assert first != second


def test_it_replaces_a_request_id_that_could_forge_log_lines(client, db):
    response = client.get("/health/", HTTP_X_REQUEST_ID='x"}\n{"level": "critical')

    assert uuid.UUID(hex=response.headers["X-Request-ID"])


def test_it_binds_the_request_id_while_the_request_runs_and_unbinds_it_after():
    seen = {}

    def view(request):
        seen.update(get_contextvars())
        return HttpResponse()

    response = RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="abc-123"))

    assert seen == {"request_id": "abc-123"}
    assert response.headers["X-Request-ID"] == "abc-123"
    assert get_contextvars() == {}


def test_a_json_line_carries_the_request_id_school_and_account(login, centre_admin, school_a, json_log):
    response = login(centre_admin).get(f"/s/{school_a.slug}/users/", HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 200
    line = json_log.first("request")
    assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
    assert line["logger"] == "rollcall.request"
    assert line["level"] == "info"
    assert line["request_id"] == "req-42"
    assert line["school"] == "alder"
    assert line["user_id"] == str(centre_admin.pk)
    assert line["route"] == "s/<slug:school_slug>/users/"
    assert line["status"] == 200


def test_djangos_own_lines_for_the_request_carry_its_id(login, centre_admin, school_a, json_log):
    missing = uuid.uuid4()
    response = login(centre_admin).get(f"/s/{school_a.slug}/users/{missing}/edit/", HTTP_X_REQUEST_ID="req-404")

    assert response.status_code == 404
    line = json_log.first("Not Found")
    assert line["logger"] == "django.request"
    assert line["request_id"] == "req-404"
    assert line["school"] == "alder"


def test_lines_about_a_request_name_its_route_not_a_token_in_its_path(client, db, json_log):
    response = client.get("/welcome/secret-token-value/")

    assert response.status_code == 410
    assert "secret-token-value" not in json_log.stream.getvalue()
    assert json_log.first("request")["route"] == "welcome/<str:token>/"
    assert json_log.first("Gone")["event"] == "Gone: /welcome/<str:token>/"


def test_a_jobs_lines_carry_its_job_id_school_and_task(
    school_a, centre_admin, json_log, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = census_report_start(school=school_a, actor=centre_admin)

    census_report.apply(args=[str(school_a.pk), str(job.pk)])  # delivered again: logs and does nothing

    line = json_log.first("already claimed")
    assert line["job_id"] == str(job.pk)
    assert line["school"] == "alder"
    assert line["task"] == "accounts.census_report"
    assert line["task_id"]
    assert get_contextvars() == {}


def test_a_failed_jobs_error_line_carries_its_job_id(school_a, json_log):
    job = Job.objects.create(school=school_a, kind=Job.Kind.CENSUS)

    def work(_job):
        raise RuntimeError("feed unreadable")

    run_school_job(str(school_a.pk), str(job.pk), work)

    line = json_log.first("failed")
    assert line["level"] == "error"
    assert line["job_id"] == str(job.pk)
    assert "RuntimeError: feed unreadable" in line["exception"]
