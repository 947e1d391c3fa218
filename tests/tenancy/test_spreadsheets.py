"""Every spreadsheet Rollcall produces is written by tenancy.spreadsheets, and none carries a formula, whatever
names, MIS codes, emails and year groups the MIS or a person typed."""

import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Membership
from provisioning.models import SyncRun, UploadBatch
from provisioning.sync import starter_slips as credentials
from provisioning.sync.selectors import run_report_csv
from provisioning.upload import services as upload_services
from tenancy import spreadsheets
from tenancy.models import ErasureRecord, Job
from tenancy.spreadsheets import FORMULA_STARTS, csv_bytes, csv_cell
from tests.factories import member
from tests.provisioning.sync_helpers import feed_zip, student
from tests.spreadsheet_checks import assert_no_formulas

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["accounts", "assessments", "config", "pages", "provisioning", "tenancy"]
WRITER = ROOT / "tenancy" / "spreadsheets.py"
# Ways to write a spreadsheet without the writer module.
BYPASS = re.compile(r"csv\.writer|csv\.DictWriter|\bWorkbook\s*\(|import Workbook|WriteOnlyCell|xlsxwriter")
HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1)", "-2+3", "@evil", "\t=1", "\r=3", "\uff1d1+1", "=2+5"]


def test_no_module_but_the_writer_writes_a_spreadsheet_itself():
    offenders = []
    for app in PRODUCT:
        for path in sorted((ROOT / app).rglob("*.py")):
            if path == WRITER or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if BYPASS.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "write spreadsheets through tenancy.spreadsheets:\n" + "\n".join(offenders)


@pytest.mark.parametrize("value", [*HOSTILE, " =1", "\n=1", "\uff0b1", "\uff0d1", "\uff201"])
def test_a_csv_cell_starting_like_a_formula_is_quoted(value):
    assert csv_cell(value) == "'" + value
    assert_no_formulas(csv_bytes([[value]]), "x.csv")


def test_plain_values_are_written_as_they_are():
    assert [csv_cell(v) for v in ("Ann", "O'Neil", 7, -1, None, "a=b")] == ["Ann", "O'Neil", 7, -1, None, "a=b"]


def _hostile_feed() -> bytes:
    size = len(HOSTILE)
    students = [
        student(code, HOSTILE[(n + 1) % size], HOSTILE[(n + 2) % size], email=f"s{n}@alder.sch.uk",
                year=HOSTILE[(n + 3) % size], form=HOSTILE[(n + 4) % size])
        for n, code in enumerate(HOSTILE)
    ]  # fmt: skip
    return feed_zip(students=students)  # no staff file: the school's staff are left as they are


