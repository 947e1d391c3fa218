"""The dashboard's pictures (issue 20): counts in the Account Manager's definitions, each part a link to the list
it counts, a table as the text alternative; the exams roles see training instead of a people census."""

import pytest
from django.urls import reverse

from provisioning.contacts.selectors import person_state_counts
from tests.factories import MembershipFactory, member

pytestmark = pytest.mark.django_db


def test_it_counts_students_active_only_when_activated(login, nominated_contact, school_a):
    MembershipFactory(school=school_a, person_type="student", account__must_change_password=True)
    counts = person_state_counts(school=school_a, person_type="student")
    assert counts["not_yet_activated"] == 1 and counts["active"] == 0
    html = login(nominated_contact).get(reverse("dashboard", kwargs={"school_slug": school_a.slug})).content.decode()
    assert 'id="contact-states-chart"' in html and 'id="activation-chart"' in html
    assert f"/s/{school_a.slug}/account-manager/?type=student&amp;status=not_yet_activated" in html or (
        "type=student&amp;status=not_yet_activated" in html
    )
    assert "People at" in html and "<table" in html  # the figures as a table


def test_the_exams_officer_sees_training_not_a_census(login, school_a):
    eo = member(school_a, "eo").account
    html = login(eo).get(reverse("dashboard", kwargs={"school_slug": school_a.slug})).content.decode()
    assert 'id="training-pictures"' in html and 'id="expiring-chart"' in html
    assert 'id="people-pictures"' not in html


def test_the_training_pictures_link_to_the_user_summary_narrowed_to_what_they_count(login, school_a):
    from assessments.models import AssessmentProgress
    from tests.assessments.conftest import make_assessment

    assessment = make_assessment()
    passed = member(school_a, "inv", given_name="Passed")
    member(school_a, "inv", given_name="Waiting")
    AssessmentProgress.objects.create(school=school_a, account=passed.account, assessment=assessment, status="passed")
    eo = member(school_a, "eo").account
    client = login(eo)
    html = client.get(reverse("dashboard", kwargs={"school_slug": school_a.slug})).content.decode()
    href = f"/s/{school_a.slug}/assessments/summary/?assessment={assessment.pk}&amp;status=passed"
    assert href in html
    summary = client.get(href.replace("&amp;", "&")).content.decode()
    assert "Showing only" in summary and "Passed" in summary and "Waiting" not in summary
    rest = client.get(href.replace("&amp;", "&").replace("passed", "not_started")).content.decode()
    assert "Waiting" in rest and ">Passed<" not in rest
    assert "Showing only" not in client.get(f"/s/{school_a.slug}/assessments/summary/?status=bogus").content.decode()
