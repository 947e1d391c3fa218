"""Account Manager reads: contact states derived from the registry, never typed in.

A contact (a Membership with person_type "contact") is in exactly one state:

- Ready to Provision: eligible (accounts.selectors.portal_links: a current contact flagged for Parent
  portal access, linked with the link's flag on to a current student), not yet activated.
- Active: eligible and activated (a password they chose, or a linked Microsoft 365 / Google sign-in).
- Ready to Revoke Access: holds credentials (activated, or an unused starter code or set-password link)
  but is no longer eligible.
- No Access: neither.

The whole school's states come from one annotated query (EXISTS subqueries), so the screen costs the
same few queries for 100 contacts or 10,000. The "replaced" reason needs a comparison between contacts
and is worked out for a set of rows in two more queries (revoke_reasons).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models
from django.db.models import Case, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Lower
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import ContactLink, Membership, PersonType, SetPasswordLink, StarterCode
from accounts.selectors import portal_links
from provisioning.models import ContactJobItem
from tenancy.models import Job, School


class ContactStatus(models.TextChoices):
    READY_TO_PROVISION = "ready_to_provision", "Ready to Provision"
    ACTIVE = "active", "Active"
    READY_TO_REVOKE = "ready_to_revoke", "Ready to Revoke Access"
    NO_ACCESS = "no_access", "No Access"


class RevokeReason(models.TextChoices):
    # The order the confirm page lists them in; the words are the seed's.
    NO_STUDENTS = "no_students", "No students at the school"
    REPLACED = "replaced", "Replaced by a newer account (code change or family split)"
    WRONG_CONTACT = (
        "wrong_contact",
        "Username on a contact not linked to a student or not flagged for portal access",
    )
    FLAG_CHANGED = "flag_changed", "The parent portal access flag changed"


class PersonStatus(models.TextChoices):
    """Students' and staff's states on the Account Manager."""

    ACTIVE = "active", "Active"
    NOT_YET_ACTIVATED = "not_yet_activated", "Not Yet Activated"
    LOCKED_OUT = "locked_out", "Locked Out"
    LEFT = "left", "Left"
    ARCHIVED = "archived", "Archived"


USER_TYPES = {
    PersonType.CONTACT: "Contacts",
    PersonType.STUDENT: "Students",
    PersonType.STAFF: "Staff",
}


def status_choices(person_type: str) -> list[tuple[str, str]]:
    return list(ContactStatus.choices if person_type == PersonType.CONTACT else PersonStatus.choices)


def _bool(condition) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=models.BooleanField())


def _chosen_sign_in() -> Q:
    """A password the person chose (not a forced-change default), or a linked sign-in."""
    chose_password = (
        ~Q(account__password__startswith=UNUSABLE_PASSWORD_PREFIX)
        & ~Q(account__password="")
        & Q(account__must_change_password=False)
    )
    return chose_password | Q(Exists(SocialAccount.objects.filter(user_id=OuterRef("account_id"))))


def _activated() -> Q:
    return Q(account__is_active=True) & _chosen_sign_in()


def _unused_credentials(school: School) -> Q:
    """An unused, unexpired starter code or set-password link."""
    now = timezone.now()
    usable = {"used_at__isnull": True, "revoked_at__isnull": True, "expires_at__gt": now}
    return Q(Exists(StarterCode.objects.filter(school=school, account_id=OuterRef("account_id"), **usable))) | Q(
        Exists(SetPasswordLink.objects.filter(school=school, account_id=OuterRef("account_id"), **usable))
    )


def _pending_credentials(school: School) -> Q:
    """The person can still activate."""
    return Q(account__is_active=True) & _unused_credentials(school)


def _revoked_here(school: School) -> Exists:
    # A contact whose access was revoked while the account stayed in use elsewhere (staff here, or at
    # another school) keeps its sign-in; the revoke record is what takes this contact out of the list.
    return Exists(
        ContactJobItem.objects.filter(
            school=school, membership_id=OuterRef("pk"), kind=Job.Kind.REVOKE, outcome=ContactJobItem.Outcome.REVOKED
        )
    )


def contacts_with_state(*, school: School) -> QuerySet[Membership]:
    """Every contact of the school, annotated with `state` and (for Ready to Revoke Access) `reason`.

    `reason` here never says "replaced": that needs revoke_reasons, which compares contacts.
    """
    eligible = Exists(portal_links(school=school).filter(contact_id=OuterRef("pk")))
    revoked_here = _revoked_here(school)
    any_link = Exists(ContactLink.objects.filter(school=school, contact_id=OuterRef("pk")))
    current_student = Exists(
        ContactLink.objects.filter(school=school, contact_id=OuterRef("pk"), student__status=Membership.Status.ACTIVE)
    )
    return (
        Membership.objects.filter(school=school, person_type=PersonType.CONTACT, account__deleted_at__isnull=True)
        .select_related("account")
        .annotate(
            eligible=_bool(Q(eligible)),
            activated=_bool(_activated()),
            holds_credentials=_bool((_activated() | _pending_credentials(school)) & ~Q(revoked_here)),
        )
        .annotate(
            state=Case(
                When(eligible=True, activated=True, then=Value(ContactStatus.ACTIVE.value)),
                When(eligible=True, then=Value(ContactStatus.READY_TO_PROVISION.value)),
                When(holds_credentials=True, then=Value(ContactStatus.READY_TO_REVOKE.value)),
                default=Value(ContactStatus.NO_ACCESS.value),
                output_field=models.CharField(),
            ),
        )
        .annotate(
            reason=Case(
                When(~Q(state=ContactStatus.READY_TO_REVOKE.value), then=Value("")),
                When(~Q(status=Membership.Status.ACTIVE), then=Value(RevokeReason.NO_STUDENTS.value)),
                When(~Q(any_link), then=Value(RevokeReason.WRONG_CONTACT.value)),
                When(~Q(current_student), then=Value(RevokeReason.NO_STUDENTS.value)),
                When(portal_access=False, then=Value(RevokeReason.WRONG_CONTACT.value)),
                default=Value(RevokeReason.FLAG_CHANGED.value),
                output_field=models.CharField(),
            ),
        )
    )


def contact_list(*, school: School, state: str = "") -> QuerySet[Membership]:
    qs = contacts_with_state(school=school)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by(Lower("account__family_name"), Lower("account__given_name"), "id")


def contact_state_counts(*, school: School) -> dict[str, int]:
    """How many contacts are in each state, in one query (the dashboard and the drop-down)."""
    rows = contacts_with_state(school=school).order_by().values("state").annotate(n=Count("id"))
    counts = {state.value: 0 for state in ContactStatus}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def people_with_status(*, school: School, person_type: str) -> QuerySet[Membership]:
    """Students or staff, annotated with their Account Manager `state` (PersonStatus)."""
    return (
        Membership.objects.filter(school=school, person_type=person_type, account__deleted_at__isnull=True)
        .select_related("account")
        .annotate(activated=_bool(_activated()))
        .annotate(
            state=Case(
                When(status=Membership.Status.ARCHIVED, then=Value(PersonStatus.ARCHIVED.value)),
                When(status=Membership.Status.LEFT, then=Value(PersonStatus.LEFT.value)),
                When(account__locked_out=True, then=Value(PersonStatus.LOCKED_OUT.value)),
                When(activated=True, then=Value(PersonStatus.ACTIVE.value)),
                default=Value(PersonStatus.NOT_YET_ACTIVATED.value),
                output_field=models.CharField(),
            ),
            reason=Value("", output_field=models.CharField()),
        )
    )


def account_manager_list(*, school: School, person_type: str, state: str = "") -> QuerySet[Membership]:
    """The Account Manager's rows: one user type, optionally one state, in name order."""
    if person_type == PersonType.CONTACT:
        return contact_list(school=school, state=state)
    qs = people_with_status(school=school, person_type=person_type)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by(Lower("account__family_name"), Lower("account__given_name"), "id")


