"""Certificates: issue one on a pass, render its PDF as a job, revoke it (one, or a deleted holder's)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.audit import audit_record
from accounts.models import Account
from assessments import certificates as rendering
from assessments.models import (
    AssessmentProgress,
    Certificate,
    SectionAttempt,
)
from tenancy.models import Job, School
from tenancy.services import job_start, job_succeed

HOLDER_DELETED_REASON = "holder account deleted"


# --- Certificates ---------------------------------------------------------------------------------


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")


def certificate_issue(
    *, school: School, progress: AssessmentProgress, now: dt.datetime, base_url: str = ""
) -> Certificate:
    """A new certificate for this pass; earlier valid ones for the same person and assessment are superseded.

    The PDF is rendered once, by a background job sent after this transaction commits.
    """
    assessment = progress.assessment
    account = progress.account
    attempts = {
        a.section_id: a
        for a in SectionAttempt.objects.filter(school=school, progress=progress, run=progress.run, passed=True)
    }
    section_marks = [
        {"title": s.title, "mark": attempts[s.pk].mark, "out_of": attempts[s.pk].out_of}
        for s in assessment.sections.all()
        if s.pk in attempts
    ]
    for _ in range(5):
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    school=school,
                    code=rendering.new_verification_code(),
                    account=account,
                    assessment=assessment,
                    holder_name=account.full_name,
                    assessment_title=assessment.title,
                    score=sum(m["mark"] for m in section_marks),
                    out_of=sum(m["out_of"] for m in section_marks),
                    section_marks=section_marks,
                    issued_at=now,
                    expires_at=_add_months(now, assessment.validity_months),
                )
            break
        except IntegrityError:  # a code collision, astronomically rare: draw again
            continue
    else:
        raise RuntimeError("Could not draw a unique verification code.")
    Certificate.objects.filter(
        school=school, account=account, assessment=assessment, status=Certificate.Status.VALID
    ).exclude(pk=certificate.pk).update(
        status=Certificate.Status.SUPERSEDED,
        status_reason="superseded by a later pass",
        status_changed_at=now,
        superseded_by=certificate,
    )
    audit_record(
        action="assessments.certificate.issued",
        actor=account,
        school=school,
        target=account,
        changes={"assessment": [None, assessment.title], "certificate": [None, certificate.code]},
    )
    certificate_pdf_start(school=school, certificate=certificate, actor=account, base_url=base_url)
    return certificate


def certificate_pdf_start(*, school: School, certificate: Certificate, actor=None, base_url: str = "") -> Job:
    from assessments.tasks import render_certificate_pdf  # cycle: a task calls back into these services

    return job_start(
        school=school,
        kind=Job.Kind.CERTIFICATE_PDF,
        actor=actor,
        params={"certificate_id": str(certificate.pk), "base_url": base_url},
        task=render_certificate_pdf,
        total=1,
    )


def certificate_pdf_render(job: Job) -> None:
    """The certificate_pdf job: render once and store. A certificate that already has its PDF is left alone."""
    certificate = Certificate.objects.select_related("school").get(school=job.school, pk=job.params["certificate_id"])
    if not certificate.pdf:
        pdf = rendering.certificate_pdf_bytes(certificate, base_url=job.params.get("base_url", ""))
        certificate.pdf.save(certificate.pdf_filename, ContentFile(pdf), save=False)
        certificate.pdf_rendered_at = timezone.now()
        Certificate.objects.filter(school=job.school, pk=certificate.pk).update(
            pdf=certificate.pdf.name, pdf_rendered_at=certificate.pdf_rendered_at
        )
    job_succeed(job, counts={"certificates": 1})


@transaction.atomic
def certificate_revoke(*, school: School, certificate: Certificate, actor: Account | None, reason: str) -> None:
    if not reason.strip():
        raise ValidationError("Give the reason for revoking; the verification page shows it.")
    Certificate.objects.filter(school=school, pk=certificate.pk).update(
        status=Certificate.Status.REVOKED, status_reason=reason.strip()[:200], status_changed_at=timezone.now()
    )
    audit_record(
        action="assessments.certificate.revoked",
        actor=actor,
        school=school,
        target_type="certificate",
        target_id=str(certificate.pk),
        target_label=certificate.code,
        changes={"status": [certificate.status, "revoked"], "reason": [None, reason]},
    )


@transaction.atomic
def certificates_revoke_for_deleted_holder(*, account: Account, actor: Account | None = None) -> int:
    """Call when an account is deleted: its certificates stay verifiable, revoked, with the name erased.

    The PDFs carry the name too, so they are removed. Runs across every school holding the person's
    certificates, which is why it steps outside the scope (deletion erases the person everywhere).
    """
    now = timezone.now()
    with scopes_disabled():
        certificates = list(Certificate.objects.filter(account=account))
        for certificate in certificates:
            if certificate.pdf:
                # Only once the erasure commits: a rolled-back deletion keeps its PDFs.
                transaction.on_commit(lambda f=certificate.pdf: f.storage.delete(f.name))
            audit_record(
                action="assessments.certificate.revoked",
                actor=actor,
                school=certificate.school,
                target_type="certificate",
                target_id=str(certificate.pk),
                target_label=certificate.code,
                changes={"status": [certificate.status, "revoked"], "reason": [None, HOLDER_DELETED_REASON]},
            )
        Certificate.objects.filter(pk__in=[c.pk for c in certificates]).update(
            status=Certificate.Status.REVOKED,
            status_reason=HOLDER_DELETED_REASON,
            status_changed_at=now,
            holder_name="",
            pdf="",
        )
    return len(certificates)
