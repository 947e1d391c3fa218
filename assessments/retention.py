"""Certificate zips that name a deleted person are removed (accounts/erasure.py); like every job report
they also expire after JOB_REPORT_RETENTION_DAYS (tenancy.services.job_reports_purge)."""

import zipfile

from accounts.erasure import PersonNamed
from assessments.models import Certificate
from tenancy.models import Job
from tenancy.services import REPORT_NAMED_DELETED, job_report_remove


def certificate_zips_naming_erase(person: PersonNamed) -> int:
    """A zip holds one PDF per certificate, named "<assessment>/<holder name> <code>.pdf": it names the
    person when one of its names carries one of their certificate codes, or their name."""
    school = person.school
    codes = {c.casefold() for c in Certificate.objects.filter(school=school, account_id=person.account_id)
             .values_list("code", flat=True)}  # fmt: skip
    removed = 0
    for job in Job.objects.filter(school=school, kind=Job.Kind.CERTIFICATE_ZIP).exclude(report=""):
        try:
            with job.report.open("rb") as handle, zipfile.ZipFile(handle) as archive:
                names = archive.namelist()
        except Exception:  # noqa: BLE001 - unreadable or missing: removing it is the safe side
            names = None
        if names is None or any(person.in_text(n) or any(c in n.casefold() for c in codes) for n in names):
            job_report_remove(job, reason=REPORT_NAMED_DELETED)
            removed += 1
    return removed
