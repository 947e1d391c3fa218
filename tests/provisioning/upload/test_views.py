"""Who may open the upload screens, and what each answers."""

import io

import pytest
from openpyxl import load_workbook

from provisioning.models import UploadBatch
from provisioning.upload import services
from tests.factories import member
from tests.provisioning.upload.helpers import staff_row, xlsx_bytes

PAGES = ["users/upload/", "users/upload/template/"]


@pytest.mark.parametrize("page", PAGES)
def test_inv_user_cannot_open_upload_pages(login, inv_user, school_a, page):
    assert login(inv_user).get(f"/s/{school_a.slug}/{page}").status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_other_school_admin_sees_nothing(login, other_school_admin, school_a, page):
    assert login(other_school_admin).get(f"/s/{school_a.slug}/{page}").status_code == 404


def test_another_schools_batch_is_not_found(login, school_a, school_b, eo_user, other_school_admin):
    batch = services.upload_receive(school=school_a, actor=eo_user, file_name="u.xlsx", data=xlsx_bytes([staff_row(1)]))
    for suffix in ("", "report/", "result/", "credentials/"):
        response = login(other_school_admin).get(f"/s/{school_b.slug}/users/upload/{batch.pk}/{suffix}")
        assert response.status_code == 404


@pytest.mark.parametrize("fixture", ["eo_user", "nominated_contact", "centre_admin"])
def test_people_who_may_upload_open_the_page(login, school_a, fixture, request):
    response = login(request.getfixturevalue(fixture)).get(f"/s/{school_a.slug}/users/upload/")
    assert response.status_code == 200
    assert "Download Template" in response.content.decode()
    assert "Bulk User Synchronise" in response.content.decode() or "preferred" in response.content.decode()


def test_the_template_offers_only_grantable_roles(login, school_a, eo_user):
    response = login(eo_user).get(f"/s/{school_a.slug}/users/upload/template/")
    workbook = load_workbook(io.BytesIO(response.content))
    users = workbook["Users"]
    assert [c.value for c in users[1]][:3] == ["User Name", "Given Names *", "Family Name *"]
    formulas = {dv.formula1 for dv in users.data_validations.dataValidation}
    assert formulas == {'"Student,Staff,Contact"', '"EO,SLT,INV"'}
    instructions = [row[0] for row in workbook["Instructions"].iter_rows(values_only=True)]
    assert "Roles" in instructions and "MIS Code" in instructions


def test_a_centre_admin_template_never_offers_centre_admin(login, school_a, centre_admin):
    response = login(centre_admin).get(f"/s/{school_a.slug}/users/upload/template/")
    roles = [dv.formula1 for dv in load_workbook(io.BytesIO(response.content))["Users"].data_validations.dataValidation]
    assert any("EO,SLT,INV" in f for f in roles)
    assert not any("Centre Admin" in f for f in roles)


def test_the_csv_template(login, school_a, eo_user):
    response = login(eo_user).get(f"/s/{school_a.slug}/users/upload/template/?format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="UserUploadTemplate.csv"'
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("User Name,Given Names *,Family Name *,Email,Person Type,Roles,MIS Code")
    assert "sample.person" in text


def test_the_preview_lists_errors_with_row_and_column(upload_file, login, school_a, eo_user):
    rows = [staff_row(1), ["no.given", "", "Given", "n@alder.sch.uk", "Staff", "INV", ""]]
    response = upload_file(eo_user, xlsx_bytes(rows))
    page = login(eo_user).get(response["Location"]).content.decode()
    assert "row 3, Given Names *: is required" in page
    assert 'data-outcome="error">1<' in page


def test_applying_without_consent_shows_the_preview_again(upload_file, login, school_a, eo_user):
    upload_file(eo_user, xlsx_bytes([staff_row(1)]))
    batch = UploadBatch.objects.get()
    response = login(eo_user).post(
        f"/s/{school_a.slug}/users/upload/{batch.pk}/apply/", {"mode": "add_new", "password_method": "starter_codes"}
    )
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    batch.refresh_from_db()
    assert batch.state == UploadBatch.State.PREVIEWED


def test_an_nc_cannot_grant_exams_roles(upload_file, login, school_a, nominated_contact):
    response = upload_file(nominated_contact, xlsx_bytes([staff_row(1, role="EO")]))
    page = login(nominated_contact).get(response["Location"]).content.decode()
    assert "you may not grant EO in an upload" in page


def test_the_checked_file_download_marks_problems(upload_file, login, school_a, eo_user):
    upload_file(eo_user, xlsx_bytes([staff_row(1), ["x y", "A", "B", "", "Staff", "INV", ""]]))
    batch = UploadBatch.objects.get()
    response = login(eo_user).get(f"/s/{school_a.slug}/users/upload/{batch.pk}/report/")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.cell(2, 8).value == "To create"
    assert sheet.cell(3, 8).value == "Error"
    assert "may contain only letters" in sheet.cell(3, 9).value


def test_a_member_of_both_schools_uploads_into_the_school_in_the_url(login, school_a, school_b, eo_user):
    member(school_b, "eo", username="eo.birch")
    client = login(eo_user)
    handle = io.BytesIO(xlsx_bytes([staff_row(1)]))
    handle.name = "u.xlsx"
    client.post(f"/s/{school_a.slug}/users/upload/", {"file": handle})
    assert UploadBatch.objects.get().school == school_a