@dataclass(frozen=True)
class RevokeReasonRow:
    reason: str
    replacement: Membership | None = None

    @property
    def label(self) -> str:
        return RevokeReason(self.reason).label if self.reason else ""


def revoke_reasons(*, school: School, contacts: list[Membership]) -> dict:
    """{membership id: RevokeReasonRow} for contacts annotated by contacts_with_state.

    A contact is "replaced" when an eligible contact with another account has the same email, or the
    same name and a student in common (a code change or a family split in the MIS); the newest such
    contact is its replacement. Two queries whatever the number of rows.
    """
    revoking = [c for c in contacts if c.state == ContactStatus.READY_TO_REVOKE]
    if not revoking:
        return {}
    candidates = list(
        contacts_with_state(school=school)
        .filter(eligible=True)
        .annotate(email_lower=Lower("account__email"))
        .order_by("-created_at")
    )
    students = defaultdict(set)
    for contact_id, student_id in ContactLink.objects.filter(school=school).values_list("contact_id", "student_id"):
        students[contact_id].add(student_id)
    by_email, by_name = defaultdict(list), defaultdict(list)
    for candidate in candidates:
        if candidate.email_lower:
            by_email[candidate.email_lower].append(candidate)
        by_name[_name_key(candidate)].append(candidate)
    result = {}
    for contact in revoking:
        replacement = _replacement(contact, by_email, by_name, students)
        if replacement is not None:
            result[contact.pk] = RevokeReasonRow(RevokeReason.REPLACED, replacement)
        else:
            result[contact.pk] = RevokeReasonRow(contact.reason)
    return result


