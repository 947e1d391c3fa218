"""Execute a stored plan, set-based, inside the caller's transaction: all of it or none of it.

The plan's items are the SyncRecord rows of the run; nothing here decides anything new, except the
starter codes of new accounts (issued with accounts.credentials.starter_codes_build).
"""

import uuid
from collections import defaultdict
from datetime import timedelta

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_scopes import scopes_disabled

from accounts.credentials import STARTER_CODE_DAYS, starter_code_values
from accounts.models import Account, ContactLink, Membership, RoleAssignment, StarterCode
from accounts.services import usernames_hold
from provisioning.sync.bulk import in_chunks, insert_rows, new_ids, update_rows
from provisioning.sync.plan_item import Outcome

ACCOUNT_FIELDS = ("username", "given_name", "family_name", "email", "upn")
MEMBERSHIP_FIELDS = ("mis_code", "year_group", "form", "portal_access", "status")
# What differs from row to row; the rest of each new row is the same for all of them (insert_rows' `same`).
ACCOUNT_INSERT = ["id", "username", "given_name", "family_name", "email", "upn"]
MEMBERSHIP_INSERT = ["id", "account_id", "person_type", "mis_code", "year_group", "form", "portal_access"]


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


GRANTING = (Outcome.CREATE, Outcome.TRANSFER, Outcome.UPDATE, Outcome.REACTIVATE)  # outcomes whose roles apply grants
APPLY_STEPS = 7  # apply_plan calls `step` after each of its phases, for the job's progress


def apply_plan(*, school, policy, items: list[dict], job=None, step=lambda: None) -> dict:
    """Returns {"codes": [(account id, plain code)], ...} for the credentials sheet; raises to roll back."""
    now = timezone.now()
    today = timezone.localdate()
    people = [i for i in items if i["entity"] == "person"]
    by_outcome = defaultdict(list)
    for item in people:
        by_outcome[item["outcome"]].append(item)
    new_accounts = _create_accounts(school, policy, by_outcome[Outcome.CREATE], now)
    step()
    _create_memberships(school, by_outcome[Outcome.CREATE] + by_outcome[Outcome.TRANSFER], now)
    _close_transferred(school, by_outcome[Outcome.TRANSFER], today)
    step()
    _update_existing(school, by_outcome[Outcome.UPDATE] + by_outcome[Outcome.REACTIVATE], now)
    step()
    _grant_roles(school, people, now)
    step()
    _archive(by_outcome[Outcome.ARCHIVE], today)
    step()
    _apply_links(school, [i for i in items if i["entity"] == "link"])
    step()
    codes = []
    if new_accounts and policy.password_method == "random":
        codes, _expires = insert_starter_codes(school, new_accounts, now, job)
    step()
    return {"codes": codes}


# The writers of new people, shared by the sync above and +Upload Users (provisioning.upload.services.apply):
# one statement per table whatever the number of rows (COPY on PostgreSQL), the columns every new row shares
# given once. Which rows to write is the caller's plan; what a new row holds is decided here, once.


def insert_accounts(school, rows: list[tuple], now, *, password: str, must_change: bool) -> None:
    """New accounts, rows of ACCOUNT_INSERT (id, username, given_name, family_name, email, upn), at home here."""
    same = {
        "password": password, "email_verified": False, "home_school_id": school.pk, "approved": True,
        "locked_out": False, "override_network_auth": False, "must_change_password": must_change, "is_active": True,
        "is_staff": False, "is_superuser": False, "date_joined": now,
    }  # fmt: skip
    insert_rows(Account, ACCOUNT_INSERT, rows, same=same)


def insert_memberships(school, rows: list[tuple], now) -> None:
    """New active memberships, rows of MEMBERSHIP_INSERT."""
    same = {"school_id": school.pk, "status": Membership.Status.ACTIVE, "created_at": now, "updated_at": now}
    insert_rows(Membership, MEMBERSHIP_INSERT, rows, same=same)


def insert_roles(school, grants: list[tuple], now, *, granted_by=None) -> None:
    """Role assignments, grants of (membership id, role code); granted_by: the person granting them, if any."""
    rows = [(pk, m, role) for pk, (m, role) in zip(new_ids(len(grants)), grants, strict=True)]
    same = {"school_id": school.pk, "granted_at": now}
    if granted_by is not None:
        same["granted_by_id"] = granted_by.pk
    insert_rows(RoleAssignment, ["id", "membership_id", "role_id"], rows, same=same)


def insert_starter_codes(school, account_ids: list, now, job=None) -> tuple[list[tuple], object]:
    """A starter code for each account: the accounts services' one mechanism (starter_code_values), in the
    shape a COPY wants. Returns ([(account id, plain code)], when they expire)."""
    values = starter_code_values(account_ids)
    expires = now + timedelta(days=STARTER_CODE_DAYS)
    insert_rows(
        StarterCode,
        ["id", "account_id", "code_hash"],
        [(pk, a, code_hash) for pk, (a, _code, code_hash) in zip(new_ids(len(values)), values, strict=True)],
        same={"school_id": school.pk, "created_at": now, "expires_at": expires,
              "job_id": job.pk if job is not None else None},
    )  # fmt: skip
    return [(a, code) for a, code, _hash in values], expires


