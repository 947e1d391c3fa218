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


# --- Contacts: what Account Manager jobs did, per person (issue 6) ----------------------------------
# Owned by provisioning/contacts/. One row per person per Revoke Access or Send Welcome Email job.
# (uuid, models and SchoolOwned are imported by the section above.)

class ContactJobItem(SchoolOwned):
    """What one Revoke Access or Send Welcome Email job did for one person.

    Rows are written when the job starts (outcome "pending") and claimed in batches with a conditional
    UPDATE, so a redelivered task never sends a second email nor revokes twice. Welcome rows are the
    delivery record: the address used and the outcome (sent, or failed with the reason), which the
    Account Manager lists as email problems.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting"
        WORKING = "working", "In progress"
        SENT = "sent", "Sent"
        REVOKED = "revoked", "Access revoked"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey("tenancy.Job", on_delete=models.CASCADE, related_name="contact_items")
    kind = models.CharField(max_length=32, help_text="The job's kind: revoke or welcome_email.")
    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="job_items")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.CharField(max_length=300, blank=True, help_text="Why it failed or was skipped.")
    email = models.EmailField(blank=True, help_text="The address the welcome email went to.")
    username = models.CharField(max_length=150, blank=True, help_text="The username a revoke removed.")
    reason = models.CharField(max_length=40, blank=True, help_text="Why the contact was Ready to Revoke Access.")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "membership"], name="contact_job_item_once")]
        indexes = [
            models.Index(fields=["school", "kind", "outcome"], name="contact_job_item_outcome_idx"),
            models.Index(fields=["school", "membership", "kind"], name="contact_job_item_member_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.get_outcome_display()}"
