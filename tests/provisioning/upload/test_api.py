"""The same upload over the API: POST the file, read the preview, apply, poll the job."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account
from accounts.services.tokens import api_token_issue
from tests.provisioning.upload.helpers import staff_row, xlsx_bytes


def _post_file(client, school, data, name="users.xlsx", **headers):
    return client.post(
        f"/api/s/{school.slug}/uploads/", {"file": SimpleUploadedFile(name, data)}, format="multipart", **headers
    )


def test_it_uploads_previews_and_applies_over_the_api(client, school_a, centre_admin,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    _, raw = api_token_issue(school=school_a, account=centre_admin, name="script", role_codes=["centre_admin"])
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    response = _post_file(client, school_a, xlsx_bytes([staff_row(1), staff_row(2, role="Centre Admin")]), **auth)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"]["create"] == 1 and body["counts"]["error"] == 1
    assert body["rows"][1]["problems"][0] == {
        "row": 3, "column": "Roles", "message": "you may not grant Centre Admin in an upload", "warning": False,
    }  # fmt: skip

    preview = client.get(f"/api/s/{school_a.slug}/uploads/{body['id']}/?mode=update_only", **auth).json()
    assert preview["counts"]["skip"] == 1

    refused = client.post(f"/api/s/{school_a.slug}/uploads/{body['id']}/apply/", {"consent": False},
                          content_type="application/json", **auth)  # fmt: skip
    assert refused.status_code == 400 and "Tick the box" in refused.json()["detail"]

    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post(
            f"/api/s/{school_a.slug}/uploads/{body['id']}/apply/",
            {"consent": True, "mode": "add_new"},
            content_type="application/json",
            **auth,
        )
    assert applied.status_code == 202
    job = client.get(applied.json()["job_url"], **auth).json()
    assert job["state"] == "succeeded"
    assert Account.objects.filter(username="new.person1").exists()
    assert not Account.objects.filter(username="new.person2").exists()


def test_a_bad_file_over_the_api_is_a_400_with_the_reason(login, school_a, eo_user):
    response = _post_file(login(eo_user), school_a, b"%PDF-1.5 not a sheet")
    assert response.status_code == 400
    assert "is a PDF document" in response.json()["detail"]


def test_the_api_needs_the_upload_permission(login, school_a, inv_user, other_school_admin):
    assert _post_file(login(inv_user), school_a, xlsx_bytes([staff_row(1)])).status_code == 403
    assert _post_file(login(other_school_admin), school_a, xlsx_bytes([staff_row(1)])).status_code == 404


def test_a_missing_file_field_is_a_400(login, school_a, eo_user):
    response = login(eo_user).post(f"/api/s/{school_a.slug}/uploads/", {"other": io.BytesIO(b"x")})
    assert response.status_code == 400
