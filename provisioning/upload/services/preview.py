"""Receive a file (refusing it with a clear reason) and preview its plan against the registry."""

import uuid

from django.conf import settings
from django.core.files.base import ContentFile

from accounts.models import Account
from provisioning.models import UploadBatch
from provisioning.upload.reader import Table, UploadRefused, read_upload, table_csv
from provisioning.upload.services.plan import UploadPlan, headers_or_refuse, upload_plan
from tenancy.models import School


def upload_receive(*, school: School, actor: Account, file_name: str, data: bytes) -> UploadBatch:
    """Check the file (refusing it with a clear reason), then keep it for the preview."""
    file_name = (file_name or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    table = read_upload(data, file_name)
    headers_or_refuse(table)
    batch = UploadBatch(
        school=school, file_name=file_name, file_format=table.format, row_count=len(table.rows), created_by=actor
    )
    if table.dropped:  # the file as sent holds passwords: keep its other cells, as a CSV, never the file
        batch.file.save(f"{uuid.uuid4().hex}.csv", ContentFile(table_csv(table)), save=False)
    else:
        batch.file.save(f"{uuid.uuid4().hex}.{table.format}", ContentFile(data), save=False)
    batch.save()
    batch.dropped_columns = table.dropped  # for the screen to say so; the stored file never held them
    return batch


FILE_GONE = "This upload's file is no longer kept (uploads are deleted {days} days after they are applied, or with a \
person they named); upload the file again."


def batch_table(batch: UploadBatch) -> Table:
    if not batch.file:
        raise UploadRefused(FILE_GONE.format(days=settings.UPLOAD_FILE_RETENTION_DAYS))
    with batch.file.open("rb") as handle:
        # The stored file's own name: a file whose password columns were cut out is kept as CSV.
        return read_upload(handle.read(), batch.file.name.rsplit("/", 1)[-1])


def upload_preview(
    *,
    school: School,
    account: Account,
    batch: UploadBatch,
    mode: str | None = None,
    add_existing: bool | None = None,
    table: Table | None = None,
) -> UploadPlan:
    """The plan against the registry as it is now (the file is read again, or `table`, the caller's own reading
    of it just now; nothing is cached)."""
    return upload_plan(
        school=school,
        account=account,
        table=table or batch_table(batch),
        mode=mode or batch.mode,
        add_existing=batch.add_existing if add_existing is None else add_existing,
    )
