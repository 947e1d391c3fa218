"""Job pages and reports open only to roles whose permissions the job's kind names
(accounts.permissions.JOB_REPORT_PERMS): a Nominated Contact once downloaded every certificate (the
certificate zip) through the generic report link on their dashboard. Generated over every job kind and role."""

import pytest
from django.core.files.base import ContentFile

from accounts.permissions import JOB_REPORT_PERMS, ROLE_PERMISSIONS, Perm, job_kinds_open_to
from tenancy.models import Job
from tests.factories import member

ROLES = sorted(set(ROLE_PERMISSIONS) - {"mis_agent"})
KINDS = sorted(Job.Kind.values)


def test_every_job_kind_names_the_permission_its_report_needs():
    assert set(JOB_REPORT_PERMS) == set(KINDS)


def test_the_certificate_zip_is_not_open_to_roles_without_certificate_rights():
    for role, perms in ROLE_PERMISSIONS.items():
        if Perm.CERTIFICATES_VIEW not in perms:
            assert Job.Kind.CERTIFICATE_ZIP not in job_kinds_open_to(perms), role


def _expected(role: str, kind: str) -> int:
    perms = ROLE_PERMISSIONS[role]
    if Perm.JOBS_VIEW not in perms:
        return 403  # the job pages are refused outright
    return 200 if kind in job_kinds_open_to(perms) else 404  # missing and not yours look the same


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", ROLES)
def test_a_job_page_and_report_open_only_to_roles_its_kind_names(client, school_a, role, kind):
    job = Job.objects.create(school=school_a, kind=kind, state=Job.State.SUCCEEDED, report_name="report.zip")
    job.report.save("report.zip", ContentFile(b"every certificate"), save=True)
    client.force_login(member(school_a, role).account)
    base = f"/s/{school_a.slug}/jobs/{job.pk}/"
    expected = _expected(role, kind)
    for path in (base, base + "progress/", base + "report/"):
        assert client.get(path).status_code == expected, path
    api = client.get(f"/api/s/{school_a.slug}/jobs/{job.pk}/")
    assert api.status_code == expected


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", [r for r in ROLES if Perm.DASHBOARD_VIEW in ROLE_PERMISSIONS[r]])
def test_the_dashboard_lists_only_jobs_whose_report_the_role_may_open(client, school_a, role, kind):
    job = Job.objects.create(school=school_a, kind=kind, state=Job.State.SUCCEEDED)
    client.force_login(member(school_a, role).account)
    page = client.get(f"/s/{school_a.slug}/").content.decode()
    assert (f"/jobs/{job.pk}/" in page) == (_expected(role, kind) == 200)
