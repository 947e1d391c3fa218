"""The credentials sheet of an MIS sync run: the new accounts' starter codes, downloadable once and
within 24 hours, as one zip of a spreadsheet and a PDF of slips to cut out. Then the codes are gone.

Both files come in one download because there is only one: a school that took the spreadsheet could
not come back for the slips. Rows arrive as the CSV that services._store_credentials wrote:
person type, year group, form, family name, given name, user name, starter code.
"""

import csv
import io
import re
import unicodedata
import zipfile
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.text import slugify
from django_scopes import scopes_disabled

from accounts.audit import audit_record
from accounts.credentials import STARTER_CODE_DAYS
from accounts.models import Account, StarterCode
from provisioning.models import SyncRun
from tenancy.models import School

XLSX_NAME, PDF_NAME = "starter-codes.xlsx", "starter-code-slips.pdf"
SLIPS_PER_PAGE = 10  # 2 columns x 5 rows on A4
PERSON_TYPE_ORDER = {"student": 0, "staff": 1, "contact": 2}
PERSON_TYPE_LABEL = {"student": "Students", "staff": "Staff", "contact": "Contacts"}


TAKEN = "The credentials sheet has already been downloaded; re-issue codes from Account Manager."
EXPIRED = "The credentials sheet expired after 24 hours; re-issue codes from Account Manager."


class CredentialsGone(ValidationError):
    """The sheet was downloaded already, or expired: only Account Manager can issue new codes."""


@dataclass(frozen=True)
class CredentialsDownload:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Person:
    person_type: str
    year_group: str
    form: str
    family_name: str
    given_name: str
    username: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.username

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.person_type, self.year_group, self.form)

    @property
    def name_size(self) -> str:
        """Smaller type for a long name: one line up to about 36 characters, then two (CJK counts double)."""
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in self.name)
        return "" if width <= 27 else "long" if width <= 36 else "longer"

    @property
    def where(self) -> str:
        """What the slip says under the name: "Year 7 · Form 7A", "Staff" or "Contact"."""
        if self.person_type != "student":
            return {"staff": "Staff", "contact": "Contact"}.get(self.person_type, "")
        return " · ".join(filter(None, [_year(self.year_group), f"Form {self.form}" if self.form else ""]))


def credentials_take(*, school: School, actor: Account, run: SyncRun, base_url: str = "") -> CredentialsDownload:
    """The run's starter codes as a zip of the spreadsheet and the slips, once, within 24 hours.

    The files are made before the codes are deleted and without holding the run's lock: if making them
    fails (or the web worker is stopped part way), the codes are still there to try again.
    `base_url` is where people sign in when settings.ROLLCALL_BASE_URL is not set."""
    run = SyncRun.objects.get(school=school, pk=run.pk)
    if run.credentials_expire_at and run.credentials_expire_at < timezone.now() and run.credentials:
        _credentials_delete(run)
        raise CredentialsGone(EXPIRED)
    if not run.credentials or run.credentials_downloaded_at is not None:
        raise CredentialsGone(TAKEN)
    with run.credentials.open("rb") as handle:
        download = credentials_zip(school=school, run=run, content=handle.read(), base_url=base_url)
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(school=school, pk=run.pk)
        if locked.credentials.name != run.credentials.name or locked.credentials_downloaded_at is not None:
            raise CredentialsGone(TAKEN)  # someone else took them while these files were being made
        _credentials_delete(locked)
        locked.credentials_downloaded_at = timezone.now()
        locked.save(update_fields=["credentials_downloaded_at"])
        audit_record(
            action="provisioning.sync_run.credentials_downloaded",
            actor=actor,
            school=school,
            target_type="sync_run",
            target_id=str(run.pk),
            target_label=f"Sync {run.created_at:%Y-%m-%d %H:%M}",
            changes={"starter_code": ["", "downloaded"]},
        )
    return download


def credentials_zip(*, school: School, run: SyncRun, content: bytes, base_url: str = "") -> CredentialsDownload:
    """The zip for the stored rows. The PDF costs WeasyPrint about 10 ms of CPU a slip: 2,000 take ~20 s."""
    people = sorted(_people(content), key=_order)
    pdf = _credentials_pdf(
        school=school, people=people, expires=_codes_expire_at(school, run), sign_in_url=sign_in_url(base_url)
    )
    day = _local(school, run.applied_at or run.created_at)
    return CredentialsDownload(
        filename=f"starter-codes-{slugify(school.name) or school.slug}-{day:%Y%m%d}.zip",
        content=_zip({XLSX_NAME: _credentials_xlsx(people), PDF_NAME: pdf}),
    )


