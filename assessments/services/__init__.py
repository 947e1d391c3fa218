"""Every write in assessments, by stage: import content, take (start, submit, mark), certificates, access, zips.

Callers use `from assessments import services`; each stage is a module of its own.
"""

from assessments.services.access import assessment_access_set
from assessments.services.certificate_records import (
    HOLDER_DELETED_REASON,
    certificate_issue,
    certificate_pdf_render,
    certificate_pdf_start,
    certificate_revoke,
    certificates_revoke_for_deleted_holder,
)
from assessments.services.certificate_zip import (
    ZIP_PROGRESS_EVERY,
    certificate_zip_build,
    certificate_zip_start,
    certificate_zip_write,
)
from assessments.services.content import assessment_import, assessment_validate
from assessments.services.taking import (
    AssessmentClosed,
    SubmitResult,
    assessment_start,
    mark_answers,
    progress_close_if_overdue,
    section_submit,
)

__all__ = [
    "HOLDER_DELETED_REASON",
    "ZIP_PROGRESS_EVERY",
    "AssessmentClosed",
    "SubmitResult",
    "assessment_access_set",
    "assessment_import",
    "assessment_start",
    "assessment_validate",
    "certificate_issue",
    "certificate_pdf_render",
    "certificate_pdf_start",
    "certificate_revoke",
    "certificate_zip_build",
    "certificate_zip_start",
    "certificate_zip_write",
    "certificates_revoke_for_deleted_holder",
    "mark_answers",
    "progress_close_if_overdue",
    "section_submit",
]