def _create_accounts(school, policy, creates, now) -> list[str]:
    fresh = [i for i in creates if not i["after"].get("existing_account")]
    if not fresh:
        return []
    method = policy.password_method
    if method == "default" and policy.default_password_hash:
        password, must_change = policy.default_password_hash, True  # hashed once, when the policy was saved
    else:
        # Starter codes (or Microsoft/Google sign-in): no password at all until the person chooses one.
        password, must_change = UNUSABLE_PASSWORD_PREFIX + get_random_string(40), method == "random"
    rows = []
    for item in fresh:
        a = item["after"]
        rows.append((item["account_id"], item["username"], a.get("given_name", ""), a.get("family_name", ""),
                     a.get("email", ""), a.get("upn", "")))  # fmt: skip
    insert_accounts(school, rows, now, password=password, must_change=must_change)
    return [row[0] for row in rows]


def _create_memberships(school, items, now) -> None:
    rows = []
    for item in items:
        a = item["after"]
        rows.append((item["membership_id"], item["account_id"], item["person_type"], item["mis_code"],
                     a.get("year_group", ""), a.get("form", ""), bool(a.get("portal_access"))))  # fmt: skip
    insert_memberships(school, rows, now)


def _close_transferred(school, transfers, today) -> None:
    """The account and username move here; the other school's membership is closed (whichever school the
    job's scope holds: it is the other school's row)."""
    if not transfers:
        return
    old_ids = [str(i["after"]["from_membership_id"]) for i in transfers]
    with scopes_disabled():
        for chunk in in_chunks(old_ids, "uuid"):
            Membership.objects.filter(id__in=chunk).update(
                status=Membership.Status.ARCHIVED, archived_on=today, updated_at=timezone.now()
            )
    update_rows(
        Account,
        [
            (
                _uuid(i["account_id"]),
                {"home_school_id": school.pk, "is_active": True,
                 **{k: i["after"][k] for k in ACCOUNT_FIELDS if k in i["after"] and k != "username"}},
            )
            for i in transfers
        ],
    )  # fmt: skip


def _update_existing(school, items, now) -> None:
    account_changes, membership_changes, holds = [], [], []
    for item in items:
        after = item["after"]
        values = {k: after[k] for k in ACCOUNT_FIELDS if k in after}
        if "email" in values:
            values["email_verified"] = False
        if item["outcome"] == Outcome.REACTIVATE:
            values["is_active"] = True
        if values:
            account_changes.append((_uuid(item["account_id"]), values))
        if "username" in after:
            holds.append((item["before"]["username"].lower(), _uuid(item["account_id"])))
        m_values = {k: after[k] for k in MEMBERSHIP_FIELDS if k in after}
        if m_values.get("status") == Membership.Status.ACTIVE:
            m_values.update(left_on=None, archived_on=None)
        if m_values:
            m_values["updated_at"] = now
            membership_changes.append((_uuid(item["membership_id"]), m_values))
    update_rows(Account, account_changes)
    update_rows(Membership, membership_changes)
    usernames_hold(released=holds, now=now)


def _grant_roles(school, people, now) -> None:
    grants = []
    for item in people:
        after = item["after"]
        if "roles" not in after or item["outcome"] not in (
            Outcome.CREATE,
            Outcome.TRANSFER,
            Outcome.UPDATE,
            Outcome.REACTIVATE,
        ):
            continue
        already = set(item["before"].get("roles", []))
        grants.extend((item["membership_id"], role) for role in after["roles"] if role not in already)
    insert_roles(school, grants, now)


def _archive(items, today) -> None:
    """Leavers: Left (still signing in for the grace period) or Archived; an account with nothing left
    anywhere stops signing in."""
    left = [str(i["membership_id"]) for i in items if i["after"]["status"] == Membership.Status.LEFT]
    archived = [str(i["membership_id"]) for i in items if i["after"]["status"] == Membership.Status.ARCHIVED]
    stamp = timezone.now()
    for chunk in in_chunks(left, "uuid"):
        Membership.objects.filter(id__in=chunk).update(status=Membership.Status.LEFT, left_on=today, updated_at=stamp)
    for chunk in in_chunks(archived, "uuid"):
        Membership.objects.filter(id__in=chunk).update(
            status=Membership.Status.ARCHIVED, archived_on=today, updated_at=stamp
        )
    if archived:
        deactivate_if_nothing_left([i["account_id"] for i in items if i["after"]["status"] == "archived"])


def deactivate_if_nothing_left(account_ids) -> None:
    """One UPDATE (per batch on SQLite): the accounts none of whose memberships, at any school (not only the one in
    scope), is still open."""
    with scopes_disabled():
        still_open = Membership.objects.filter(account_id=OuterRef("pk")).exclude(status=Membership.Status.ARCHIVED)
        for chunk in in_chunks({str(_uuid(a)) for a in account_ids}, "uuid"):
            Account.objects.filter(id__in=chunk, is_active=True).exclude(Exists(still_open)).update(is_active=False)


def _apply_links(school, links) -> None:
    creates, updates, deletes = [], [], []
    for item in links:
        a = item["after"]
        if item["outcome"] == Outcome.CREATE:
            creates.append(
                (a["contact_membership_id"], a["student_membership_id"], a["relationship"], a["portal_access"])
            )
        elif item["outcome"] == Outcome.UPDATE:
            updates.append((_uuid(item["membership_id"]), {k: a[k] for k in ("relationship", "portal_access")}))
        elif item["outcome"] == Outcome.ARCHIVE:
            deletes.append(str(item["membership_id"]))
    creates = [(pk, *row) for pk, row in zip(new_ids(len(creates)), creates, strict=True)]
    insert_rows(ContactLink, ["id", "contact_id", "student_id", "relationship", "portal_access"], creates,
                same={"school_id": school.pk})  # fmt: skip
    update_rows(ContactLink, updates)
    for chunk in in_chunks(deletes, "uuid"):
        ContactLink.objects.filter(school=school, id__in=chunk).delete()
