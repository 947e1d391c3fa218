"""A service's SCIM push settings, and its log of exchanges (kept so long, blanked for an erased person)."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from outbound.models import ScimExchange, ScimTarget
from outbound.secrets import token_encrypt


def target_check(*, service, endpoint: str) -> None:
    if service.organisation_id is None:
        raise ValidationError(
            "SCIM push is for a service of one organisation: a shared service would receive every "
            "organisation's people."
        )
    if not endpoint.startswith(("https://", "http://")):
        raise ValidationError("The SCIM endpoint URL must start with https://.")


def target_token_set(*, target: ScimTarget, token: str) -> None:
    """A new bearer token, kept encrypted; an empty one leaves the token as it is."""
    if token:
        target.token_encrypted = token_encrypt(token.strip())


def target_audit(*, action: str, actor, target: ScimTarget, changes: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        target_type="connected_service",
        target_id=str(target.service_id),
        target_label=target.service.name,
        changes=changes,
    )


def exchanges_purge(*, now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_LOG_RETENTION_DAYS)
    deleted, _ = ScimExchange.objects.filter(at__lt=cutoff).delete()
    return deleted


def exchanges_blank_for_erased(*, account, actor) -> None:
    """accounts.erasure.on_account_erased: what was sent and answered about an erased person is blanked (the
    method, path and status stay, so the log still shows that a push happened)."""
    ScimExchange.objects.filter(account_id=account.pk).exclude(Q(sent="") & Q(answered="")).update(
        sent="", answered="(erased)"
    )
