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
from dataclasses import dataclass

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import models
from django.db.models import Case, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import ContactLink, Membership, PersonType, SetPasswordLink, StarterCode
from accounts.selectors import portal_links, search_condition
from provisioning.models import ContactJobItem, SyncRecord, SyncRun
from tenancy.models import Job, School


class ContactStatus(models.TextChoices):
    READY_TO_PROVISION = "ready_to_provision", "Ready to Provision"
    ACTIVE = "active", "Active"
    READY_TO_REVOKE = "ready_to_revoke", "Ready to Revoke Access"
    NO_ACCESS = "no_access", "No Access"


class RevokeReason(models.TextChoices):
    # The order the confirm page lists them in; the words are the seed's.
    NO_STUDENTS = "no_students", "No students at the school"
    # The MIS ended the contact's last link to a student: not the same as a contact never linked (WRONG_CONTACT).
    LINK_ENDED = "link_ended", "No longer linked to a student (the link ended in the MIS)"
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


def as_bool(condition) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=models.BooleanField())


def chosen_sign_in_q() -> Q:
    """A password the person chose (not a forced-change default), or a linked sign-in."""
    chose_password = (
        ~Q(account__password__startswith=UNUSABLE_PASSWORD_PREFIX)
        & ~Q(account__password="")
        & Q(account__must_change_password=False)
    )
    return chose_password | Q(Exists(SocialAccount.objects.filter(user_id=OuterRef("account_id"))))


def activated_q() -> Q:
    return Q(account__is_active=True) & chosen_sign_in_q()


def unused_credentials_q(school: School) -> Q:
    """An unused, unexpired starter code or set-password link."""
    now = timezone.now()
    usable = {"used_at__isnull": True, "revoked_at__isnull": True, "expires_at__gt": now}
    return Q(Exists(StarterCode.objects.filter(school=school, account_id=OuterRef("account_id"), **usable))) | Q(
        Exists(SetPasswordLink.objects.filter(school=school, account_id=OuterRef("account_id"), **usable))
    )


def _pending_credentials(school: School) -> Q:
    """The person can still activate."""
    return Q(account__is_active=True) & unused_credentials_q(school)


def revoked_here_q(school: School) -> Exists:
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
    return _with_state(Membership.objects.filter(school=school), school)


def ready_to_revoke_counts(*, schools) -> dict:
    """{school id: contacts Ready to Revoke Access} for several schools in one query (the trust console), by
    the same definition as each school's Account Manager. Run inside scope(school=schools)."""
    contacts = _with_state(Membership.objects.filter(school__in=schools), OuterRef("school_id"))
    rows = contacts.filter(state=ContactStatus.READY_TO_REVOKE).order_by().values("school_id").annotate(n=Count("id"))
    counts = {school.pk: 0 for school in schools}
    counts.update({row["school_id"]: row["n"] for row in rows})
    return counts


def _with_state(memberships: QuerySet[Membership], school) -> QuerySet[Membership]:
    """The contacts among `memberships`, annotated; `school` is their school, or OuterRef("school_id") when they
    come from several schools (each subquery then looks at the contact's own school)."""
    eligible = Exists(portal_links(school=school).filter(contact_id=OuterRef("pk")))
    revoked_here = revoked_here_q(school)
    any_link = Exists(ContactLink.objects.filter(school=school, contact_id=OuterRef("pk")))
    current_student = Exists(
        ContactLink.objects.filter(school=school, contact_id=OuterRef("pk"), student__status=Membership.Status.ACTIVE)
    )
    return (
        memberships.filter(person_type=PersonType.CONTACT, account__deleted_at__isnull=True)
        .select_related("account")
        .annotate(
            eligible=as_bool(Q(eligible)),
            activated=as_bool(activated_q()),
            holds_credentials=as_bool((activated_q() | _pending_credentials(school)) & ~Q(revoked_here)),
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


def person_state_counts(*, school: School, person_type: str) -> dict[str, int]:
    """How many students or staff are in each Account Manager state (PersonStatus), in one query: the
    dashboard counts with the same definition of Active as the Account Manager lists."""
    rows = people_with_status(school=school, person_type=person_type).order_by().values("state").annotate(n=Count("id"))
    counts = {state.value: 0 for state in PersonStatus}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def people_with_status(*, school: School, person_type: str) -> QuerySet[Membership]:
    """Students or staff, annotated with their Account Manager `state` (PersonStatus)."""
    return (
        Membership.objects.filter(school=school, person_type=person_type, account__deleted_at__isnull=True)
        .select_related("account")
        .annotate(activated=as_bool(activated_q()))
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


def account_manager_list(*, school: School, person_type: str, state: str = "", q: str = "") -> QuerySet[Membership]:
    """The Account Manager's rows: one user type, optionally one state and a search (name, username, email or
    MIS code, as on Users), in name order."""
    if person_type == PersonType.CONTACT:
        qs = contact_list(school=school, state=state)
    else:
        qs = people_with_status(school=school, person_type=person_type)
        if state:
            qs = qs.filter(state=state)
        qs = qs.order_by(Lower("account__family_name"), Lower("account__given_name"), "id")
    if q.strip():
        qs = qs.filter(search_condition(school=school, q=q))
    return qs


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
    contact is its replacement. A contact left with no link whose link an applied sync ended gets LINK_ENDED
    rather than WRONG_CONTACT (never linked). Three queries at most, whatever the number of rows.
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
    unlinked = [c for c in revoking if not students.get(c.pk)]
    ended = _links_ended(school=school, contacts=unlinked) if unlinked else set()
    result = {}
    for contact in revoking:
        replacement = _replacement(contact, by_email, by_name, students)
        if replacement is not None:
            result[contact.pk] = RevokeReasonRow(RevokeReason.REPLACED, replacement)
        elif contact.pk in ended:
            result[contact.pk] = RevokeReasonRow(RevokeReason.LINK_ENDED)
        else:
            result[contact.pk] = RevokeReasonRow(contact.reason)
    return result


def _links_ended(*, school: School, contacts: list[Membership]) -> set:
    """Of contacts linked to no student now, those an applied sync unlinked (its link records name the contact
    in `before`): their link went, rather than never being there."""
    by_text = {str(c.pk): c.pk for c in contacts}
    found = SyncRecord.objects.filter(
        school=school,
        entity="link",
        outcome=SyncRecord.Outcome.ARCHIVE,
        run__state=SyncRun.State.APPLIED,
        before__contact_membership_id__in=list(by_text),
    ).values_list("before__contact_membership_id", flat=True)
    return {by_text[str(value)] for value in found if str(value) in by_text}


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


def selection(
    *, school: School, person_type: str, ids: list | None = None, state: str = "", q: str = ""
) -> QuerySet[Membership]:
    """The rows an action applies to: the ticked ids, or every row matching the filter and search ("select all
    N matching"). Ids of another school or another user type are simply not found."""
    if ids is not None:
        state = q = ""
    qs = account_manager_list(school=school, person_type=person_type, state=state, q=q)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs
