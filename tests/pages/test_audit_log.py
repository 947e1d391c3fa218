"""The audit log screen: a school's events only, in words, filtered, paged, exported to .xlsx and read back."""

import io
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from accounts import audit_log, labels
from accounts.audit import audit_record
from accounts.models import AuditEvent
from tenancy.models import Job

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def events(school_a, school_b, centre_admin, nominated_contact, other_school_admin):
    job = Job.objects.create(school=school_a, kind=Job.Kind.UPLOAD)
    audit_record(action="accounts.role.assigned", actor=centre_admin, school=school_a, target=nominated_contact,
                 changes={"role": [None, "nominated_contact"]})  # fmt: skip
    audit_record(
        action="accounts.account.created", actor=nominated_contact, school=school_a, target=centre_admin, job=job
    )
    old = audit_record(action="accounts.account.updated", actor=centre_admin, school=school_a, target=centre_admin)
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=40))
    audit_record(
        action="accounts.account.created", actor=other_school_admin, school=school_b, target=other_school_admin
    )
    return job


def test_it_shows_only_the_schools_events_in_words(login, centre_admin, school_a, events):
    page = login(centre_admin).get(f"/s/{school_a.slug}/data/audit/").content.decode()
    assert "Role given" in page and "Account created" in page and "Details changed" in page
    assert "Nominated Contact" in page  # the role in words, not its code
    assert ">accounts.role.assigned<" not in page and "ca.birch" not in page  # (a filter's option value is a code)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("action=accounts.role.assigned", {"Role given"}),
        ("actor=nc.alder", {"Account created"}),
        ("person=nc.alder", {"Role given"}),
        ("date_from={recent}", {"Role given", "Account created"}),
        ("job={job}", {"Account created"}),
    ],
)
def test_it_filters(login, centre_admin, school_a, events, query, expected):
    recent = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = login(centre_admin).get(f"/s/{school_a.slug}/data/audit/?" + query.format(recent=recent, job=events.pk))
    shown = {row.action for row in response.context["rows"]}
    assert shown == expected


def test_bad_filters_are_ignored_not_a_500(login, centre_admin, school_a, events):
    response = login(centre_admin).get(f"/s/{school_a.slug}/data/audit/?job=nonsense&date_from=yesterday")
    assert response.status_code == 200


def test_it_pages(login, centre_admin, school_a):
    for _ in range(audit_log.PER_PAGE + 5):
        audit_record(action="accounts.account.updated", actor=centre_admin, school=school_a, target=centre_admin)
    client = login(centre_admin)
    assert len(client.get(f"/s/{school_a.slug}/data/audit/").context["rows"]) == audit_log.PER_PAGE
    assert len(client.get(f"/s/{school_a.slug}/data/audit/?page=2").context["rows"]) == 5


def test_the_export_reads_back_and_is_itself_logged(login, centre_admin, school_a, events):
    audit_record(action="accounts.account.updated", actor=centre_admin, school=school_a, target_type="account",
                 target_id=str(uuid.uuid4()), target_label="=HYPERLINK(\"http://x\")")  # fmt: skip
    response = login(centre_admin).get(f"/s/{school_a.slug}/data/audit/audit-log.xlsx?actor=ca.alder")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("When", "What", "Who", "About", "Changes", "Job")
    assert {r[1] for r in rows[1:]} == {"Role given", "Details changed"}
    assert "Role: — → Nominated Contact" in {r[4] for r in rows[1:]}
    assert sheet.cell(row=2, column=4).data_type == "s"  # the formula-like name is text
    assert AuditEvent.objects.filter(school=school_a, action="data.audit_log.exported").exists()


def test_only_roles_that_may_see_the_log_get_it_or_its_menu(login, eo_user, nominated_contact, school_a):
    assert login(eo_user).get(f"/s/{school_a.slug}/data/audit/").status_code == 403
    assert "Audit log" not in login(eo_user).get(f"/s/{school_a.slug}/").content.decode()
    client = login(nominated_contact)
    assert client.get(f"/s/{school_a.slug}/data/audit/").status_code == 200
    assert "Audit log" in client.get(f"/s/{school_a.slug}/").content.decode()


ACTION = re.compile(r"""action=["']([a-z_]+\.[a-z_.]+)["']""")


def test_every_action_the_code_writes_reads_in_words():
    """A new action without a label would show as its code's words at best: each one is labelled."""
    written = set()
    for app in (
        "accounts",
        "assessments",
        "pages",
        "provisioning",
        "signon",
        "tenancy",
        "scim",
        "outbound",
        "rostering",
    ):
        for path in (ROOT / app).rglob("*.py"):
            written |= set(ACTION.findall(path.read_text()))
    written |= {f"accounts.set_password_link.{p}" for p in ("invitation", "reset", "welcome")}
    written |= {"signon.service.switched_on", "signon.service.switched_off"}
    assert written - set(labels.ACTION_LABELS) == set()
    assert labels.action_label("admin.account.changed") == "Support staff: account changed"
