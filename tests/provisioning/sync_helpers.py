"""Feeds built in tests: Rollcall's export as a zip of CSV files."""

import csv
import io
import threading
import zipfile

from provisioning.models import SyncRun
from provisioning.sync import bulk, services
from provisioning.sync.feed_intake import feed_receive
from provisioning.sync.policy import policy_for

STUDENT_HEADER = ["mis_code", "upn", "given_name", "family_name", "email", "year_group", "form", "date_of_birth",
                  "leaving_date", "inactive"]  # fmt: skip
STAFF_HEADER = ["mis_code", "given_name", "family_name", "email", "staff_roles"]
CONTACT_HEADER = ["mis_code", "given_name", "family_name", "email", "portal_access"]
LINK_HEADER = ["contact_code", "student_code", "relationship", "portal_access"]


def student(code, given="Ann", family="Smith", *, upn="", email="", year="7", form="7A", leaving="", inactive=""):
    return [code, upn, given, family, email, year, form, "2012-09-01", leaving, inactive]


def staff(code, given="Tom", family="Teacher", *, email=None, roles=""):
    return [code, given, family, email if email is not None else f"{code.lower()}@alder.sch.uk", roles]


def contact(code, given="Pat", family="Parent", *, email="", portal="yes"):
    return [code, given, family, email, portal]


def csv_text(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def feed_zip(students=None, staff_rows=None, contacts=None, links=None, extra: dict | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if students is not None:
            archive.writestr("students.csv", csv_text(STUDENT_HEADER, students))
        if staff_rows is not None:
            archive.writestr("staff.csv", csv_text(STAFF_HEADER, staff_rows))
        if contacts is not None:
            archive.writestr("contacts.csv", csv_text(CONTACT_HEADER, contacts))
        if links is not None:
            archive.writestr("relationships.csv", csv_text(LINK_HEADER, links))
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


def receive(school, content, actor=None, name="feed.zip"):
    return feed_receive(school=school, actor=actor, name=name, content=content, source="upload")


def run_sync(school, content, *, actor=None, apply=True, confirm=False, **policy_values):
    """Receive the feed, plan it, and (by default) apply the plan; returns the run."""
    policy = policy_for(school)
    for name, value in policy_values.items():
        setattr(policy, name, value)
    policy.save()
    feed = receive(school, content, actor)
    assert feed.state == "valid", feed.errors
    run = SyncRun.objects.create(school=school, feed=feed, trigger="manual", dry_run=True, created_by=actor)
    services.sync_plan(run=run)
    if apply and run.state in ("planned", "needs_confirmation"):
        if run.state == "needs_confirmation":
            if not confirm:
                return run
            SyncRun.objects.filter(pk=run.pk).update(state="queued")
        services.sync_apply(run=run)
        run.refresh_from_db()
    return run


def threads_writing_aside(monkeypatch) -> list[str]:
    """The names of the threads that write rows aside (bulk.rows_stored) from now on, in a list kept up to date."""
    writers = []
    real = bulk._RowsAside._write

    def write(self):
        writers.append(threading.current_thread().name)
        real(self)

    monkeypatch.setattr(bulk._RowsAside, "_write", write)
    return writers
