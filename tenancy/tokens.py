"""Per-school API tokens: how they are hashed, and recognising them on a request.

Issuing and revoking write audit events, so they live above, in accounts.services.tokens."""

import hashlib

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from tenancy.models import ApiToken, School

TOKEN_PREFIX = "rc_"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_for_request(request, school: School) -> ApiToken | None:
    """The live token in the Authorization header, if it belongs to this school."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Token "):
        return None
    raw = header[len("Token ") :].strip()
    with scope(school=school):
        token = (
            ApiToken.objects.select_related("account")
            .filter(school=school, token_hash=token_hash(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.account.is_active or token.account.locked_out or not token.account.approved:
            return None
        ApiToken.objects.filter(school=school, pk=token.pk).update(last_used_at=timezone.now())
    return token


def api_token_any_school(request) -> ApiToken | None:
    """The live token in the Authorization header, whichever school it belongs to: for the API's schema and
    docs, which describe every school's API alike and read no school's data."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Token "):
        return None
    raw = header[len("Token ") :].strip()
    with scopes_disabled():
        token = (
            ApiToken.objects.select_related("account", "school")
            .filter(token_hash=token_hash(raw), revoked_at__isnull=True, school__is_active=True)
            .first()
        )
    if token is None or not token.account.is_active or token.account.locked_out or not token.account.approved:
        return None
    return token
