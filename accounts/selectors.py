"""Reads of the registry that several screens share. The first argument is the school."""

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Lower
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts import extensions, labels
from accounts.keyset import KeysetPage, page_beside
from accounts.models import (
    Account,
    AuditEvent,
    ContactLink,
    Membership,
    OrganisationRole,
    PersonType,
    RoleAssignment,
    StarterCode,
)
from accounts.permissions import (
    OrgPerm,
    Perm,
    acting_roles_for_organisation,
    grantable_roles_for,
    organisation_perms,
    organisation_school_perms,
    permissions_for_roles,
)
from tenancy.models import Organisation, School
from tenancy.sql import pg_array


def accounts_with_email(email: str) -> QuerySet[Account]:
    """Accounts using this address, whatever its case: MIS exports keep "Jane.Smith@...", and a family
    address may be shared by several accounts. Sign-in, password reset and social sign-in use it."""
    email = (email or "").strip()
    if not email:
        return Account.objects.none()
    return Account.objects.filter(email__iexact=email).order_by("date_joined")


def login_account_id(login: str):
    """The one account a sign-in's login names: by username, in any spelling (Account.normalize_username), or
    by an email address that only one account uses; None when it names none, or several."""
    login = (login or "").strip()
    if not login:
        return None
    found = Account.objects.filter(username__iexact=Account.normalize_username(login)).values_list("pk", flat=True)
    if not found and "@" in login:
        found = accounts_with_email(login).values_list("pk", flat=True)[:2]
    found = list(found)
    return found[0] if len(found) == 1 else None


def schools_of(user, *, to_switch_to: bool = False) -> list[School]:
    """Schools the user may open: their non-archived memberships, every school of an organisation where they
    hold an organisation role (Trust Admin, Trust Viewer: never another organisation's), or every active
    school for support. `to_switch_to`: the school switcher's list, where support's reach does not count (a
    school's pages need a role there, so every school offered led support to a refusal; support works in the
    support admin)."""
    if not user.is_authenticated:
        return []
    if user.is_staff and not to_switch_to:
        return list(School.objects.filter(is_active=True))
    with scopes_disabled():
        school_ids = set(
            Membership.objects.filter(account=user)
            .exclude(status=Membership.Status.ARCHIVED)
            .values_list("school_id", flat=True)
        )
    trusts = OrganisationRole.objects.filter(account=user).values("organisation_id")
    return list(School.objects.filter(Q(id__in=school_ids) | Q(organisation_id__in=trusts), is_active=True))


def organisation_roles_of(user) -> list[OrganisationRole]:
    """The organisations where the user holds an organisation role, with the role (the trust console's menu)."""
    if not user.is_authenticated or user.deleted_at is not None:
        return []
    return list(OrganisationRole.objects.filter(account=user).select_related("organisation"))


def organisation_for_user(user, slug: str) -> tuple[Organisation, frozenset[OrgPerm]] | None:
    """The organisation a trust console URL names, with what the user's role opens there; None (a 404) when
    it does not exist or the user holds no role over it: the two look the same."""
    for held in organisation_roles_of(user):
        if held.organisation.slug == slug:
            return held.organisation, organisation_perms([held.role])
    return None


def organisation_schools(*, organisation: Organisation) -> list[School]:
    return list(School.objects.filter(organisation=organisation, is_active=True).order_by("name"))


def organisation_roles_at(*, school: School, account: Account) -> tuple[frozenset[str], bool]:
    """The organisation roles the account holds over the school's organisation, and whether that organisation
    lets Trust Admins act as Centre Admin. Through an API token, none: a token acts as its roles at its school."""
    if not account.is_authenticated or through_token(account.pk):
        return frozenset(), False
    rows = OrganisationRole.objects.filter(account=account, organisation_id=school.organisation_id).values_list(
        "role", "organisation__trust_admins_act_as_centre_admin"
    )
    rows = list(rows)
    return frozenset(role for role, _ in rows), any(allowed for _, allowed in rows)