def _name_key(membership: Membership) -> tuple[str, str]:
    return (membership.account.given_name.strip().lower(), membership.account.family_name.strip().lower())


def _replacement(contact, by_email, by_name, students) -> Membership | None:
    email = contact.account.email.strip().lower()
    for candidate in by_email.get(email, []) if email else []:
        if candidate.account_id != contact.account_id:
            return candidate
    name = _name_key(contact)
    if not any(name):
        return None
    mine = students.get(contact.pk, set())
    for candidate in by_name.get(name, []):
        if candidate.account_id != contact.account_id and mine & students.get(candidate.pk, set()):
            return candidate
    return None


def email_problems(*, school: School, limit: int = 50) -> dict:
    """Addresses the last Send Welcome Email could not reach, and eligible contacts with no email."""
    later_sent = ContactJobItem.objects.filter(
        school=school,
        kind=Job.Kind.WELCOME_EMAIL,
        membership_id=OuterRef("membership_id"),
        outcome=ContactJobItem.Outcome.SENT,
        updated_at__gt=OuterRef("updated_at"),
    )
    failed = (
        ContactJobItem.objects.filter(school=school, kind=Job.Kind.WELCOME_EMAIL, outcome=ContactJobItem.Outcome.FAILED)
        .exclude(Exists(later_sent))
        .select_related("membership__account")
        .order_by("-updated_at")
    )
    no_email = (
        contacts_with_state(school=school)
        .filter(eligible=True, account__email="")
        .order_by(Lower("account__family_name"), Lower("account__given_name"))
    )
    return {
        "failed": list(failed[:limit]),
        "failed_count": failed.count(),
        "no_email": list(no_email[:limit]),
        "no_email_count": no_email.count(),
    }


def selection(*, school: School, person_type: str, ids: list | None = None, state: str = "") -> QuerySet[Membership]:
    """The rows an action applies to: the ticked ids, or every row matching the filter ("select all N
    matching"). Ids of another school or another user type are simply not found."""
    qs = account_manager_list(school=school, person_type=person_type, state=state if ids is None else "")
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs


# --- Contacts an MIS sync plan would move into Ready to Revoke Access ------------------------------
# The sync's plan (provisioning.sync.plan) is a list of item dicts; only these outcomes change anything.
_APPLIED = {"create", "update", "transfer", "archive", "reactivate"}