def _produced(client, school, capture, admin) -> dict[str, bytes]:
    """Every export, built through the screens and services people use."""
    url = lambda name, **kw: reverse(name, kwargs={"school_slug": school.slug, **kw})  # noqa: E731
    files = {}
    # MIS sync: the run report and the starter-code sheet.
    client.post(url("sync_feed_upload"), {"files": SimpleUploadedFile("export.zip", _hostile_feed())})
    with capture(execute=True):
        client.post(url("sync_start"))
    run = SyncRun.objects.get(school=school)
    assert run.state == "planned", (run.state, run.message)
    with capture(execute=True):
        client.post(url("sync_apply", run_id=run.pk))
    run.refresh_from_db()
    assert run.state == "applied", run.message
    assert Membership.objects.filter(school=school, mis_code="=2+5").exists()
    files["sync-report.csv"] = client.get(url("sync_run_report", run_id=run.pk)).getvalue()
    assert files["sync-report.csv"] == run_report_csv(school=school, run=run)
    files["sample-export.zip"] = client.get(url("sync_sample_feed")).content  # made from the people held
    with capture(execute=True):
        client.post(url("sync_credentials", run_id=run.pk))
    zipped = client.get(url("sync_credentials_download", run_id=run.pk)).getvalue()
    files["starter-codes.zip"] = zipped
    assert credentials.XLSX_NAME in zipfile.ZipFile(io.BytesIO(zipped)).namelist()
    # +Upload Users: the template, the checked file, the result report and the credentials sheet.
    files["template.xlsx"] = client.get(url("upload_template")).getvalue()
    files["template.csv"] = client.get(url("upload_template") + "?format=csv").getvalue()
    rows = [[f"up.{n}", value, value, f"up{n}@alder.sch.uk", "Staff", "INV", value] for n, value in enumerate(HOSTILE)]
    upload = csv_bytes([["Username", "Given Names", "Family Name", "Email", "Person Type", "Role", "MIS Code"], *rows])
    batch = upload_services.upload_receive(school=school, actor=admin, file_name="u.csv", data=upload)
    files["checked.xlsx"] = client.get(url("upload_report", batch_id=batch.pk)).getvalue()
    with capture(execute=True):
        upload_services.upload_apply_start(
            school=school, actor=admin, batch=batch, mode="add_update", password_method="starter_codes",
            add_existing=True, consent=True,
        )  # fmt: skip
    batch.refresh_from_db()
    assert batch.state == UploadBatch.State.APPLIED
    files["result.xlsx"] = Job.objects.get(pk=batch.job_id).report.read()
    files["upload-codes.xlsx"] = client.get(url("upload_credentials", batch_id=batch.pk)).getvalue()
    # The census report and the User Summary.
    with capture(execute=True):
        client.post(reverse("census_start", kwargs={"school_slug": school.slug}))
    files["census.csv"] = Job.objects.filter(school=school, kind="demo").get().report.read()
    files["summary.xlsx"] = client.get(url("user_summary_xlsx")).getvalue()
    files["oneroster-pull.csv"] = _oneroster_pull_report(school, capture, admin)
    # Data protection: the audit log, the school export (every table as CSV) and the erasure report.
    files["audit-log.xlsx"] = client.get(url("audit_log_export")).content
    with capture(execute=True):
        client.post(url("school_export_start"))
    files["school-export.zip"] = Job.objects.get(school=school, kind="school_export").report.read()
    ErasureRecord.objects.create(school=school, kind="account", person_type="staff", reason="deleted")
    files["erasure-report.csv"] = client.get(url("erasure_report")).content
    return files


def _oneroster_pull_report(school, capture, admin) -> bytes:
    """A OneRoster pull's job report, pulled from a recorded server."""
    from unittest import mock

    from provisioning.sync import oneroster_rest
    from tests.provisioning.test_sync_oneroster_rest import SERVER, TOKEN, Recorded, recorded_session

    values = {"enabled": True, "base_url": SERVER, "token_url": TOKEN, "client_id": "rollcall"}
    oneroster_rest.roster_source_save(school=school, actor=admin, values=values, secret="s3cret")
    with mock.patch.object(oneroster_rest, "_session", recorded_session(Recorded())), capture(execute=True):
        job = oneroster_rest.roster_pull_start(school=school, actor=admin)
    return Job.objects.get(pk=job.pk).report.read()


# Modules that use the writer for a file that is no export: the feed rewritten without its password columns.
NOT_EXPORTS = {"provisioning.sync.feed_secrets"}
MAKES_EXPORT = re.compile(r"\b(csv_writer|csv_bytes|workbook|row_workbook)\(")


def _export_modules() -> set[str]:
    """Every module that starts a spreadsheet through the writer (a CSV writer, CSV bytes or a workbook)."""
    found = set()
    for app in PRODUCT:
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            if path != WRITER and "spreadsheets" in text and MAKES_EXPORT.search(text):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found - NOT_EXPORTS


def _caller() -> str:
    """The first module on the stack outside the writer: the export's own."""
    frame = sys._getframe(1)
    while frame and frame.f_globals.get("__name__") in ("tenancy.spreadsheets", __name__):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame else ""


