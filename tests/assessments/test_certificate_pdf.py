"""The certificate PDF: rendered on WeasyPrint's fast path, holding names in any script."""

import ctypes.util
import io
import logging

import pytest
from pypdf import PdfReader

from assessments import services
from assessments.models import Certificate
from tenancy.pdf import harfbuzz_subset_available
from tests.assessments.conftest import answers_for
from tests.factories import member

NAMES = {"Zoë": "Ó'Brien", "محمد": "Khan", "प्रिया": "Sharma", "王芳": "Wang"}


def test_harfbuzz_subset_is_installed_so_weasyprint_takes_its_fast_path():
    # Without libharfbuzz-subset0 WeasyPrint subsets fonts with fontTools: about ten times slower.
    assert ctypes.util.find_library("harfbuzz-subset"), "apt-get install libharfbuzz-subset0"
    assert harfbuzz_subset_available()


def _certificate(school, given, family, assessment, capture):
    account = member(school, "inv", given_name=given, family_name=family).account
    services.assessment_start(school=school, account=account, assessment=assessment)
    with capture(execute=True):
        for section in assessment.sections.all():
            services.section_submit(
                school=school, account=account, assessment=assessment, section=section, answers=answers_for(section)
            )
    return Certificate.objects.get(account=account)


def _fonts(reader: PdfReader) -> set[str]:
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    return fonts


@pytest.mark.parametrize("given,family", NAMES.items())
def test_the_stored_pdf_holds_the_name_and_code_in_any_script(
    given, family, school_a, assessment, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    certificate = _certificate(school_a, given, family, assessment, django_capture_on_commit_callbacks)
    with certificate.pdf.open("rb") as fh:
        reader = PdfReader(io.BytesIO(fh.read()))
    text = reader.pages[0].extract_text()
    assert certificate.code in text
    assert family in text
    if given.isascii() or given in ("Zoë", "王芳"):
        assert given in text
    # Each script is drawn with a font that has its glyphs, never a fallback box.
    script_font = {"محمد": "Arabic", "प्रिया": "Devanagari", "王芳": "CJK"}.get(given)
    if script_font:
        assert any(script_font in name for name in _fonts(reader)), _fonts(reader)
    assert not [r for r in caplog.records if "fontTools" in r.getMessage()], "WeasyPrint fell back to fontTools"


def test_the_pdf_is_rendered_once_and_then_served_from_storage(
    school_a, assessment, django_capture_on_commit_callbacks
):
    certificate = _certificate(school_a, "Isla", "Hall", assessment, django_capture_on_commit_callbacks)
    stored = certificate.pdf.name
    from tenancy.models import Job

    job = Job.objects.get(kind=Job.Kind.CERTIFICATE_PDF, params__certificate_id=str(certificate.pk))
    assert job.state == Job.State.SUCCEEDED
    Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED)
    job.refresh_from_db()
    services.certificate_pdf_render(job)  # a re-delivered job leaves the stored PDF alone
    certificate.refresh_from_db()
    assert certificate.pdf.name == stored


def test_the_zip_writer_streams_stored_pdfs_without_reading_them_whole(
    school_a, assessment, django_capture_on_commit_callbacks
):
    certificates = [
        _certificate(school_a, "Leo", f"Evans{n}", assessment, django_capture_on_commit_callbacks) for n in range(2)
    ]
    buffer = io.BytesIO()
    counts = services.certificate_zip_write(certificates=certificates, fileobj=buffer)
    assert counts == {"added": 2, "missing_pdf": 0}
    import zipfile

    archive = zipfile.ZipFile(buffer)
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