@dataclass
class _PlanEffects:
    """What applying a plan (provisioning.sync.apply) does to the fields a contact's state is read from."""

    status: dict = field(default_factory=dict)  # membership id -> status after
    portal: dict = field(default_factory=dict)  # contact membership id -> Parent portal access after
    link_portal: dict = field(default_factory=dict)  # link id -> the link's flag after
    links_gone: set = field(default_factory=set)
    links_new: dict = field(default_factory=lambda: defaultdict(list))  # contact id -> [(student id, flag)]
    accounts_on: set = field(default_factory=set)  # accounts apply makes active (reactivated, transferred)
    accounts_joining: set = field(default_factory=set)  # accounts given a new membership here
    # Only a leaver, a flag turned off or a link removed can end a contact's access: what the forecast reads.
    contacts_leaving: set = field(default_factory=set)  # contacts whose own status goes to left or archived
    contact_accounts: dict = field(default_factory=dict)  # leaving contact's membership id -> account id
    contacts_hit: set = field(default_factory=set)  # contacts flagged off, or losing a link that names them
    students_gone: set = field(default_factory=set)  # students leaving: their contacts may have no one left
    links_hit: set = field(default_factory=set)  # links gone or flagged off whose item does not name the contact


def _plan_effects(items) -> _PlanEffects:
    effects = _PlanEffects()
    for item in items:
        if item["outcome"] not in _APPLIED:
            continue
        if item["entity"] == "link":
            _link_effects(effects, item)
        else:
            _person_effects(effects, item)
    return effects


def _link_effects(effects: _PlanEffects, item: dict) -> None:
    outcome, after = item["outcome"], item["after"]
    link_id = str(item["membership_id"] or "")
    if outcome == "archive":
        effects.links_gone.add(link_id)
        _link_hit(effects, link_id, item["before"].get("contact_membership_id"))
    elif outcome == "update":
        effects.link_portal[link_id] = bool(after["portal_access"])
        if not after["portal_access"]:
            _link_hit(effects, link_id, after.get("contact_membership_id"))
    else:
        student = (str(after["student_membership_id"]), bool(after["portal_access"]))
        effects.links_new[str(after["contact_membership_id"])].append(student)


def _link_hit(effects: _PlanEffects, link_id: str, contact_id) -> None:
    if contact_id:
        effects.contacts_hit.add(str(contact_id))
    else:
        effects.links_hit.add(link_id)


def _person_effects(effects: _PlanEffects, item: dict) -> None:
    outcome, after, person_type = item["outcome"], item["after"], item["person_type"]
    membership_id, account_id = str(item["membership_id"]), str(item["account_id"])
    if outcome in ("create", "transfer"):
        effects.status[membership_id] = Membership.Status.ACTIVE
        effects.accounts_joining.add(account_id)
        if after.get("from_membership_id"):  # the other school's membership is closed
            effects.status[str(after["from_membership_id"])] = Membership.Status.ARCHIVED
    if outcome in ("reactivate", "transfer"):
        effects.accounts_on.add(account_id)
    if outcome not in ("update", "reactivate", "archive"):
        return
    if "status" in after:
        effects.status[membership_id] = after["status"]
        if after["status"] != Membership.Status.ACTIVE:
            if person_type == PersonType.CONTACT:
                effects.contacts_leaving.add(membership_id)
                effects.contact_accounts[membership_id] = account_id
            elif person_type == PersonType.STUDENT:  # portal_links counts only students
                effects.students_gone.add(membership_id)
    if "portal_access" in after:
        effects.portal[membership_id] = bool(after["portal_access"])
        if not after["portal_access"]:
            effects.contacts_hit.add(membership_id)


def _may_end_access(effects: _PlanEffects) -> bool:
    return bool(effects.contacts_leaving or effects.contacts_hit or effects.students_gone or effects.links_hit)


def contacts_moving_to_revoke(*, school: School, items: Iterable[dict]) -> list[dict]:
    """The contacts Ready to Provision or Active now that would be Ready to Revoke Access once these MIS
    sync plan items are applied: their last current student archived, their links gone or flagged off,
    their own Parent portal access flag off, or they left (still holding credentials).

    The same rules as contacts_with_state, read forward through the plan: a contact the plan archives
    whose account then has nothing left stops signing in, so it moves to No Access, not here; neither
    does one that never had credentials. One dict per contact, in name order. Only the contacts the plan
    touches are read (for a 5% change of a 100,000-person school, a few thousand rows, no ORM objects).
    At most four queries whatever the number of contacts or items, and none for a plan that cannot end
    anyone's access.
    """
    effects = _plan_effects(items)
    if not _may_end_access(effects):
        return []
    # Which contacts would lose access if eligible now, from their links; then only those are read.
    links_now = _links_now(school, effects)
    links = _links_after(school, effects, links_now)
    touched = effects.contacts_leaving | links_now.keys()
    reasons = {c: reason for c in touched if (reason := _reason_after(c, effects, links.get(c, [])))}
    # Archived with nothing left anywhere, a contact stops signing in (No Access): no need to read it.
    archived = {effects.contact_accounts[c] for c in reasons if _archived(c, effects)} - effects.accounts_joining
    others = _other_memberships(school, archived) if archived else {}
    contacts = _eligible_with_credentials(school, [c for c in reasons if not _nothing_left(c, effects, others)])
    on = effects.accounts_on
    return [_mover(c, reasons[c["id"]]) for c in contacts if c["account__is_active"] or c["account_id"] in on]