def membership_schools_sign_in_settings(account: Account) -> set[bool]:
    """Each distinct "Sign in with Microsoft 365 or Google only" of the schools a person signs in to (as
    schools_of: active schools of their Active or Left memberships, not Archived; support staff's reach over every
    school does not count), in one query, as sign-in asks it for every password typed: {True} when every such
    school has it on, set() when there is none."""
    with scopes_disabled():
        return set(
            Membership.objects.filter(account=account, school__is_active=True)
            .exclude(status=Membership.Status.ARCHIVED)
            .values_list("school__sign_in_microsoft_google_only", flat=True)
            .order_by()
            .distinct()
        )


def accounts_named_by(login: str) -> list[Account]:
    """Every account a sign-in's login could mean and sign in, as the sign-in backends look them up: the username
    in any spelling (Account.normalize_username), and each account using the address when it is one (a family
    address may be shared). Unlike login_account_id it keeps them all: each is tried with the password. An
    inactive or deleted account is left out: it signs in by no method, and is refused in the usual words."""
    login = (login or "").strip()
    if not login:
        return []
    found = list(Account.objects.filter(username__iexact=Account.normalize_username(login)))
    if "@" in login:
        found += [a for a in accounts_with_email(login) if a not in found]
    return [a for a in found if a.is_active and a.deleted_at is None]


def school_for_user(user, slug: str) -> School | None:
    if not user.is_authenticated:
        return None
    for school in schools_of(user):
        if school.slug == slug:
            return school
    return None


def privacy_notice_for(account: Account) -> tuple[str, str] | None:
    """(organisation name, notice) the person is shown at first sign-in: their home school's
    organisation, else that of the first school they belong to; None when it has set no notice."""
    school = account.home_school or next(iter(schools_of(account)), None)
    if school is None or not school.organisation.privacy_notice.strip():
        return None
    return school.organisation.name, school.organisation.privacy_notice.strip()


# A role counts while its membership is active or in the grace period after leaving.
ROLES_COUNT_WHILE = (Membership.Status.ACTIVE, Membership.Status.LEFT)


# The API token a request acts with, if any: (account id, school id, the token's roles). A token acts for its
# issuer limited to its roles at its school, so every question about the issuer's roles during that request
# (permissions, roles they may grant, whom they may act on) is answered through the token, here, once.
_TOKEN_SCOPE: ContextVar[tuple | None] = ContextVar("rollcall_token_scope", default=None)


@contextmanager
def token_scope(token):
    """While a request acts with `token` (None: a person signed in), the issuer's roles are the token's."""
    reset = _TOKEN_SCOPE.set((token.account_id, token.school_id, frozenset(token.role_codes)) if token else None)
    try:
        yield
    finally:
        _TOKEN_SCOPE.reset(reset)


def token_limited(account_id, school_id, codes) -> frozenset[str]:
    """The roles `codes` (held at `school_id`) stand for in this request: through a token, its issuer acts as
    the token's roles at its school (which they could grant when they issued it) and as nobody elsewhere.
    What the request may do is still bounded by what the issuer may do now (the middleware's _token_perms)."""
    acting = _TOKEN_SCOPE.get()
    if acting is None or acting[0] != account_id:
        return frozenset(codes)
    return acting[2] if school_id == acting[1] else frozenset()


def through_token(account_id) -> bool:
    """Whether this account acts in this request through an API token (which is not the person)."""
    acting = _TOKEN_SCOPE.get()
    return acting is not None and acting[0] == account_id


def role_codes_for(*, school: School, account: Account) -> frozenset[str]:
    """Roles the account holds at the school through memberships that still count (through an API token,
    only those of its roles it may use)."""
    if not account.is_authenticated:
        return frozenset()
    codes = RoleAssignment.objects.filter(
        school=school,
        membership__account=account,
        membership__status__in=ROLES_COUNT_WHILE,
    ).values_list("role_id", flat=True)
    return token_limited(account.pk, school.pk, codes)


def centre_admin_account_ids(*, school: School) -> frozenset:
    """The accounts that are Centre Admins at the school, counted as role_codes_for counts roles: one
    query (a school has a handful), so a rule about Centre Admins can be checked for a whole file at once."""
    ids = RoleAssignment.objects.filter(
        school=school, role_id="centre_admin", membership__status__in=ROLES_COUNT_WHILE
    ).values_list("membership__account_id", flat=True)
    return frozenset(ids)


