import pytest

from assessments import services
from tests.assessments.conftest import answers_for
from tests.factories import member


def _pass(school, account, assessment):
    services.assessment_start(school=school, account=account, assessment=assessment)
    for section in assessment.sections.all():
        result = services.section_submit(
            school=school, account=account, assessment=assessment, section=section, answers=answers_for(section)
        )
    return result.certificate


def test_it_lists_my_assessments_with_status(login, inv_user, school_a, assessment):
    _pass(school_a, inv_user, assessment)
    response = login(inv_user).get(f"/api/s/{school_a.slug}/assessments/")
    assert response.status_code == 200
    [row] = response.json()
    assert (row["title"], row["status"], row["result"]) == (assessment.title, "Passed", "2/2")
    assert row["certificate"]["code"].startswith("RC-")


def test_it_lists_a_persons_progress_for_eo(login, eo_user, inv_user, school_a, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    membership = inv_user.memberships.get(school=school_a)
    response = login(eo_user).get(f"/api/s/{school_a.slug}/assessments/progress/{membership.pk}/")
    assert response.status_code == 200
    assert response.json()[0]["status"] == "Started"


@pytest.mark.parametrize("persona,expected", [("inv_user", 403), ("other_school_admin", 404)])
def test_progress_is_refused_to_people_without_the_permission(request, login, persona, expected, school_a, eo_user):
    membership = eo_user.memberships.get(school=school_a)
    client = login(request.getfixturevalue(persona))
    assert client.get(f"/api/s/{school_a.slug}/assessments/progress/{membership.pk}/").status_code == expected


def test_it_fetches_my_certificate_pdf(login, inv_user, school_a, assessment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        certificate = _pass(school_a, inv_user, assessment)
    response = login(inv_user).get(f"/api/s/{school_a.slug}/assessments/certificates/{certificate.pk}/pdf/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_pdf_still_rendering_answers_409(login, inv_user, school_a, assessment):
    certificate = _pass(school_a, inv_user, assessment)
    response = login(inv_user).get(f"/api/s/{school_a.slug}/assessments/certificates/{certificate.pk}/pdf/")
    assert response.status_code == 409


def test_another_persons_certificate_is_not_found_for_inv(login, inv_user, school_a, assessment):
    certificate = _pass(school_a, member(school_a, "inv").account, assessment)
    response = login(inv_user).get(f"/api/s/{school_a.slug}/assessments/certificates/{certificate.pk}/pdf/")
    assert response.status_code == 404
