"""Apply: one job, one transaction, bulk writes, every change audited with the job."""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import Account, AuditEvent, Membership, RoleAssignment, SetPasswordLink, StarterCode
from provisioning.models import UploadBatch
from provisioning.upload import services
from provisioning.upload.services.apply import _Writer
from tenancy.models import Job
from tests.factories import member
from tests.provisioning.upload.helpers import csv_bytes, staff_row, xlsx_bytes


def receive(school, actor, data, name="users.xlsx"):
    return services.upload_receive(school=school, actor=actor, file_name=name, data=data)


def apply(school, actor, batch, capture, mode="add_update", method="starter_codes", add_existing=True):
    with capture(execute=True):
        job = services.upload_apply_start(
            school=school, actor=actor, batch=batch, mode=mode, password_method=method, add_existing=add_existing,
            consent=True,
        )  # fmt: skip
    job.refresh_from_db()
    batch.refresh_from_db()
    return job


def test_a_failure_half_way_changes_no_account(school_a, eo_user, monkeypatch, django_capture_on_commit_callbacks):
    existing = member(school_a, "inv", username="kept.same", email="k@alder.sch.uk", given_name="Kept")
    rows = [staff_row(n) for n in range(30)] + [["kept.same", "Changed", "X", "k@alder.sch.uk", "Staff", "INV", ""]]
    batch = receive(school_a, eo_user, xlsx_bytes(rows))
    accounts_before = Account.objects.count()

    def boom(self, created):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_Writer, "_credentials", boom)  # after accounts, memberships, roles, updates
    job = apply(school_a, eo_user, batch, django_capture_on_commit_callbacks)
    assert job.state == Job.State.FAILED
    assert "changed nothing" in job.error
    assert batch.state == UploadBatch.State.FAILED
    assert Account.objects.count() == accounts_before
    assert not RoleAssignment.objects.filter(membership__account__username__startswith="new.person").exists()
    existing.account.refresh_from_db()
    assert existing.account.given_name == "Kept"
    assert not AuditEvent.objects.filter(job=job, action__startswith="accounts.").exists()


def test_it_creates_updates_adds_and_audits_with_the_job(school_a, school_b, centre_admin,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    here = member(school_a, "inv", username="kim.here", email="kim@alder.sch.uk", given_name="Kim")
    elsewhere = member(school_b, username="pat.trust", email="pat@trust.org.uk").account
    rows = [
        staff_row(1, role="EO"),
        ["kim.here", "Kimberley", here.account.family_name, "kim@alder.sch.uk", "Staff", "INV, SLT", "K1"],
        ["pat.trust", "Pat", "Trust", "pat@trust.org.uk", "Staff", "INV", "P1"],
        ["bad row", "", "", "", "Staff", "Wizard", ""],
    ]
    batch = receive(school_a, centre_admin, xlsx_bytes(rows))
    job = apply(school_a, centre_admin, batch, django_capture_on_commit_callbacks)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.counts == {"Created": 1, "Updated": 1, "Added to your school": 1, "Error": 1}

    new = Account.objects.get(username="new.person1")
    assert new.must_change_password and not new.has_usable_password()
    assert RoleAssignment.objects.get(membership__account=new).role_id == "eo"
    here.refresh_from_db()
    here.account.refresh_from_db()
    assert here.account.given_name == "Kimberley" and here.mis_code == "K1"
    assert set(RoleAssignment.objects.filter(membership=here).values_list("role_id", flat=True)) == {"inv", "slt"}
    added = Membership.objects.get(school=school_a, account=elsewhere)
    assert added.mis_code == "P1"
    assert Account.objects.filter(username__iexact="pat.trust").count() == 1

    actions = sorted(AuditEvent.objects.filter(job=job).values_list("action", flat=True))
    assert actions == sorted([
        "accounts.account.created", "accounts.role.assigned", "accounts.starter_code.issued",
        "accounts.account.updated", "accounts.membership.updated", "accounts.role.assigned",
        "accounts.membership.added", "accounts.role.assigned",
        "provisioning.upload.applied", "provisioning.upload.consent_acknowledged",
    ])  # fmt: skip
    code_event = AuditEvent.objects.get(job=job, action="accounts.starter_code.issued")
    assert code_event.changes["starter_code"] == ["••••••", "••••••"]

    report = load_workbook(io.BytesIO(job.report.read())).active
    assert [c.value for c in report[1]][-2:] == ["Outcome", "Message"]
    assert [report.cell(r, 8).value for r in range(2, 6)] == ["Created", "Updated", "Added to your school", "Error"]
    assert "Wizard" in report.cell(5, 9).value
    assert report.cell(5, 6).fill.fgColor.rgb.endswith("F8C9C4")  # the Role cell of the faulty row
    assert report.cell(2, 6).fill.fgColor.rgb in (None, "00000000")


def test_invitations_are_single_use_links_sent_after_commit(school_a, eo_user, django_capture_on_commit_callbacks):
    rows = [staff_row(1), ["stu.one", "Stu", "One", "", "Student", "", ""]]
    header = ["Username", "Given Names", "Family Name", "Email", "Person Type", "Role", "MIS Code"]
    batch = receive(school_a, eo_user, xlsx_bytes(rows, header=header))
    job = apply(school_a, eo_user, batch, django_capture_on_commit_callbacks, method="invitations")
    assert job.state == Job.State.SUCCEEDED, job.error
    link = SetPasswordLink.objects.get(account__username="new.person1")
    assert link.purpose == "invitation" and link.job_id == job.pk and link.is_usable
    assert len(mail.outbox) == 1 and "/welcome/" in mail.outbox[0].body
    assert mail.outbox[0].to == ["new.person1@alder.sch.uk"]
    # The student has no email, so they get a starter code on the credentials sheet instead.
    assert StarterCode.objects.filter(account__username="stu.one").count() == 1
    assert batch.credentials


def test_credentials_sheet_is_for_the_uploader_for_24_hours(
    login, school_a, eo_user, django_capture_on_commit_callbacks
):
    other_eo = member(school_a, "eo", username="eo.two").account
    batch = receive(school_a, eo_user, xlsx_bytes([staff_row(1)]))
    apply(school_a, eo_user, batch, django_capture_on_commit_callbacks)
    url = f"/s/{school_a.slug}/users/upload/{batch.pk}/credentials/"
    assert login(other_eo).get(url).status_code == 403
    response = login(eo_user).get(url)
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="provisioning.upload.credentials_downloaded", actor=eo_user).exists()

    UploadBatch.objects.filter(pk=batch.pk).update(credentials_expire_at=timezone.now() - timedelta(minutes=1))
    path = batch.credentials.path
    assert login(eo_user).get(url).status_code == 404
    batch.refresh_from_db()
    assert not batch.credentials
    import os

    assert not os.path.exists(path)


