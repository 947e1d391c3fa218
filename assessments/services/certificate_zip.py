"""Bulk certificate download: a job writing the school's certificate PDFs into one zip."""

import os
import tempfile
import zipfile

from django.core.files import File
from django.utils import timezone

from accounts.models import Account
from assessments import selectors
from assessments.models import (
    Certificate,
)
from tenancy.models import Job, School
from tenancy.services import job_progress, job_start, job_succeed

# --- Bulk certificate download ------------------------------------------------------------------


def certificate_zip_start(*, school: School, actor: Account, assessment_id=None) -> Job:
    from assessments.tasks import build_certificate_zip  # cycle: a task calls back into these services

    params = {"assessment_id": str(assessment_id) if assessment_id else ""}
    total = selectors.certificates_for_zip(school=school, assessment_id=assessment_id).count()
    return job_start(
        school=school,
        kind=Job.Kind.CERTIFICATE_ZIP,
        actor=actor,
        params=params,
        task=build_certificate_zip,
        total=total,
    )


ZIP_PROGRESS_EVERY = 25


def certificate_zip_write(*, certificates, fileobj, on_progress=None) -> dict[str, int]:
    """Copy each stored PDF into a zip, chunk by chunk: memory stays flat however many there are.

    PDFs are already compressed, so entries are stored, not deflated again.
    """
    counts = {"added": 0, "missing_pdf": 0}
    names: set[str] = set()
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for n, certificate in enumerate(certificates, start=1):
            if not certificate.pdf:
                counts["missing_pdf"] += 1
            else:
                name = _zip_name(certificate, names)
                with certificate.pdf.open("rb") as source, archive.open(name, "w", force_zip64=False) as dest:
                    while chunk := source.read(64 * 1024):
                        dest.write(chunk)
                counts["added"] += 1
            if on_progress and n % ZIP_PROGRESS_EVERY == 0:
                on_progress(n)
    return counts


def _zip_name(certificate: Certificate, taken: set[str]) -> str:
    safe = "".join(ch if ch.isalnum() or ch in " .-_" else "_" for ch in certificate.holder_name or "withheld")
    title = "".join(ch if ch.isalnum() or ch in " .-_" else "_" for ch in certificate.assessment_title)
    name = f"{title.strip()[:60]}/{safe.strip()[:60]} {certificate.code}.pdf"
    taken.add(name)
    return name


def certificate_zip_build(job: Job) -> None:
    """The certificate_zip job: the zip is written to a temporary file, then moved to storage."""
    certificates = selectors.certificates_for_zip(school=job.school, assessment_id=job.params.get("assessment_id"))
    total = certificates.count()
    job_progress(job, done=0, total=total)
    fd, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "w+b") as tmp:
            counts = certificate_zip_write(
                certificates=certificates.iterator(chunk_size=200),
                fileobj=tmp,
                on_progress=lambda done: job_progress(job, done=done),
            )
            tmp.seek(0)
            name = f"certificates-{job.school.slug}-{timezone.localdate():%Y%m%d}.zip"
            job.report.save(name, File(tmp, name=name), save=False)
            job.report_name = name
        job_succeed(job, counts=counts)
    finally:
        if os.path.exists(path):
            os.unlink(path)
