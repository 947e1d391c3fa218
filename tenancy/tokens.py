"""Per-school API tokens: issue, revoke, and recognise them on a request."""

import hashlib
import secrets

from django.utils import timezone
from django_scopes import scope

from tenancy.models import ApiToken, School

TOKEN_PREFIX = "rc_"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(*, school: School, account, name: str, role_codes: list[str]) -> tuple[ApiToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    from accounts.audit import audit_record

    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        school=school, name=name, prefix=raw[:8], token_hash=_hash(raw), account=account, role_codes=role_codes
    )
    audit_record(
        action="tenancy.api_token.issued",
        actor=account,
        school=school,
        target_type="api_token",
        target_id=str(token.pk),
        target_label=token.name,
        changes={"role_codes": [None, role_codes], "token": ["", "issued"]},
    )
    return token, raw


def api_token_revoke(*, school: School, token: ApiToken, actor) -> None:
    from accounts.audit import audit_record

    ApiToken.objects.filter(school=school, pk=token.pk).update(revoked_at=timezone.now())
    audit_record(
        action="tenancy.api_token.revoked",
        actor=actor,
        school=school,
        target_type="api_token",
        target_id=str(token.pk),
        target_label=token.name,
    )


def api_token_for_request(request, school: School) -> ApiToken | None:
    """The live token in the Authorization header, if it belongs to this school."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Token "):
        return None
    raw = header[len("Token ") :].strip()
    with scope(school=school):
        token = (
            ApiToken.objects.select_related("account")
            .filter(school=school, token_hash=_hash(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.account.is_active or token.account.locked_out:
            return None
        ApiToken.objects.filter(school=school, pk=token.pk).update(last_used_at=timezone.now())
    return token


def api_token_any_school(request) -> ApiToken | None:
    """The live token in the Authorization header, whichever school it belongs to: for the API's schema and
    docs, which describe every school's API alike and read no school's data."""
    from django_scopes import scopes_disabled

    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Token "):
        return None
    raw = header[len("Token ") :].strip()
    with scopes_disabled():
        token = (
            ApiToken.objects.select_related("account", "school")
            .filter(token_hash=_hash(raw), revoked_at__isnull=True, school__is_active=True)
            .first()
        )
    if token is None or not token.account.is_active or token.account.locked_out:
        return None
    return token