@pytest.mark.parametrize("rows", [100, 1000])
def test_apply_writes_do_not_grow_with_rows(school_a, eo_user, django_assert_max_num_queries, rows,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    """One statement per table whatever the number of people (the sync's writers: COPY on PostgreSQL, one
    executemany on SQLite): an account, a membership, a role, a starter code and 3 audit events each."""
    batch = receive(school_a, eo_user, csv_bytes([staff_row(n) for n in range(rows)]), "u.csv")
    services.upload_apply_start(school=school_a, actor=eo_user, batch=batch, mode="add_new",
                                password_method="starter_codes", add_existing=True, consent=True)  # fmt: skip
    job = Job.objects.get(school=school_a, kind="upload")
    # Measured: 26 and 29 on SQLite, 20 and 21 on PostgreSQL; what grows is the new plan's look-ups, in batches.
    with django_assert_max_num_queries(26 + 3 * (rows // 1000)):
        services.upload_apply_run(job)
    assert Account.objects.filter(username__startswith="new.person").count() == rows
    assert Membership.objects.filter(school=school_a, account__username__startswith="new.person").count() == rows
    assert RoleAssignment.objects.filter(school=school_a, granted_by=eo_user).count() == rows
    assert StarterCode.objects.filter(school=school_a, job=job).count() == rows
    assert (
        AuditEvent.objects.filter(job=job).count() == 3 * rows + 2
    )  # created, role, starter code; consent and applied


def test_consent_is_required(school_a, eo_user):
    batch = receive(school_a, eo_user, xlsx_bytes([staff_row(1)]))
    with pytest.raises(services.UploadRefused, match="Tick the box"):
        services.upload_apply_start(school=school_a, actor=eo_user, batch=batch, mode="add_new",
                                    password_method="starter_codes", add_existing=True, consent=False)  # fmt: skip
    assert not Job.objects.exists()


def test_a_batch_is_applied_once(school_a, eo_user, django_capture_on_commit_callbacks):
    batch = receive(school_a, eo_user, xlsx_bytes([staff_row(1)]))
    apply(school_a, eo_user, batch, django_capture_on_commit_callbacks)
    with pytest.raises(services.UploadRefused, match="already been applied"):
        apply(school_a, eo_user, batch, django_capture_on_commit_callbacks)


def test_apply_refuses_a_change_to_someone_who_became_centre_admin_after_the_preview(
    school_a, eo_user, django_capture_on_commit_callbacks
):
    from tests.factories import RoleAssignmentFactory

    colleague = member(school_a, "inv", username="lee.here", email="lee@alder.sch.uk", given_name="Lee")
    rows = [["lee.here", "Leonard", colleague.account.family_name, "lee@alder.sch.uk", "Staff", "INV", ""]]
    batch = receive(school_a, eo_user, xlsx_bytes(rows))
    preview = services.upload_preview(school=school_a, account=eo_user, batch=batch, mode="add_update")
    assert preview.rows[0].outcome == "update"

    RoleAssignmentFactory(membership=colleague, role_id="centre_admin")
    job = apply(school_a, eo_user, batch, django_capture_on_commit_callbacks)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.counts == {"Error": 1}
    colleague.account.refresh_from_db()
    assert colleague.account.given_name == "Lee"
    assert not AuditEvent.objects.filter(job=job, action="accounts.account.updated").exists()
    report = load_workbook(io.BytesIO(job.report.read())).active
    assert report.cell(2, 8).value == "Error"
    message = report.cell(2, 9).value
    assert "row 2, Given Names *: this person holds roles you may not grant (Centre Admin)" in message
    assert report.cell(2, 2).fill.fgColor.rgb.endswith("F8C9C4")
