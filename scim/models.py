"""SCIM 2.0 in: an organisation's identity provider (Entra ID, Okta, Google) provisions its staff into Rollcall.

Both tables belong to an organisation, not to one school: the identity provider speaks for the whole
organisation, and each person it provisions joins one of its schools (ScimUser.school).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account
from tenancy.models import Organisation, School


class ScimToken(models.Model):
    """The bearer token an organisation's identity provider sends. Issued by support (the support admin), shown
    once, stored as a SHA-256 hash; it grants only the roles listed here, never Centre Admin."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="scim_tokens")
    name = models.CharField(max_length=100, help_text="The identity provider that uses it, e.g. Entra ID.")
    prefix = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True)
    role_codes = models.JSONField(default=list, help_text="Roles the identity provider may give its staff.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "SCIM token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def label(self) -> str:
        """How the audit log names it as the actor."""
        return f"SCIM token {self.name} ({self.prefix}…)"


class ScimUser(models.Model):
    """A person the organisation's identity provider provisioned: the SCIM resource (its id is this row's, so the
    same account has unrelated ids in two organisations), the school they joined and the provider's externalId.
    Removed (DELETE) leaves the row as a tombstone with removed_at: the person is then no longer the provider's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "account"],
                condition=models.Q(removed_at__isnull=True),
                name="scim_user_once_per_organisation",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "external_id"], name="scim_user_external_idx")]

    def __str__(self):
        return f"{self.account} ({self.organisation})"
