"""The trust console (issue 24): an organisation's schools side by side, a people search across them, for its
Trust Admins and Trust Viewers only, in a fixed number of queries whatever the number of schools."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent, OrganisationRole
from provisioning.models import Feed, SyncRun
from tests.factories import (
    ContactLinkFactory,
    MembershipFactory,
    OrganisationFactory,
    SchoolFactory,
    member,
    trust_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trust(db):
    return OrganisationFactory(name="Oak Learning Trust", slug="oak")


@pytest.fixture
def oak_schools(trust):
    return [SchoolFactory(organisation=trust, name=f"Oak School {n}", slug=f"oak-{n}") for n in (1, 2)]


@pytest.fixture
def viewer(trust):
    return trust_role(trust, "trust_viewer", username="viewer.oak")


@pytest.fixture
def elsewhere(db):
    """A school of another organisation: the console never shows it."""
    return SchoolFactory(name="Elm Elsewhere Academy", slug="elm")


def fill(school, *, students=2, runs_waiting=0, failed_feeds=0, revoke=0):
    for _ in range(students):
        MembershipFactory(school=school, person_type="student")
    member(school, "eo")
    for _ in range(runs_waiting):
        SyncRun.objects.create(school=school, trigger="manual", state="needs_confirmation")
    for _ in range(failed_feeds):
        Feed.objects.create(school=school, file_name="f.csv", file_format="rollcall_csv", state="rejected")
    for _ in range(revoke):
        # Activated (a chosen password) but no longer linked to a current student: Ready to Revoke Access.
        contact = MembershipFactory(school=school, person_type="contact", portal_access=True)
        ContactLinkFactory(school=school, contact=contact, student=MembershipFactory(school=school, status="left"))


def test_it_shows_each_school_of_the_trust_with_its_counts_and_links(client, trust, oak_schools, viewer, elsewhere):
    fill(oak_schools[0], students=3, runs_waiting=1, failed_feeds=2, revoke=1)
    fill(elsewhere, students=5)
    client.force_login(viewer)

    html = client.get("/t/oak/").content.decode()

    assert "Oak School 1" in html and "Oak School 2" in html
    assert "Elm Elsewhere" not in html
    assert 'href="/s/oak-1/"' in html  # each row opens the school
    row = html.split('data-school="oak-1"')[1].split("</tr>")[0]
    assert ">3</a>" in row  # students
    assert 'data-testid="runs-waiting"' in row and ">1</a>" in row
    assert "2 failed feeds at Oak School 1" in row
    assert "1 contacts Ready to Revoke Access at Oak School 1" in row
    assert "/s/oak-1/account-manager/?type=contact&amp;status=ready_to_revoke" in row


def test_the_last_sync_shows_its_result_and_time(client, trust, oak_schools, viewer):
    old = SyncRun.objects.create(school=oak_schools[0], trigger="scheduled", state="failed")
    SyncRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    applied = timezone.now().replace(hour=2, minute=5)
    SyncRun.objects.create(school=oak_schools[0], trigger="scheduled", state="applied", applied_at=applied)
    client.force_login(viewer)

    row = client.get("/t/oak/").content.decode().split('data-school="oak-1"')[1].split("</tr>")[0]

    assert "Applied</a>, " in row and "02:05" in row
    assert "No sync yet" in client.get("/t/oak/").content.decode().split('data-school="oak-2"')[1]


def test_training_completion_counts_people_who_passed_every_active_assessment(client, trust, oak_schools, viewer):
    from assessments.models import AssessmentProgress
    from tests.assessments.conftest import make_assessment

    assessment = make_assessment()
    passed = member(oak_schools[0], "inv")
    member(oak_schools[0], "inv")
    AssessmentProgress.objects.create(
        school=oak_schools[0], account=passed.account, assessment=assessment, status="passed"
    )
    client.force_login(viewer)

    row = client.get("/t/oak/").content.decode().split('data-school="oak-1"')[1].split("</tr>")[0]

    assert ">1 of 2</a>" in row


def test_the_console_costs_the_same_queries_for_two_schools_or_six(client, trust, oak_schools, viewer):
    for school in oak_schools:
        fill(school, runs_waiting=1, failed_feeds=1, revoke=1)
    client.force_login(viewer)
    client.get("/t/oak/")  # warm: sessions, content types
    with CaptureQueriesContext(connection) as two:
        assert client.get("/t/oak/").status_code == 200
    for n in range(3, 7):
        fill(SchoolFactory(organisation=trust, slug=f"oak-{n}"), runs_waiting=1, failed_feeds=1, revoke=2)
    with CaptureQueriesContext(connection) as six:
        html = client.get("/t/oak/").content.decode()
    assert html.count("data-school=") == 6
    assert len(six) == len(two), [q["sql"] for q in six.captured_queries]


def test_the_search_shows_a_teacher_at_two_schools_once_with_each_school(client, trust, oak_schools, viewer, elsewhere):
    teacher = member(oak_schools[0], "eo", username="r.sharma", family_name="Sharma", given_name="Ravi")
    MembershipFactory(school=oak_schools[1], account=teacher.account, person_type="staff", mis_code="T-77")
    MembershipFactory(school=elsewhere, account__family_name="Sharma", account__username="other.sharma")
    client.force_login(viewer)

    html = client.get("/t/oak/people/", {"q": "sharma"}).content.decode()

    assert html.count('data-account="r.sharma"') == 1
    entry = html.split('data-account="r.sharma"')[1].split("</tr>")[0]
    assert 'data-school="oak-1"' in entry and 'data-school="oak-2"' in entry
    assert "Exams Officer" in entry and "MIS Code T-77" in entry
    assert "/s/oak-1/users/?q=r.sharma" in entry
    assert "other.sharma" not in html  # another organisation's person


@pytest.mark.parametrize("q", ["T-77", "ravi sharma", "r.sharma@", "RAVI"])
def test_the_search_finds_by_mis_code_name_username_and_email(client, trust, oak_schools, viewer, q):
    teacher = member(oak_schools[0], "eo", username="r.sharma", family_name="Sharma", given_name="Ravi")
    MembershipFactory(school=oak_schools[1], account=teacher.account, person_type="staff", mis_code="T-77")
    member(oak_schools[0], "eo", username="someone.else")
    client.force_login(viewer)

    html = client.get("/t/oak/people/", {"q": q}).content.decode()

    assert 'data-account="r.sharma"' in html and "someone.else" not in html


def test_the_search_costs_the_same_queries_for_two_schools_or_six(client, trust, oak_schools, viewer):
    for school in oak_schools:
        member(school, "eo", family_name="Common")
    client.force_login(viewer)
    client.get("/t/oak/people/", {"q": "common"})
    with CaptureQueriesContext(connection) as two:
        client.get("/t/oak/people/", {"q": "common"})
    for n in range(3, 7):
        member(SchoolFactory(organisation=trust, slug=f"oak-{n}"), "eo", "inv", family_name="Common")
    with CaptureQueriesContext(connection) as six:
        html = client.get("/t/oak/people/", {"q": "common"}).content.decode()
    assert html.count("data-account=") == 6
    assert len(six) == len(two)


def test_another_organisations_trust_role_gets_404_and_a_signed_out_visitor_is_sent_to_sign_in(
    client, trust, oak_schools, elsewhere
):
    stranger = trust_role(elsewhere.organisation, "trust_admin", username="admin.elm")
    client.force_login(stranger)
    assert client.get("/t/oak/").status_code == 404
    assert client.get("/t/oak/people/", {"q": "a"}).status_code == 404
    assert client.get("/t/no-such-trust/").status_code == 404
    assert client.get("/s/oak-1/").status_code == 404
    assert client.get(f"/t/{elsewhere.organisation.slug}/").status_code == 200
    client.logout()
    response = client.get("/t/oak/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_school_role_opens_no_console(client, trust, oak_schools):
    admin = member(oak_schools[0], "centre_admin").account
    client.force_login(admin)
    assert client.get("/t/oak/").status_code == 404
    assert "Trust console" not in client.get("/s/oak-1/").content.decode()


def test_a_trust_role_starts_on_the_console_and_the_menu_links_it(client, trust, oak_schools, viewer):
    client.force_login(viewer)
    assert client.get("/")["Location"] == "/t/oak/"
    html = client.get("/t/oak/").content.decode()
    assert 'href="/t/oak/people/"' in html
    assert 'href="/t/oak/viewers/"' not in html  # only a Trust Admin manages Trust Viewers
    assert client.get("/t/oak/viewers/").status_code == 403


def test_a_trust_admin_gives_and_takes_back_trust_viewer_audited(client, trust, oak_schools):
    admin = trust_role(trust, "trust_admin", username="admin.oak")
    teacher = member(oak_schools[1], "eo", username="t.new").account
    client.force_login(admin)
    assert 'href="/t/oak/viewers/"' in client.get("/t/oak/").content.decode()

    client.post("/t/oak/viewers/add/", {"username": "T.NEW"})

    held = OrganisationRole.objects.get(account=teacher)
    assert held.role == "trust_viewer" and held.granted_by == admin
    event = AuditEvent.objects.get(action="accounts.organisation_role.granted", target_id=str(teacher.pk))
    assert event.changes["organisation_role"] == [None, "Trust Viewer"] and event.actor == admin

    client.post("/t/oak/viewers/remove/", {"id": str(held.pk)})
    assert not OrganisationRole.objects.filter(account=teacher).exists()
    assert AuditEvent.objects.filter(action="accounts.organisation_role.revoked", target_id=str(teacher.pk)).exists()


def test_a_trust_admin_gives_trust_viewer_only_to_staff_of_its_own_schools(client, trust, oak_schools, elsewhere):
    admin = trust_role(trust, "trust_admin", username="admin.oak")
    outsider = member(elsewhere, "eo", username="elm.teacher").account
    client.force_login(admin)

    response = client.post("/t/oak/viewers/add/", {"username": "elm.teacher"}, follow=True)

    assert "Choose a member of staff" in response.content.decode()
    assert not OrganisationRole.objects.filter(account=outsider).exists()


def test_a_trust_admin_cannot_make_or_unmake_a_trust_admin(trust, oak_schools):
    from django.core.exceptions import PermissionDenied

    from accounts.services import organisation_role_grant, organisation_role_revoke

    admin = trust_role(trust, "trust_admin", username="admin.oak")
    other = trust_role(trust, "trust_admin", username="admin2.oak")
    teacher = member(oak_schools[0], "eo").account
    with pytest.raises(PermissionDenied):
        organisation_role_grant(organisation=trust, account=teacher, role="trust_admin", actor=admin)
    with pytest.raises(PermissionDenied):
        organisation_role_revoke(organisation=trust, account=other, actor=admin)
    with pytest.raises(PermissionDenied):  # nor demote one to viewer
        organisation_role_grant(organisation=trust, account=other, role="trust_viewer", actor=admin)
    assert OrganisationRole.objects.get(account=other).role == "trust_admin"


def test_another_organisations_grant_cannot_be_taken_back_through_this_console(client, trust, oak_schools, elsewhere):
    admin = trust_role(trust, "trust_admin", username="admin.oak")
    theirs = OrganisationRole.objects.get(account=trust_role(elsewhere.organisation, "trust_viewer"))
    client.force_login(admin)
    client.post("/t/oak/viewers/remove/", {"id": str(theirs.pk)})
    assert OrganisationRole.objects.filter(pk=theirs.pk).exists()
    assert client.post("/t/oak/viewers/remove/", {"id": "not-a-uuid"}).status_code == 302