def permissions_for(*, school: School, account: Account) -> frozenset[Perm]:
    """What the account may do at the school: its roles there, and its organisation roles over the school's
    organisation (accounts.permissions.organisation_school_perms)."""
    org_roles, allowed = organisation_roles_at(school=school, account=account)
    held = permissions_for_roles(role_codes_for(school=school, account=account))
    return held | organisation_school_perms(org_roles, act_as_centre_admin=allowed)


def acting_role_codes(*, school: School, account: Account) -> frozenset[str]:
    """The roles the account acts with at the school: those it holds, and Centre Admin for a Trust Admin where
    the organisation allows it. Who they may grant and act on follows from these."""
    org_roles, allowed = organisation_roles_at(school=school, account=account)
    acting = acting_roles_for_organisation(org_roles, act_as_centre_admin=allowed)
    return role_codes_for(school=school, account=account) | acting


def grantable_roles(*, school: School, account: Account) -> frozenset[str]:
    return grantable_roles_for(acting_role_codes(school=school, account=account))


def membership_get(*, school: School, membership_id) -> Membership:
    """Look a membership up through the school: another school's id is simply not found."""
    return Membership.objects.select_related("account").get(school=school, id=membership_id)


def memberships_of(*, school: School, account: Account) -> QuerySet[Membership]:
    return Membership.objects.filter(school=school, account=account)


def membership_counts(*, school: School) -> dict[tuple[str, str], int]:
    rows = Membership.objects.filter(school=school).values("person_type", "status").annotate(n=Count("id")).order_by()
    return {(row["person_type"], row["status"]): row["n"] for row in rows}


def portal_links(*, school: School) -> QuerySet[ContactLink]:
    """Links that give a contact the parent portal: a current contact flagged for Parent portal access,
    linked (with the link's flag on) to a current student. The one rule for contact eligibility:
    the profile and the Account Manager's contact states (provisioning.contacts.selectors) both use it."""
    return ContactLink.objects.filter(
        school=school,
        portal_access=True,
        contact__status=Membership.Status.ACTIVE,
        contact__portal_access=True,
        student__person_type="student",
        student__status=Membership.Status.ACTIVE,
    )


def linked_students(*, school: School, contact_account: Account) -> QuerySet[ContactLink]:
    """The students a parent sees: none at all once the contact is no longer eligible (Ready to
    Revoke Access), even before an admin revokes the sign-in."""
    return (
        portal_links(school=school)
        .filter(contact__account=contact_account)
        .select_related("student__account", "student__school")
    )


def contact_without_portal_access(*, school: School, account: Account) -> bool:
    """The account is a contact here but no longer eligible for the parent portal (the profile's notice)."""
    contacts = Membership.objects.filter(school=school, account=account, person_type="contact")
    return contacts.exists() and not portal_links(school=school).filter(contact__account=account).exists()


def audit_for_account(*, school: School, account: Account) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(school=school, target_type="account", target_id=str(account.pk))


# --- The Users list ----------------------------------------------------------------------------
# One page costs a fixed number of queries whatever its size: the count, the page itself (linked
# sign-ins come as an EXISTS column), one query for the page's roles, one for the Info markers, and
# one for the position of the person the page starts after (keyset paging) when the link carries one.

USER_LIST_SORTS: dict[str, tuple] = {
    # Each sort ends on a unique account key (the username) and then the membership id, so the order is total
    # and pages never overlap; the keys before the membership id are one index each (migration 0015).
    "username": (Lower("account__username"),),
    "mis_code": ("mis_code",),
    "family_name": (Lower("account__family_name"), Lower("account__given_name"), Lower("account__username")),
    "given_name": (Lower("account__given_name"), Lower("account__family_name"), Lower("account__username")),
    "email": (Lower("account__email"), Lower("account__username")),
}
USER_LIST_PAGE_SIZES = (25, 50, 100, 200)


@dataclass(frozen=True)
class UserListFilters:
    q: str = ""
    person_type: str = ""
    role: str = ""
    status: str = ""
    year_group: str = ""
    sort: str = "family_name"
    descending: bool = False