@pytest.fixture
def exporters(monkeypatch) -> set[str]:
    """The modules that started a spreadsheet while the test ran."""
    seen: set[str] = set()
    real_workbook, real_init = spreadsheets.workbook, spreadsheets._SafeCsvWriter.__init__
    real_row_workbook = spreadsheets.row_workbook

    def workbook(**kwargs):
        seen.add(_caller())
        return real_workbook(**kwargs)

    def row_workbook(*args, **kwargs):
        seen.add(_caller())
        return real_row_workbook(*args, **kwargs)

    def init(self, out, **kwargs):
        seen.add(_caller())
        real_init(self, out, **kwargs)

    monkeypatch.setattr(spreadsheets, "workbook", workbook)
    monkeypatch.setattr(spreadsheets, "row_workbook", row_workbook)
    monkeypatch.setattr(spreadsheets._SafeCsvWriter, "__init__", init)
    return seen


def test_every_export_built_from_hostile_values_holds_no_formula(
    client, school_a, django_capture_on_commit_callbacks, exporters
):
    admin = member(school_a, "centre_admin", "nominated_contact", username="ca.hostile").account
    member(school_a, "inv", given_name="=1+2", family_name="\uff1dSUM(A1)", email="x@alder.sch.uk")
    client.force_login(admin)
    files = _produced(client, school_a, django_capture_on_commit_callbacks, admin)
    # Every module that makes an export made one here: a new export must be added to _produced.
    assert _export_modules() - exporters == set()
    seen = set()
    for name, data in files.items():
        assert data, name
        for _where, value, _type in assert_no_formulas(data, name):
            if isinstance(value, str):
                seen.add(value.lstrip("'"))
    # The hostile values did reach the files (as text), so the check above had something to check.
    assert {"=2+5", "=cmd|' /C calc'!A0", "+SUM(1)"} <= seen
    assert any(v.startswith(FORMULA_STARTS) for v in seen)


def test_row_workbook_writes_text_as_text_and_keeps_numbers_dates_and_styles():
    import datetime

    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    rows = [
        [],  # an empty row stays empty: the header may sit lower down, as in the file sent
        [("Name", spreadsheets.BOLD), ("Code", spreadsheets.BOLD)],
        [
            *HOSTILE[:2],
            7,
            2.5,
            True,
            datetime.date(2012, 5, 1),
            None,
            "a<b & c>d",
            " spaced ",
            "bell\x07",
            "Zoë\x0bØ",
        ],  # fmt: skip
        ["x", (None, spreadsheets.fill_style(0)), ("warned", spreadsheets.fill_style(1))],
    ]
    data = spreadsheets.row_workbook('Users "1"', rows, fills=("F8C9C4", "FCE8B2"))
    assert_no_formulas(data, "rows.xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == 'Users "1"'
    assert sheet.cell(1, 1).value is None
    assert [c.value for c in sheet[2]][:3] == ["Name", "Code", None] and sheet.cell(2, 1).font.b
    assert [sheet.cell(3, n).value for n in range(1, 12)] == [
        *HOSTILE[:2], 7, 2.5, True, datetime.datetime(2012, 5, 1), None, "a<b & c>d", " spaced ", "bell", "ZoëØ",
    ]  # fmt: skip
    assert sheet.cell(3, 1).data_type == "s"
    assert sheet.cell(4, 2).fill.fgColor.rgb.endswith("F8C9C4") and sheet.cell(4, 2).value is None
    assert sheet.cell(4, 3).fill.fgColor.rgb.endswith("FCE8B2")
    assert sheet.cell(4, 1).fill.fgColor.rgb in (None, "00000000")
    # The reader uploads go through reads it back the same (a result file is sent back corrected).
    values = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    assert values[2][:3] == [HOSTILE[0], HOSTILE[1], 7]
