"""Subject access: one person's data across the schools the requester may see, as JSON and PDF, read back."""

import io
import json

import pytest
from pypdf import PdfReader

from accounts.models import AuditEvent, Role
from tests.assessments.conftest import make_assessment
from tests.factories import MembershipFactory, RoleAssignmentFactory, member
from tests.pages.data_helpers import make_certificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(school_a, school_b):
    """An invigilator at A who is also a teacher at B, with a certificate at A."""
    here = member(
        school_a, "inv", username="zoe.inv", given_name="Zoë", family_name="Ó'Brien", email="zoe@alder.sch.uk"
    )
    there = MembershipFactory(school=school_b, account=here.account, person_type="staff")
    RoleAssignmentFactory(membership=there, role_id="teacher_security")
    make_certificate(school_a, here.account, make_assessment())
    return here


def _download(client, school, membership, fmt):
    return client.post(f"/s/{school.slug}/users/{membership.pk}/subject-access/", {"format": fmt})


def test_it_gives_the_json_of_the_schools_the_requester_may_see(login, centre_admin, school_a, person):
    response = _download(login(centre_admin), school_a, person, "json")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="subject-access-zoe.inv-')
    data = json.loads(response.content)
    assert data["account"]["user_name"] == "zoe.inv" and data["account"]["email"] == "zoe@alder.sch.uk"
    assert [part["school"] for part in data["schools"]] == ["Alder Academy"]  # not a Centre Admin at Birch
    alder = data["schools"][0]
    assert alder["memberships"][0]["person_type"] == "Staff"
    assert [r["role"] for r in alder["roles"]] == [Role.objects.get(code="inv").name]
    assert alder["certificates"][0]["assessment"] == "Invigilator Core"
    assert alder["assessment_progress"][0]["status"] == "Passed"
    event = AuditEvent.objects.get(action="data.subject_access.exported")
    assert event.school == school_a and event.target_id == str(person.account.pk) and event.actor == centre_admin


def test_a_requester_at_both_schools_gets_both(login, centre_admin, school_a, school_b, person):
    at_b = MembershipFactory(school=school_b, account=centre_admin, person_type="staff")
    RoleAssignmentFactory(membership=at_b, role_id="centre_admin")
    data = json.loads(_download(login(centre_admin), school_a, person, "json").content)
    assert [part["school"] for part in data["schools"]] == ["Alder Academy", "Birch High"]
    assert data["schools"][1]["roles"][0]["role"]


def test_the_pdf_reads_back(login, centre_admin, school_a, person):
    response = _download(login(centre_admin), school_a, person, "pdf")
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Zoë Ó'Brien" in text and "zoe.inv" in text and "Invigilator Core" in text and "Alder Academy" in text


def test_authority_refuses_a_nominated_contact_over_a_centre_admin(login, nominated_contact, centre_admin, school_a):
    admin_membership = centre_admin.memberships.get(school=school_a)
    response = _download(login(nominated_contact), school_a, admin_membership, "json")
    assert response.status_code == 302 and response["Location"].endswith("/edit/")
    assert not AuditEvent.objects.filter(action="data.subject_access.exported").exists()


def test_an_exams_officer_and_another_school_may_not(login, eo_user, other_school_admin, school_a, person):
    assert _download(login(eo_user), school_a, person, "json").status_code == 403
    assert _download(login(other_school_admin), school_a, person, "json").status_code in (403, 404)


def test_the_edit_page_offers_it_only_to_roles_that_may(login, centre_admin, eo_user, school_a, person):
    url = f"/s/{school_a.slug}/users/{person.pk}/edit/"
    assert "Download as PDF" in login(centre_admin).get(url).content.decode()
    assert "Download as PDF" not in login(eo_user).get(url).content.decode()