# Up to this many matching people, the page is sorted in memory after filtering; beyond it, the
# name indexes give the order. PostgreSQL otherwise walks a name index for a rare filter value
# (1% "left") and reads thousands of rows to fill one page.
SORT_IN_MEMORY_UP_TO = 5000


# A page asked for by number alone (a typed URL, First/Last, the API's `page`) is read with OFFSET, from
# whichever end of the list is nearer. Beyond this offset one sort of everything is cheaper than a walk of
# the name index that joins every skipped row. Previous and Next carry the person the page starts after
# (or before), so paging never needs an offset at all.
INDEX_WALK_UP_TO_OFFSET = 10_000


def user_list_page(
    *, school: School, filters: UserListFilters, page, per_page: int, after=None, before=None
) -> KeysetPage:
    """One page of the Users list: the count, then the page with the plan that suits its size.

    `after` (or `before`) is the membership id of the last (first) person of the page the reader came from: the
    page is read by seeking past that person's sort keys, as cheap on page 1,000 as on page 2. `page` is then
    only the number shown. A cursor that names no one in this school, or that nothing follows, is ignored and
    the page is found by its number.
    """
    total = user_list(school=school, filters=filters).count()
    paginator = Paginator(range(total), per_page)
    number = paginator.get_page(page).number
    listed = user_list(school=school, filters=filters, sort_in_memory=total <= SORT_IN_MEMORY_UP_TO)
    paginator.count = total
    forward = bool(after)
    position = _position(school=school, filters=filters, membership_id=after or before)
    if position is not None:
        found = page_beside(listed, position, number, paginator, forward=forward)
        if found is not None:
            return found
        # Nothing after the person (the list got shorter): the last page. Less than a page before them: the first.
        number = paginator.num_pages if forward else 1
    return _page_by_number(school, filters, listed, number, paginator)


def _position(*, school: School, filters: UserListFilters, membership_id) -> tuple | None:
    """The sort keys of the person a cursor names, or None for garbage or for someone not in this school."""
    if not membership_id:
        return None
    try:
        membership_id = uuid.UUID(str(membership_id))
    except ValueError:
        return None
    keys = _sort_keys(filters, sort_in_memory=False)
    names = [f"_k{n}" for n in range(len(keys))]
    row = (
        Membership.objects.filter(school=school, pk=membership_id)
        .annotate(**dict(zip(names, keys, strict=True)))
        .values_list(*names, "pk")
        .first()
    )
    return tuple(row) if row else None


def _page_by_number(school: School, filters: UserListFilters, listed, number: int, paginator) -> KeysetPage:
    per_page, total = paginator.per_page, paginator.count
    start = (number - 1) * per_page
    size = max(0, min(per_page, total - start))
    from_end = total - start - size  # how many come after this page
    flags = {"has_previous": number > 1, "has_next": number < paginator.num_pages}
    if start <= from_end and start <= INDEX_WALK_UP_TO_OFFSET:
        return KeysetPage(list(listed[start : start + size]), number, paginator, **flags)
    if from_end <= INDEX_WALK_UP_TO_OFFSET:  # nearer the end (the Last link): read backwards
        return KeysetPage(list(listed.reverse()[from_end : from_end + size])[::-1], number, paginator, **flags)
    # Deep in the middle, by number alone: sort everything. The sort carries only the ids (and their keys), and
    # the page's own rows, with their accounts and sign-in flags, are read after.
    ids = list(
        user_list(school=school, filters=filters, sort_in_memory=True)
        .prefetch_related(None)
        .values_list("pk", flat=True)[start : start + size]
    )
    rows = {m.pk: m for m in listed.filter(pk__in=ids)}
    return KeysetPage([rows[pk] for pk in ids if pk in rows], number, paginator, **flags)


def _sort_keys(filters: UserListFilters, *, sort_in_memory: bool) -> list:
    keys = USER_LIST_SORTS.get(filters.sort, USER_LIST_SORTS["family_name"])
    if sort_in_memory:  # the same order, in a form no index matches
        return [Concat(F(key) if isinstance(key, str) else key, Value(""), output_field=CharField()) for key in keys]
    return [F(key) if isinstance(key, str) else key for key in keys]


