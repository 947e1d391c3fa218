"""The census report job."""

import io

from accounts.labels import value_words
from accounts.models import Account, Membership
from accounts.services.names import STANDARD_YEARS, year_key
from tenancy.models import School
from tenancy.services import job_progress, job_start, job_succeed
from tenancy.spreadsheets import csv_writer


def census_report_start(*, school: School, actor: Account):
    """The school's census as a CSV: the first job every school has, and the harness's own test."""
    from accounts.tasks import census_report  # cycle: the task module imports these services

    return job_start(school=school, kind="demo", actor=actor, task=census_report)


_YEAR_ORDER = {year_key(year): i for i, year in enumerate(STANDARD_YEARS)}


def _census_order(person_type: str, status: str, year: str) -> tuple:
    return person_type, status, _YEAR_ORDER.get(year_key(year or ""), len(_YEAR_ORDER)), year or ""


def census_report_build(job) -> None:
    school = job.school
    groups = list(
        Membership.objects.filter(school=school)
        .values_list("person_type", "status", "year_group")
        .order_by("person_type", "year_group")
    )
    tally: dict[tuple[str, str, str], int] = {}
    job_progress(job, done=0, total=len(groups))
    for done, key in enumerate(groups, start=1):
        tally[key] = tally.get(key, 0) + 1
        if done % 500 == 0:
            job_progress(job, done=done)
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["Person type", "Status", "Year group", "People"])
    # In words and in school order (found by trying it: "contact,active", and years sorted 10, 11, 7).
    for (person_type, status, year), n in sorted(tally.items(), key=lambda item: _census_order(*item[0])):
        writer.writerow([value_words("person_type", person_type), value_words("status", status), year, n])
    counts = {}
    for (person_type, _status, _year), n in tally.items():
        counts[person_type] = counts.get(person_type, 0) + n
    job_succeed(job, counts=counts, report=out.getvalue().encode(), report_name=f"census-{school.slug}.csv")