def credentials_purge() -> int:
    """Sheets not downloaded within 24 hours are deleted with their codes."""
    purged = 0
    with scopes_disabled():
        for run in SyncRun.objects.filter(credentials_expire_at__lt=timezone.now()).exclude(credentials=""):
            _credentials_delete(run)
            purged += 1
    return purged


def sign_in_url(base_url: str = "") -> str:
    base = (getattr(settings, "ROLLCALL_BASE_URL", "") or base_url or "http://localhost:8000").rstrip("/")
    return base + reverse("account_login")


def _credentials_delete(run: SyncRun) -> None:
    if run.credentials:
        run.credentials.delete(save=False)
    SyncRun.objects.filter(school=run.school, pk=run.pk).update(credentials="")


def _people(content: bytes) -> list[Person]:
    return [Person(*row) for row in csv.reader(io.StringIO(content.decode())) if row]


def _natural(value: str) -> tuple:
    """Year 9 before Year 10, form 7B before 7C, whatever the case."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", value.casefold())
    )


def _order(p: Person) -> tuple:
    return (
        PERSON_TYPE_ORDER.get(p.person_type, 9),
        p.person_type,
        not p.year_group,
        _natural(p.year_group),
        not p.form,
        _natural(p.form),
        p.family_name.casefold(),
        p.given_name.casefold(),
        p.username,
    )


def _codes_expire_at(school: School, run: SyncRun) -> datetime:
    """When this run's codes stop working: from the codes themselves where the run's job issued them."""
    expires = None
    if run.job_id:
        expires = StarterCode.objects.filter(school=school, job_id=run.job_id).aggregate(at=Min("expires_at"))["at"]
    return expires or (run.applied_at or run.created_at) + timedelta(days=STARTER_CODE_DAYS)


def _local(school: School, moment: datetime) -> datetime:
    try:
        zone = zoneinfo.ZoneInfo(school.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.localtime(moment, zone)


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def _credentials_xlsx(people: list[Person]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Starter codes")
    sheet.append(["Person type", "Year group", "Form", "Family Name", "Given Names", "User Name", "Starter code"])
    for p in people:
        sheet.append([p.person_type, p.year_group, p.form, p.family_name, p.given_name, p.username, p.code])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _year(year_group: str) -> str:
    return f"Year {year_group}" if year_group.isdigit() else year_group


def _group_label(group: tuple[str, str, str]) -> str:
    person_type, year_group, form = group
    parts = [PERSON_TYPE_LABEL.get(person_type, person_type.title() or "People"), _year(year_group)]
    return " · ".join(filter(None, [*parts, f"Form {form}" if form else ""]))


def _pages(people: list[Person]) -> list[dict]:
    """Sheets of at most ten slips; each group (person type, year group, form) starts a new sheet, so a
    form's slips can be cut and handed out without sorting."""
    pages: list[dict] = []
    start = 0
    while start < len(people):
        group = people[start].group
        end = start
        while end < len(people) and people[end].group == group:
            end += 1
        chunks = [people[i : min(i + SLIPS_PER_PAGE, end)] for i in range(start, end, SLIPS_PER_PAGE)]
        for number, chunk in enumerate(chunks, 1):
            rows = [chunk[i : i + 2] for i in range(0, len(chunk), 2)]
            pages.append({"label": _group_label(group), "number": number, "of": len(chunks), "rows": rows})
        start = end
    return pages


def _credentials_pdf(*, school: School, people: list[Person], expires: datetime, sign_in_url: str) -> bytes:
    from assessments.certificates import render_pdf

    html = render_to_string(
        "provisioning/sync/starter_code_slips.html",
        {
            "school_name": school.name,
            "school_caps": school.name.upper(),
            "pages": _pages(people),
            # Formatted here: the template's date filter would show it in the server's zone, not the school's.
            "expires": dateformat.format(_local(school, expires), "j M Y H:i"),
            "sign_in_url": sign_in_url,
        },
    )
    return render_pdf(html)