def user_list(*, school: School, filters: UserListFilters, sort_in_memory: bool = False) -> QuerySet[Membership]:
    """The school's people (one row per membership) for the Users screen and the API.

    Deleted accounts are tombstones and never listed.
    """
    # NOT EXISTS against the few tombstones (partial index) rather than a join, so the page count
    # stays an index-only scan of memberships.
    deleted = Account.objects.filter(pk=OuterRef("account_id"), deleted_at__isnull=False)
    qs = Membership.objects.filter(~Exists(deleted), school=school)
    if filters.person_type:
        qs = qs.filter(person_type=filters.person_type)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.year_group:
        qs = qs.filter(year_group=filters.year_group)
    if filters.role:
        qs = qs.filter(
            Exists(RoleAssignment.objects.filter(school=school, membership=OuterRef("pk"), role_id=filters.role))
        )
    if filters.q:
        qs = qs.filter(_search(school=school, q=filters.q))
    order = [_ordered(key, filters.descending) for key in _sort_keys(filters, sort_in_memory=sort_in_memory)]
    return (
        qs.select_related("account")
        .annotate(has_linked_signin=Exists(SocialAccount.objects.filter(user_id=OuterRef("account_id"))))
        .prefetch_related(
            Prefetch(
                "role_assignments",
                queryset=RoleAssignment.objects.filter(school=school)
                .select_related("role")
                .order_by("role__sort_order", "role_id"),
            )
        )
        .order_by(*order, _ordered("id", filters.descending))
    )


def _ordered(key, descending: bool):
    expression = F(key) if isinstance(key, str) else key
    return expression.desc() if descending else expression.asc()


# The account columns the search looks in, joined by spaces: a search word never holds a space, so
# no word matches across two columns. On PostgreSQL one trigram index covers exactly this expression
# (migration 0011) instead of one per column, each of which every account a sync writes went into.
ACCOUNT_SEARCH_TEXT = Concat(
    "username", Value(" "), "family_name", Value(" "), "given_name", Value(" "), "email", output_field=CharField()
)


def _search(*, school: School, q: str) -> Q:
    """Name, username, email or MIS code containing the words (each word must match somewhere).

    On PostgreSQL the account columns (together) and the MIS code have trigram indexes, so
    "contains" stays an index scan on a 100,000-person school.
    """
    condition = Q()
    for word in q.split()[:5]:
        # The accounts and the MIS codes as two subqueries, so each uses its own index, joined by
        # UNION ALL into a single IN (...) that PostgreSQL turns into a semi-join; ORed conditions
        # would make it read every row.
        by_account = Membership.objects.filter(school=school, account_id__in=_accounts_containing(word))
        by_code = Membership.objects.filter(school=school, mis_code__icontains=word)
        condition &= Q(pk__in=by_account.order_by().values("pk").union(by_code.order_by().values("pk"), all=True))
    return condition


def search_condition(*, school: School, q: str) -> Q:
    """The Users list's search (name, username, email or MIS code), for other lists of a school's people."""
    return _search(school=school, q=q)


def accounts_containing(word: str) -> QuerySet[Account]:
    """Accounts whose username, names or email contain the word: the Users search's half about accounts, for
    the trust console's people search (accounts.trust)."""
    return _accounts_containing(word)


def _accounts_containing(word: str) -> QuerySet[Account]:
    return Account.objects.alias(text=ACCOUNT_SEARCH_TEXT).filter(text__icontains=word).values("pk")


def year_groups(*, school: School) -> list[str]:
    """The year groups in use, for the filter's drop-down. A DISTINCT over 100,000 rows is too dear
    for every page, and year groups change once a year, so it is cached for a few minutes."""
    return cache.get_or_set(f"accounts.year_groups.{school.pk}", lambda: year_groups_in_use(school=school), 300)


def year_groups_in_use(*, school: School) -> list[str]:
    """The same, read now: what checks a year group must not wait for the drop-down's cache."""
    return list(
        Membership.objects.filter(school=school)
        .exclude(year_group="")
        .order_by("year_group")
        .values_list("year_group", flat=True)
        .distinct()
    )


