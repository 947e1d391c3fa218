"""The sync preview, run report, history, CSV and the Edit page's History speak the users' words (issue 20,
defect 3): no snake_case keys, Python reprs or audit action names; link rows name both people."""

import csv
import io
import re
import zipfile

import pytest
from django.urls import reverse

from accounts.labels import audit_changes, labelled_changes
from provisioning.sync.labels import COUNT_LABELS, outcome_label
from tests.factories import MembershipFactory
from tests.provisioning.sync_helpers import contact, feed_zip, run_sync, student

pytestmark = pytest.mark.django_db

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# PRODUCT.md's "None: users sign in ..." and a quoted "None" name the password method, not a Python value.
REPR = re.compile(r"""\[\s*'|\bTrue\b|\bFalse\b|(?<!")\bNone\b(?!: users sign in|")|\{'""")


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def assert_in_words(text: str):
    assert not SNAKE.findall(text), SNAKE.findall(text)
    assert not REPR.findall(text), REPR.findall(text)


def _url(name, school, **kwargs):
    return reverse(name, kwargs={"school_slug": school.slug, **kwargs})


LINK = ["C1", "S1", "Parent", "yes"]


@pytest.fixture
def second_run(school_a):
    """A first sync makes Ann Smith and her parent Pat; the second renames her, turns the link's portal flag
    off (the relationship stays Parent), and drops S2 (a leaver, whose link is removed)."""
    first = feed_zip(
        [student("S1"), student("S2", "Bo", "Brown")],
        contacts=[contact("C1", email="pat@example.org")],
        links=[LINK, ["C1", "S2", "Parent", "yes"]],
    )
    run_sync(school_a, first, student_roles=["student_portal"], contact_roles=["parent"])
    second = feed_zip(
        [student("S1", family="Smith-Jones")],
        contacts=[contact("C1", email="pat@example.org")],
        links=[["C1", "S1", "Parent", "no"]],
    )
    return run_sync(school_a, second, apply=False)


def test_the_preview_names_fields_outcomes_and_both_people_in_words(login, nominated_contact, school_a, second_run):
    html = login(nominated_contact).get(_url("sync_run_detail", school_a, run_id=second_run.pk)).content.decode()
    text = visible_text(html)
    assert_in_words(text)
    assert "Family Name" in text and "Smith → Smith-Jones" in text
    assert "Contact link changed" in text and "Parent portal access" in text and "Yes → No" in text
    assert "Contact: Pat Parent (C1)" in text and "Student: Ann Smith-Jones (S1)" not in text
    assert "Student: Ann Smith (S1)" in text and "Student: Bo Brown (S2)" in text  # the removed link too
    assert "Parent → Parent" not in text and "Relationship" not in text
    assert text.count("Leavers") == 1  # counts printed once


def test_the_history_and_report_csv_are_in_words(login, nominated_contact, school_a, second_run):
    client = login(nominated_contact)
    text = visible_text(client.get(_url("sync_history", school_a)).content.decode())
    assert_in_words(text)
    assert "dry run" not in text and "Sync history" in text
    report = client.get(_url("sync_run_report", school_a, run_id=second_run.pk)).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    header = rows[0]
    assert "Family Name before" in header and "Family Name after" in header and "Before" not in header
    assert_in_words(report)
    changed = next(r for r in rows if r and r[0] == "Details changed")
    assert changed[header.index("Family Name after")] == "Smith-Jones"
    link = next(r for r in rows if r and r[0] == "Contact link changed")
    assert (
        link[header.index("Contact")] == "Pat Parent (C1)" and link[header.index("Parent portal access after")] == "No"
    )
    assert ["Leavers", "1"] in rows


def test_the_edit_pages_history_is_in_words(login, centre_admin, school_a, second_run):
    from provisioning.sync import services

    services.sync_apply(run=second_run)
    from accounts.models import Membership

    s1 = Membership.objects.get(school=school_a, mis_code="S1", person_type="student")
    html = login(centre_admin).get(f"/s/{school_a.slug}/users/{s1.pk}/edit/").content.decode()
    section = html[html.index('id="history-heading"') :]
    text = visible_text(section)
    assert_in_words(text)
    assert "MIS sync: Details changed" in text and "Smith-Jones" in text


def test_every_count_and_outcome_has_a_label():
    for key in COUNT_LABELS:
        assert not SNAKE.search(COUNT_LABELS[key])
    for outcome in ("create", "update", "transfer", "archive", "reactivate", "skipped", "unchanged"):
        assert not SNAKE.search(outcome_label(outcome)) and not SNAKE.search(outcome_label(outcome, "link"))


def test_labelled_changes_leave_out_ids_and_equal_values():
    rows = labelled_changes(
        {"relationship": "Parent", "portal_access": True, "roles": ["student_portal"]},
        {"relationship": "Parent", "portal_access": False, "roles": ["student_portal"], "contact_membership_id": "x"},
        {"student_portal": "Student Portal"},
    )
    assert rows == [("Parent portal access", "Yes", "No")]
    assert audit_changes({"role": [None, "parent"], "new_field": [1, 2]}, {"parent": "Parent"}) == [
        ("Role", "—", "Parent"),
        ("New field", "1", "2"),
    ]


def test_the_sample_export_downloads_and_the_format_too(login, nominated_contact, school_a):
    client = login(nominated_contact)
    MembershipFactory(school=school_a, person_type="student", year_group="7")
    sample = client.get(_url("sync_sample_feed", school_a))
    assert sample.status_code == 200 and sample["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(sample.content)).namelist()
    assert set(names) == {"students.csv", "contacts.csv", "relationships.csv"}
    doc = client.get(_url("sync_export_format", school_a))
    assert doc.status_code == 200 and b"students.csv" in doc.content
    page = client.get(_url("sync_policy", school_a)).content.decode()
    assert "docs/mis-export.md" not in page
    assert 'disabled aria-disabled="true"' in page  # no export yet: Synchronise Users and Apply are disabled


def test_the_year_list_is_in_the_schools_order(login, nominated_contact, school_a):
    MembershipFactory(school=school_a, person_type="student", year_group="Year 7")
    html = login(nominated_contact).get(_url("sync_policy", school_a)).content.decode()
    years = re.findall(r'name="year_groups" value="([^"]+)"', html)
    assert years[:3] == ["N", "R", "1"] and years.index("Year 7") == 8 and "7" not in years


def test_the_bulk_sync_page_and_dashboard_are_in_words(login, nominated_contact, school_a, second_run):
    client = login(nominated_contact)
    for name in ("sync_policy", "dashboard"):
        text = visible_text(client.get(_url(name, school_a)).content.decode())
        assert_in_words(text)


def test_a_changed_family_name_names_the_whole_person_not_only_the_new_part(school_a):
    """Found by trying it: when Amelia Hall's family name changed, the preview's Who said only "Smith"."""
    from provisioning.sync import selectors

    run_sync(school_a, feed_zip(students=[student("S1", "Amelia", "Hall")]), student_grace_days=0)
    changed = run_sync(school_a, feed_zip(students=[student("S1", "Amelia", "Smith")]), apply=False)
    [row] = [
        r
        for r in selectors.record_rows(
            school=school_a, run=changed, records=selectors.run_records(school=school_a, run=changed)
        )
        if r["mis_code"] == "S1"
    ]
    assert row["name"] == "Amelia Hall"
    assert ("Family Name", "Hall", "Smith") in [tuple(c) for c in row["changes"]]
