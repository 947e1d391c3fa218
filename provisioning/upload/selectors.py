"""Reads the upload needs, all set-based: a 10,000-row file costs a handful of queries.

Each lookup takes every value the file holds and fetches the matches in batches of IN (...).
"""

from collections.abc import Iterable, Iterator

from django.db.models.functions import Lower

from accounts.models import Account, Membership, Role, RoleAssignment
from accounts.permissions import BULK_NEVER_GRANTS
from accounts.selectors import grantable_roles
from accounts.services.names import school_year_list
from provisioning.models import UploadBatch
from provisioning.upload.validation import RowContext
from tenancy.models import School

LOOKUP_BATCH = 1000
ACCOUNT_VALUES = ("id", "username", "email", "email_verified", "upn", "given_name", "family_name", "deleted_at")
# EO, SLT and INV first: the roles seed 003 tells exams officers to use.
ROLE_ORDER = ("eo", "slt", "inv")


def chunks(values: Iterable, size: int = LOOKUP_BATCH) -> Iterator[list]:
    batch = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def upload_roles(*, school: School, account: Account) -> tuple[list[Role], frozenset[str]]:
    """Every role (EO, SLT, INV first) and the ones this person may grant in an upload (never Centre Admin)."""
    roles = sorted(Role.objects.all(), key=lambda r: (r.code not in ROLE_ORDER, _order(r.code), r.sort_order))
    may_grant = grantable_roles(school=school, account=account) - BULK_NEVER_GRANTS - {"mis_agent"}
    return roles, frozenset(may_grant)


def _order(code: str) -> int:
    return ROLE_ORDER.index(code) if code in ROLE_ORDER else len(ROLE_ORDER)


def row_context(*, school: School, account: Account) -> RowContext:
    roles, may_grant = upload_roles(school=school, account=account)
    lookup = {}
    for role in roles:
        for name in (role.code, role.short_name, role.name):
            if name:
                lookup.setdefault(name.lower(), role.code)
    return RowContext(
        role_lookup=lookup,
        role_labels={r.code: r.short_name or r.name for r in roles},
        grantable=may_grant,
        email_domains=tuple(school.email_domain_list),
        year_groups=tuple(school_year_list(school=school)),
    )


def accounts_by_username(usernames: Iterable[str]) -> dict[str, dict]:
    """Accounts whose username matches, ignoring case, keyed by the lower-case username (every school)."""
    found = {}
    for batch in chunks(usernames):
        rows = (
            Account.objects.annotate(lower=Lower("username")).filter(lower__in=batch).order_by().values(*ACCOUNT_VALUES)
        )
        for row in rows:
            found[row["username"].lower()] = row
    return found


def accounts_by_identity(*, emails: Iterable[str], upns: Iterable[str]) -> tuple[dict, dict]:
    """Live accounts matched by verified email (lower case) or UPN: "the same person at another school"."""
    by_email: dict[str, list[dict]] = {}
    by_upn: dict[str, list[dict]] = {}
    for batch in chunks(emails):
        qs = Account.objects.annotate(lower=Lower("email")).filter(
            lower__in=batch, email_verified=True, deleted_at__isnull=True
        )
        for row in qs.values(*ACCOUNT_VALUES):
            by_email.setdefault(row["email"].lower(), []).append(row)
    for batch in chunks(upns):
        for row in Account.objects.filter(upn__in=batch, deleted_at__isnull=True).values(*ACCOUNT_VALUES):
            by_upn.setdefault(row["upn"], []).append(row)
    return by_email, by_upn


MEMBERSHIP_VALUES = ("id", "account_id", "account__username", "person_type", "mis_code", "year_group", "form")


def memberships_here(*, school: School, account_ids: Iterable) -> dict[tuple, dict]:
    """This school's memberships of these accounts, keyed by (account id, person type)."""
    found = {}
    for batch in chunks(account_ids):
        for row in Membership.objects.filter(school=school, account_id__in=batch).order_by().values(*MEMBERSHIP_VALUES):
            found[(row["account_id"], row["person_type"])] = row
    return found


def memberships_by_mis_code(*, school: School, codes: Iterable[str]) -> dict[tuple, dict]:
    """This school's memberships holding these MIS codes, keyed by (person type, MIS code)."""
    found = {}
    for batch in chunks(codes):
        qs = Membership.objects.filter(school=school, mis_code__in=batch).order_by()  # no sort by name: a lookup
        for row in qs.values(*MEMBERSHIP_VALUES):
            found[(row["person_type"], row["mis_code"])] = row
    return found


def memberships_by_email(*, school: School, emails: Iterable[str]) -> dict[tuple, list[dict]]:
    """This school's memberships whose account has one of these emails (lower case, verified or not: the school
    made them), keyed by (person type, lower-case email). For rows without a username: the same person again."""
    found: dict[tuple, list[dict]] = {}
    values = (*MEMBERSHIP_VALUES, "account__email", "account__given_name", "account__family_name")
    for batch in chunks(emails):
        qs = (
            Membership.objects.filter(school=school, account__deleted_at__isnull=True)
            .annotate(email_lower=Lower("account__email"))
            .filter(email_lower__in=batch)
            .order_by()
        )
        for row in qs.values(*values):
            found.setdefault((row["person_type"], row["account__email"].lower()), []).append(row)
    return found


def roles_held(*, school: School, membership_ids: Iterable) -> dict:
    held: dict = {}
    for batch in chunks(membership_ids):
        pairs = RoleAssignment.objects.filter(school=school, membership_id__in=batch).values_list(
            "membership_id", "role_id"
        )
        for membership_id, role_id in pairs:
            held.setdefault(membership_id, set()).add(role_id)
    return held


def upload_batch_get(*, school: School, batch_id) -> UploadBatch:
    """Through the school: another school's batch id is simply not found."""
    return UploadBatch.objects.select_related("job").get(school=school, id=batch_id)


def upload_batches_recent(*, school: School, limit: int = 10):
    return UploadBatch.objects.filter(school=school).select_related("created_by", "job")[:limit]