def started_assessment_ids(*, school: School, membership_ids: list) -> set:
    """Memberships on the page that have started at least one assessment (the Info marker)."""
    return extensions.started_assessment_ids(school=school, membership_ids=membership_ids)


def account_match_existing(*, school: School, email: str = "", upn: str = "", person_type: str = "") -> Account | None:
    """An account that already exists (probably at another school) for this person: matched by a
    verified email, or by UPN for a student. +Add offers it instead of making a duplicate."""
    match = Q()
    if email:
        match |= Q(email__iexact=email, email_verified=True)
    if upn and person_type == PersonType.STUDENT:
        match |= Q(upn=upn)
    if not match:
        return None
    with scopes_disabled():
        return Account.objects.filter(match, deleted_at__isnull=True, is_active=True).order_by("date_joined").first()


def accounts_possibly_same(*, organisation_id, emails, exclude_ids=()) -> dict[str, Account]:
    """Accounts of this organisation (home school, or a membership at one of its schools) with one of these
    emails, verified or not: {email in lower case: the earliest such account}.

    A possible match, never a certain one: MIS feeds and +Add send emails nobody verified, so the same teacher
    at two schools of a trust would otherwise get a second account, yet two people may share an address (a
    family's). Only a person confirms it. Another organisation's people are never looked at, so none is ever
    shown. (Accounts hold no date of birth, so names and birth date cannot be matched.)"""
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
    found: dict[str, Account] = {}
    in_org = Q(home_school__organisation_id=organisation_id) | Q(memberships__school__organisation_id=organisation_id)
    # PostgreSQL: every email in one array parameter, one query (a first import's 65,000 emails were 72 queries
    # of 900), compared with = ANY: an index lookup of lower(email) per email. (IN (SELECT unnest(...)) was
    # planned as a scan of every account: each small school of a night's first imports paid for it, the
    # database's CPU for the night doubled.) SQLite: batches under its limit on query parameters.
    if connection.vendor == "postgresql":
        any_of = 'lower("accounts_account"."email") = ANY(%s::text[])'
        batches = [RawSQL(any_of, [pg_array(wanted)], output_field=BooleanField())] if wanted else []
    else:
        batches = [Q(low__in=wanted[start : start + 900]) for start in range(0, len(wanted), 900)]
    with scopes_disabled():  # the organisation's other schools: the match is about the person, not this school
        for batch in batches:
            rows = (
                Account.objects.annotate(low=Lower("email"))
                .filter(in_org, batch, deleted_at__isnull=True, is_active=True)
                .exclude(pk__in=list(exclude_ids))
                .select_related("home_school")
                .distinct()
                .order_by("date_joined", "pk")
            )
            for account in rows:
                found.setdefault(account.low, account)
    return found


def linked_signins(*, account: Account) -> list[str]:
    """Names of the Microsoft 365 / Google sign-ins linked to the account, for admins."""
    names = {"microsoft": "Microsoft 365", "google": "Google"}
    providers = SocialAccount.objects.filter(user=account).values_list("provider", flat=True)
    return [names.get(provider, provider) for provider in providers]


def starter_codes_expiring(*, school: School, within_days: int = 7) -> int:
    """Unused starter codes that stop working within `within_days` (the dashboard's reminder)."""
    now = timezone.now()
    return StarterCode.objects.filter(
        school=school,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=within_days),
    ).count()


def account_history(*, school: School, account: Account, limit: int = 50) -> list[dict]:
    """What happened to an account at this school, newest first: audit events, and what the other apps
    record about it (accounts.extensions: the records of applied syncs)."""
    roles = labels.role_names()
    entries = [
        {
            "at": event.at,
            "what": labels.action_label(event.action),
            "who": labels.actor_words(event.actor_label),
            "changes": labels.audit_changes(event.changes, roles),
        }
        for event in audit_for_account(school=school, account=account).order_by("-at")[:limit]
    ]
    entries += extensions.history_entries(school=school, account=account, limit=limit)
    return sorted(entries, key=lambda e: e["at"], reverse=True)[:limit]
