"""Reads for SCIM in: the token on a request, the organisation's schools, and its provisioned people.

Everything starts from the token's organisation: a person another organisation provisioned is simply not found,
whatever id or filter is asked for."""

import hashlib
import re
import uuid

from django.db.models import QuerySet
from django.utils import timezone
from django_scopes import scope

from accounts.models import Membership, PersonType
from scim.models import ScimToken, ScimUser
from tenancy.models import Organisation, School

TOKEN_PREFIX = "rc_scim_"

# The filters identity providers send before they create someone (RFC 7644 §3.4.2.2): one attribute, eq, a string.
_FILTER = re.compile(r'^\s*(userName|emails\.value|emails|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.I)
FILTER_FIELDS = {
    "username": "account__username__iexact",
    "emails.value": "account__email__iexact",
    "emails": "account__email__iexact",
    "externalid": "external_id",
}


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def scim_token_for(header: str) -> ScimToken | None:
    """The live token of `Authorization: Bearer ...`, or None."""
    scheme, _, raw = (header or "").partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ScimToken.objects.select_related("organisation")
        .filter(token_hash=token_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def organisation_schools(*, organisation: Organisation) -> list[School]:
    return list(School.objects.filter(organisation=organisation, is_active=True).order_by("slug"))


def filter_parse(text: str | None) -> tuple[str, str] | None:
    """(queryset lookup, value) of a supported filter; None for no filter. ValueError: a filter Rollcall does not
    take (the view answers invalidFilter)."""
    if not text:
        return None
    found = _FILTER.match(text)
    if found is None:
        raise ValueError('Rollcall filters Users by userName, emails.value or externalId, with eq: userName eq "x".')
    value = re.sub(r"\\(.)", r"\1", found.group(2))
    return FILTER_FIELDS[found.group(1).lower()], value


def scim_users(*, organisation: Organisation, lookup: tuple[str, str] | None = None) -> QuerySet[ScimUser]:
    """The organisation's provisioned people that are still its (not removed, not erased)."""
    found = ScimUser.objects.filter(
        organisation=organisation, removed_at__isnull=True, account__deleted_at__isnull=True
    ).select_related("account", "school")
    if lookup is not None:
        found = found.filter(**{lookup[0]: lookup[1]})
    return found.order_by("created_at", "id")


def scim_user_get(*, organisation: Organisation, user_id) -> ScimUser | None:
    try:
        user_id = uuid.UUID(str(user_id))
    except ValueError:  # a malformed id is no one's
        return None
    return scim_users(organisation=organisation).filter(pk=user_id).first()


def staff_memberships(*, links: list[ScimUser]) -> dict[tuple, Membership]:
    """{(school id, account id): the staff membership} of these people at their schools, roles prefetched: two
    queries for a page, whatever its size."""
    schools = list({link.school for link in links})
    if not schools:
        return {}
    with scope(school=schools):
        rows = Membership.objects.filter(
            school__in=schools, account_id__in=[link.account_id for link in links], person_type=PersonType.STAFF
        ).prefetch_related("role_assignments")
        return {(m.school_id, m.account_id): m for m in rows}
