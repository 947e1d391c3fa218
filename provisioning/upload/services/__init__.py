"""+Upload Users: receive a file, plan it against the registry, apply the plan as one job.

The plan is decided for the whole file at once (provisioning.upload.selectors fetches every match
in batches), so validating 10,000 rows costs a handful of queries. The apply writes in one
transaction with bulk inserts and updates, its audit events included: all or nothing.

Callers import from `provisioning.upload.services` itself; the modules below only keep each concern
short. To patch a name in a test, patch it where it is used (e.g. services.apply.send_invitations).
"""

from provisioning.upload.reader import UploadRefused
from provisioning.upload.services.apply import (
    CREDENTIALS_HOURS,
    WRITE_BATCH,
    send_invitations,
    upload_apply_run,
    upload_apply_start,
    upload_credentials_purge,
    upload_credentials_purge_candidates,
)
from provisioning.upload.services.plan import (
    ACCOUNT_UPDATE_FIELDS,
    ADD,
    CHECKED_LABELS,
    CREATE,
    ERROR,
    MEMBERSHIP_UPDATE_FIELDS,
    OUTCOME_LABELS,
    PREVIEW_LABELS,
    SKIP,
    UNCHANGED,
    UPDATE,
    RowPlan,
    UploadPlan,
    upload_plan,
)
from provisioning.upload.services.preview import batch_table, upload_preview, upload_receive
from provisioning.upload.services.template import template_csv, template_rows, template_workbook
from provisioning.upload.services.workbooks import credentials_workbook, report_workbook

__all__ = [
    "ACCOUNT_UPDATE_FIELDS",
    "ADD",
    "CHECKED_LABELS",
    "CREATE",
    "CREDENTIALS_HOURS",
    "ERROR",
    "MEMBERSHIP_UPDATE_FIELDS",
    "OUTCOME_LABELS",
    "PREVIEW_LABELS",
    "SKIP",
    "UNCHANGED",
    "UPDATE",
    "WRITE_BATCH",
    "UploadPlan",
    "RowPlan",
    "UploadRefused",
    "batch_table",
    "credentials_workbook",
    "report_workbook",
    "send_invitations",
    "template_csv",
    "template_rows",
    "template_workbook",
    "upload_apply_run",
    "upload_apply_start",
    "upload_credentials_purge",
    "upload_credentials_purge_candidates",
    "upload_plan",
    "upload_preview",
    "upload_receive",
]
