"""`make run`'s demo holds what each seed flow needs (README "Demo logins"): contacts in every state with every
reason, staff with progress, passes, a failed attempt and a certificate expiring soon, and a sample MIS
export whose first sync plans a few sensible changes."""

import pytest
from django.core.management import call_command
from django.db import transaction
from django_scopes import scope, scopes_disabled

from accounts.models import Account
from assessments.models import AssessmentProgress, Certificate, SectionAttempt
from assessments.selectors import certificates_expiring
from provisioning.contacts.selectors import (
    ContactStatus,
    PersonStatus,
    contact_list,
    contact_state_counts,
    person_state_counts,
    revoke_reasons,
)
from provisioning.sync.sample_feed import sample_feed
from tenancy.models import School
from tests.provisioning.sync_helpers import run_sync

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(scope="module")
def _demo_loaded(django_db_setup, django_db_blocker):
    """The demo, loaded once for the module (four seconds on PostgreSQL) in a transaction rolled back at its end;
    each test runs in a savepoint inside it, as a test of its own would, so what one test changes the next
    does not see."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo", stdout=open("/dev/null", "w"))
        yield
        transaction.set_rollback(True)


@pytest.fixture
def northfield(_demo_loaded, db):
    with scopes_disabled():
        school = School.objects.get(slug="northfield")
    with scope(school=school):
        yield school


def test_it_holds_contacts_in_every_state_with_every_reason(northfield):
    counts = contact_state_counts(school=northfield)
    assert all(counts[state.value] for state in ContactStatus), counts
    to_revoke = list(contact_list(school=northfield, state=ContactStatus.READY_TO_REVOKE))
    reasons = {row.label for row in revoke_reasons(school=northfield, contacts=to_revoke).values()}
    assert len(reasons) == 4, reasons


def test_it_holds_students_and_staff_active_and_not_yet_activated(northfield):
    students = person_state_counts(school=northfield, person_type="student")
    staff = person_state_counts(school=northfield, person_type="staff")
    for state in (PersonStatus.ACTIVE, PersonStatus.NOT_YET_ACTIVATED, PersonStatus.LOCKED_OUT, PersonStatus.LEFT):
        assert students[state.value], (state, students)
    assert staff[PersonStatus.ACTIVE.value] and staff[PersonStatus.NOT_YET_ACTIVATED.value]


def test_it_holds_staff_progress_passes_a_failed_attempt_and_an_expiring_certificate(northfield):
    inv = Account.objects.get(username="inv.northfield")
    assert AssessmentProgress.objects.filter(school=northfield, status="passed").count() >= 2
    assert SectionAttempt.objects.filter(school=northfield, passed=False, progress__account=inv).exists()
    assert Certificate.objects.filter(school=northfield, account=inv, status="valid").exists()
    assert certificates_expiring(school=northfield)[0][2] >= 1  # within 30 days


def test_the_sample_export_plans_a_few_sensible_changes(northfield):
    run = run_sync(northfield, sample_feed(school=northfield), apply=False)
    assert run.state == "planned", run.message
    counts = run.counts
    assert counts.get("create") == 2 and counts.get("archive") == 1, counts  # a student and a parent; a leaver
    assert counts.get("update", 0) <= 3, counts  # a form change and a portal flag, not a rename of everyone
    assert counts["unchanged"] > 100


def test_running_it_again_changes_nothing(northfield):
    before = Account.objects.count()
    call_command("load_demo", stdout=open("/dev/null", "w"))
    assert Account.objects.count() == before


def test_the_expiring_certificates_picture_links_to_their_holders(northfield, client):
    client.force_login(Account.objects.get(username="eo.northfield"))
    page = client.get(f"/s/{northfield.slug}/assessments/summary/?expiring=0-30").content.decode()
    assert "Showing only certificates expiring in 1–30 days (1)" in page and "inv.northfield" in page


def test_the_trust_logins_see_both_schools_from_the_console(northfield, client):
    with scopes_disabled():
        for username in ("trust.admin", "trust.viewer"):
            client.force_login(Account.objects.get(username=username))
            assert client.get("/")["Location"] == "/t/northfield-trust/"
            html = client.get("/t/northfield-trust/").content.decode()
            assert "Northfield Academy" in html and "Riverside Primary" in html
        viewer_sync = client.get("/s/northfield/sync/")
        client.force_login(Account.objects.get(username="trust.admin"))
        admin_sync = client.get("/s/northfield/sync/")
    assert viewer_sync.status_code == 403 and admin_sync.status_code == 200  # the demo trust lets admins act
