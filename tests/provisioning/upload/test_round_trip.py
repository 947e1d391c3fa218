"""The seed-003 path: Download Template, fill it, upload, preview, apply, the users exist."""

import io
import re

from openpyxl import load_workbook

from accounts.models import Account, AuditEvent, Membership, RoleAssignment, StarterCode
from provisioning.models import UploadBatch
from tenancy.models import Job


def test_it_round_trips_the_template_into_accounts(login, eo_user, school_a, django_capture_on_commit_callbacks):
    client = login(eo_user)
    response = client.get(f"/s/{school_a.slug}/users/upload/template/")
    assert response.status_code == 200
    assert 'filename="UserUploadTemplate.xlsx"' in response["Content-Disposition"]

    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook["Users"]
    assert sheet.cell(2, 1).value == "sample.person"
    sheet.delete_rows(2)
    sheet.append(["jo.bloggs", "Jo", "Bloggs", "jo.bloggs@alder.sch.uk", "Staff", "EO", "T001"])
    sheet.append(["pat.inv", "Pat", "Ince", "pat@alder.sch.uk", "Staff", "INV", "T002"])
    filled = io.BytesIO()
    workbook.save(filled)
    filled.seek(0)
    filled.name = "UserUploadTemplate.xlsx"

    response = client.post(f"/s/{school_a.slug}/users/upload/", {"file": filled})
    assert response.status_code == 302
    batch = UploadBatch.objects.get(school=school_a)
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert re.search(r'data-outcome="create">2<', preview.content.decode())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/s/{school_a.slug}/users/upload/{batch.pk}/apply/",
            {"mode": "add_new", "password_method": "starter_codes", "consent": "on"},
        )
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.state == UploadBatch.State.APPLIED
    assert batch.job.state == Job.State.SUCCEEDED
    jo = Account.objects.get(username="jo.bloggs")
    assert Membership.objects.get(school=school_a, account=jo).mis_code == "T001"
    assert set(RoleAssignment.objects.filter(membership__account=jo).values_list("role_id", flat=True)) == {"eo"}
    assert StarterCode.objects.filter(account=jo, job=batch.job).count() == 1
    assert AuditEvent.objects.filter(job=batch.job, action="accounts.account.created").count() == 2
    assert AuditEvent.objects.filter(action="provisioning.upload.consent_acknowledged", actor=eo_user).count() == 1

    result = client.get(response["Location"])
    assert "Download starter codes" in result.content.decode()
    codes = client.get(f"/s/{school_a.slug}/users/upload/{batch.pk}/credentials/")
    rows = list(load_workbook(io.BytesIO(b"".join(codes.streaming_content))).active.iter_rows(values_only=True))
    assert {r[0] for r in rows[1:]} == {"jo.bloggs", "pat.inv"}
