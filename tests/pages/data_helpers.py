"""Rows the data protection tests share: a certificate and progress, made directly."""

import itertools
from datetime import timedelta

from django.utils import timezone

from assessments.models import AssessmentProgress, Certificate, ProgressStatus

_codes = itertools.count(1)


def make_certificate(school, account, assessment, *, expires_in_days=200, status=Certificate.Status.VALID):
    now = timezone.now()
    AssessmentProgress.objects.get_or_create(
        school=school, account=account, assessment=assessment,
        defaults={"status": ProgressStatus.PASSED, "started_at": now, "finished_at": now, "sections_passed": 2},
    )  # fmt: skip
    return Certificate.objects.create(
        school=school,
        code=f"TEST-{next(_codes):06d}",
        account=account,
        assessment=assessment,
        holder_name=account.full_name,
        assessment_title=assessment.title,
        score=4,
        out_of=4,
        issued_at=now - timedelta(days=365 - expires_in_days),
        expires_at=now + timedelta(days=expires_in_days),
        status=status,
    )