def _links_now(school: School, effects: _PlanEffects) -> dict[str, list[tuple]]:
    """{contact id: [(link id, student id, link flag, student status, student person type)]}: every link,
    as it is now, of the contacts that may lose their last portal link: those the plan flags off or names
    on a link it removes, and those it reaches through a student or link it removes. Leavers are not
    read: they lose access whatever their links."""
    links = ContactLink.objects.filter(school=school)
    ways = [(links, "student_id", effects.students_gone), (links, "id", effects.links_hit)]
    ways = [qs.filter(_among(column, ids)).values("contact_id") for qs, column, ids in ways if ids]
    if effects.contacts_hit:
        ways.append(Membership.objects.filter(_among("id", effects.contacts_hit)).order_by().values("id"))
    if not ways:
        return {}
    rows = links.filter(contact_id__in=ways[0].union(*ways[1:])).values_list(
        _id_text("contact_id"), _id_text("id"), _id_text("student_id"), "portal_access", "student__status",
        "student__person_type",
    )  # fmt: skip
    held = defaultdict(list)
    for contact_id, link_id, student_id, flag, status, person_type in rows:
        held[str(contact_id)].append((str(link_id), str(student_id), flag, status, person_type))
    return held


def _portal_link(links: Iterable[tuple]) -> bool:
    """portal_links' rule for the link side: a flagged link to a current student."""
    return any(
        flag and status == Membership.Status.ACTIVE and person_type == PersonType.STUDENT
        for flag, status, person_type in links
    )


def _eligible_with_credentials(school: School, contact_ids: Iterable[str]) -> list[dict]:
    """Those of these contacts that are eligible now (portal_links) and hold credentials, so Ready to
    Provision or Active, in name order."""
    if not contact_ids:
        return []
    eligible = Exists(portal_links(school=school).filter(contact_id=OuterRef("pk")))
    has_credentials = _bool((_chosen_sign_in() | _unused_credentials(school)) & ~Q(_revoked_here(school)))
    rows = (
        Membership.objects.filter(
            _among("id", contact_ids),
            eligible,
            school=school,
            person_type=PersonType.CONTACT,
            status=Membership.Status.ACTIVE,  # portal_links asks too; said here, the planner reads fewer rows
            portal_access=True,
            account__deleted_at__isnull=True,
        )
        .annotate(activated=_bool(_activated()), has_credentials=has_credentials)
        .filter(has_credentials=True)
        .order_by(Lower("account__family_name"), Lower("account__given_name"), "id")
        .values(*_MOVER_FIELDS)
    )
    return [
        {
            **row,
            "id": str(row["id"]),
            "account_id": str(row["account_id"]),
            "state": ContactStatus.ACTIVE if row["activated"] else ContactStatus.READY_TO_PROVISION,
        }
        for row in rows
    ]


_MOVER_FIELDS = (
    "id", "account_id", "mis_code", "activated", "account__is_active",
    "account__username", "account__given_name", "account__family_name",
)  # fmt: skip


