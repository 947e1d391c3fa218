"""A big apply's audit events go through a connection of their own (bulk.rows_stored), kept or dropped with
the apply's changes, never one without the other."""

import pytest
from django.db import connection

from accounts.models import Account, AuditEvent
from provisioning.upload import services
from provisioning.upload.services import apply as upload_apply
from tenancy.models import Job
from tests.provisioning.sync_helpers import threads_writing_aside
from tests.provisioning.upload.helpers import csv_bytes, staff_row

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection's writes: PostgreSQL only"),
]


@pytest.fixture
def aside(monkeypatch):
    """Every apply's events are enough to go aside; records which thread wrote them."""
    monkeypatch.setattr(upload_apply, "AUDIT_ASIDE_MIN", 1)
    return threads_writing_aside(monkeypatch)


def _apply(school, actor, rows: int) -> Job:
    batch = services.upload_receive(school=school, actor=actor, file_name="u.csv",
                                    data=csv_bytes([staff_row(n) for n in range(rows)]))  # fmt: skip
    services.upload_apply_start(school=school, actor=actor, batch=batch, mode="add_new",
                                password_method="starter_codes", add_existing=True, consent=True)  # fmt: skip
    job = Job.objects.get(school=school, kind="upload")
    if job.state == Job.State.QUEUED:  # the task is sent on commit; run it here if the test's Celery did not
        services.upload_apply_run(job)
    job.refresh_from_db()
    return job


def test_a_big_applys_audit_events_are_written_aside_and_kept_with_its_changes(school_a, eo_user, aside):
    job = _apply(school_a, eo_user, 20)
    assert aside == ["rollcall-rows-aside"]
    assert job.state == Job.State.SUCCEEDED
    assert Account.objects.filter(username__startswith="new.person").count() == 20
    assert AuditEvent.objects.filter(job=job).count() == 3 * 20 + 2  # created, role, starter code; consent, applied


def test_an_apply_that_fails_after_its_events_were_written_keeps_neither(school_a, eo_user, aside, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the report broke")

    monkeypatch.setattr(upload_apply, "report_workbook", broken)
    job = _apply(school_a, eo_user, 20)
    assert job.state == Job.State.FAILED
    assert aside == ["rollcall-rows-aside"]
    assert not Account.objects.filter(username__startswith="new.person").exists()
    assert not AuditEvent.objects.filter(action__startswith="accounts.").exists()
