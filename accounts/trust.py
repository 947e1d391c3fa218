"""Reads for the trust console (pages/trust.py): an organisation's schools at once, and its grants.

Set-based: each read is one query whatever the number of schools, run inside scope(school=[its schools]) (the
middleware's, for /t/<org_slug>/), so another organisation's rows are out of reach twice over. Who holds an
organisation role, and which schools it opens, are accounts.selectors (schools_of, organisation_for_user).
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch
from django.db.models.functions import Lower

from accounts.models import Account, Membership, OrganisationRole, PersonType, RoleAssignment
from accounts.selectors import ROLES_COUNT_WHILE, accounts_containing
from tenancy.models import Organisation


def organisation_role_holders(*, organisation: Organisation) -> list[OrganisationRole]:
    return list(
        OrganisationRole.objects.filter(organisation=organisation)
        .select_related("account")
        .order_by("role", Lower("account__username"))
    )


def organisation_role_get(*, organisation: Organisation, role_id) -> OrganisationRole | None:
    """One grant of the organisation, looked up through it: another organisation's id is not found."""
    if role_id is None:
        return None
    return OrganisationRole.objects.filter(organisation=organisation, id=role_id).select_related("account").first()


def account_by_username(username: str) -> Account | None:
    username = (username or "").strip()
    if not username:
        return None
    return Account.objects.filter(username__iexact=Account.normalize_username(username)).first()


def people_counts_by_school(*, schools) -> dict:
    """{school id: {person type: people}}: current people (Active or Left; not archived, not deleted)."""
    deleted = Account.objects.filter(pk=OuterRef("account_id"), deleted_at__isnull=False)
    rows = (
        Membership.objects.filter(~Exists(deleted), school__in=schools, status__in=ROLES_COUNT_WHILE)
        .values("school_id", "person_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict = {school.pk: {t.value: 0 for t in PersonType} for school in schools}
    for row in rows:
        counts[row["school_id"]][row["person_type"]] = row["n"]
    return counts


@dataclass
class TrustPerson:
    """One account found by the trust-wide search, with its place at each school of the organisation."""

    account: Account
    places: list  # Memberships, each with .school and its role assignments


TRUST_SEARCH_LIMIT = 50


def trust_people_search(*, schools, q: str, limit: int = TRUST_SEARCH_LIMIT) -> list[TrustPerson]:
    """People of these schools whose name, username, email or MIS code contains every word of `q` (as the Users
    search), one entry per account however many schools it is at: a teacher at two schools is one person.
    Three queries: the accounts (first `limit` + 1, by name), their places, and the places' roles."""
    words = q.split()[:5]
    if not words:
        return []
    found = Membership.objects.filter(school__in=schools, account__deleted_at__isnull=True)
    for word in words:
        by_account = Membership.objects.filter(school__in=schools, account_id__in=accounts_containing(word))
        by_code = Membership.objects.filter(school__in=schools, mis_code__icontains=word)
        found = found.filter(pk__in=by_account.order_by().values("pk").union(by_code.order_by().values("pk"), all=True))
    accounts = list(
        Account.objects.filter(pk__in=found.values("account_id")).order_by(
            Lower("family_name"), Lower("given_name"), Lower("username")
        )[: limit + 1]
    )
    places = (
        Membership.objects.filter(school__in=schools, account__in=accounts)
        .select_related("school")
        .prefetch_related(
            Prefetch(
                "role_assignments",
                queryset=RoleAssignment.objects.select_related("role").order_by("role__sort_order", "role_id"),
            )
        )
        .order_by("school__name", "person_type")
    )
    by_account: dict = {}
    for place in places:
        by_account.setdefault(place.account_id, []).append(place)
    return [TrustPerson(account=a, places=by_account.get(a.pk, [])) for a in accounts]
