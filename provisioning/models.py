"""Filled in by the upload and MIS sync issues."""


# --- Spreadsheet bulk upload (issue 9; provisioning/upload/) -----------------------------------
import uuid  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import models  # noqa: E402

from tenancy.models import SchoolOwned  # noqa: E402


class UploadBatch(SchoolOwned):
    """One uploaded spreadsheet: the file as sent, its preview, and the job that applied it.

    The file itself is kept (not a parsed copy) so the preview is always recomputed against the
    registry as it is now, and the result report can hand the admin back their own rows.
    """

    class State(models.TextChoices):
        PREVIEWED = "previewed", "Waiting for confirmation"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        ADD_NEW = "add_new", "Add new only"
        ADD_UPDATE = "add_update", "Add and update"
        UPDATE_ONLY = "update_only", "Update only"

    class PasswordMethod(models.TextChoices):
        STARTER_CODES = "starter_codes", "One-time starter codes (listed in a credentials sheet)"
        INVITATIONS = "invitations", "Send invitations (single-use set-password links by email)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(upload_to="uploads/%Y/%m/")
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=8)
    row_count = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PREVIEWED)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.ADD_NEW)
    password_method = models.CharField(
        max_length=16, choices=PasswordMethod.choices, default=PasswordMethod.STARTER_CODES
    )
    add_existing = models.BooleanField(default=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("tenancy.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    credentials = models.FileField(upload_to="upload-credentials/", blank=True)
    credentials_expire_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["school", "-created_at"], name="upload_batch_school_idx")]

    def __str__(self):
        return f"{self.file_name} ({self.get_state_display()})"