def _links_after(school: School, effects: _PlanEffects, links_now: dict) -> dict[str, list[tuple]]:
    """{contact id: [(link flag, student status, student person type)]} once the plan is applied, for
    the contacts in links_now. One query when new links point at students held already, else none."""
    links = defaultdict(list)
    for contact_id, held in links_now.items():
        for link_id, student_id, flag, status, person_type in held:
            if link_id not in effects.links_gone:
                flag = effects.link_portal.get(link_id, flag)
                links[contact_id].append((flag, effects.status.get(student_id, status), person_type))
    new = [(c, s, flag) for c, pairs in effects.links_new.items() if c in links_now for s, flag in pairs]
    unknown = sorted({s for _, s, _ in new if s not in effects.status})
    found = {}
    if unknown:
        students = Membership.objects.filter(_among("id", unknown), school=school).values_list("id", "status")
        found = {str(pk): status for pk, status in students}
    for contact_id, student_id, flag in new:
        status = effects.status.get(student_id) or found.get(student_id)
        if status is not None:  # a new link always joins a student (the plan matched them by code)
            links[contact_id].append((flag, status, PersonType.STUDENT))
    return links


def _other_memberships(school: School, account_ids: set[str]) -> dict[str, list[tuple[str, str]]]:
    """{account id: [(membership id, status)]}: the other memberships, at any school, of these contact
    accounts. Across schools, even from inside this school's scope (as a sync job runs), because apply's
    deactivate_if_nothing_left looks there too."""
    with scopes_disabled():
        rows = (
            Membership.objects.filter(_among("account_id", account_ids))
            .exclude(school=school, person_type=PersonType.CONTACT)
            .order_by()
            .values_list("account_id", "id", "status")
        )
        others = defaultdict(list)
        for account_id, membership_id, status in rows:
            others[str(account_id)].append((str(membership_id), status))
    return others


def _reason_after(contact_id: str, effects: _PlanEffects, links: list[tuple]) -> str:
    """Why a contact eligible now (so current and flagged) would no longer be (the RevokeReason
    contacts_with_state would give), or "" while it still is (portal_links' rule)."""
    if effects.status.get(contact_id, Membership.Status.ACTIVE) != Membership.Status.ACTIVE:
        return RevokeReason.NO_STUDENTS
    flagged = effects.portal.get(contact_id, True)
    if flagged and _portal_link(links):
        return ""
    if not links:
        return RevokeReason.WRONG_CONTACT
    if not any(status == Membership.Status.ACTIVE for _, status, _ in links):
        return RevokeReason.NO_STUDENTS
    return RevokeReason.FLAG_CHANGED if flagged else RevokeReason.WRONG_CONTACT


def _archived(contact_id: str, effects: _PlanEffects) -> bool:
    return effects.status.get(contact_id) == Membership.Status.ARCHIVED


def _nothing_left(contact_id: str, effects: _PlanEffects, others: dict) -> bool:
    """Whether the apply archives the contact's last membership anywhere, which deactivates its account
    (apply.deactivate_if_nothing_left, which runs last)."""
    account_id = effects.contact_accounts.get(contact_id)
    if not _archived(contact_id, effects) or account_id in effects.accounts_joining:
        return False
    statuses = [effects.status.get(m, status) for m, status in others.get(account_id, [])]
    return all(status == Membership.Status.ARCHIVED for status in statuses)


def _among(column: str, ids: Iterable[str]) -> Q:
    """`column IN ids`. On PostgreSQL the ids go as one text parameter, unnested: thousands of ids as
    thousands of parameters cost more to prepare, send and parse than the query, and the planner still
    sees how many there are (and probes an index for a few)."""
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__in": RawSQL("SELECT unnest(string_to_array(%s, ',')::uuid[])", [",".join(ids)])})
    return Q(**{f"{column}__in": list(ids)})


def _id_text(column: str) -> Cast | str:
    """An id column as the text the plan's items hold. PostgreSQL casts it, sparing a UUID object and a
    str() for each of thousands of values; SQLite keeps ids as bare hex, so there str() does the work."""
    if connection.vendor == "postgresql":
        return Cast(column, models.CharField())
    return column


def _mover(contact: dict, reason: str) -> dict:
    return {
        "membership_id": contact["id"],
        "account_id": contact["account_id"],
        "mis_code": contact["mis_code"],
        "username": contact["account__username"],
        "given_name": contact["account__given_name"],
        "family_name": contact["account__family_name"],
        "state": contact["state"],
        "reason": reason,
    }
