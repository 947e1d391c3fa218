"""The revoke forecast: which contacts a sync plan would move into Ready to Revoke Access once applied.

Read while the plan is made, before anything is applied (revoke_warning.py counts them for the run's
warning and the nominated contacts' email). It applies the contact states' rules
(provisioning.contacts.selectors) forward through the plan's items, reading only the contacts the plan
touches.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, models
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Lower
from django_scopes import scopes_disabled

from accounts.models import ContactLink, Membership, PersonType
from accounts.selectors import portal_links
from provisioning.contacts import selectors as contact_states
from provisioning.contacts.selectors import ContactStatus, RevokeReason
from provisioning.sync.plan_item import Outcome
from tenancy.models import School

# The sync's plan (sync_plan.py) is a list of item dicts; only these outcomes change anything.
_APPLIED = {Outcome.CREATE, Outcome.UPDATE, Outcome.TRANSFER, Outcome.ARCHIVE, Outcome.REACTIVATE}
# ...and only these can end anyone's access (a leaver, a flag turned off, a link removed): creations and
# transfers only ever add what a contact's access is read from.
_MAY_END = {Outcome.UPDATE, Outcome.ARCHIVE, Outcome.REACTIVATE}


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
    if outcome == Outcome.ARCHIVE:
        effects.links_gone.add(link_id)
        _link_hit(effects, link_id, item["before"].get("contact_membership_id"))
    elif outcome == Outcome.UPDATE:
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
    if outcome in (Outcome.CREATE, Outcome.TRANSFER):
        effects.status[membership_id] = Membership.Status.ACTIVE
        effects.accounts_joining.add(account_id)
        if after.get("from_membership_id"):  # the other school's membership is closed
            effects.status[str(after["from_membership_id"])] = Membership.Status.ARCHIVED
    if outcome in (Outcome.REACTIVATE, Outcome.TRANSFER):
        effects.accounts_on.add(account_id)
    if outcome not in (Outcome.UPDATE, Outcome.REACTIVATE, Outcome.ARCHIVE):
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
    items = items if isinstance(items, list) else list(items)
    # A plan of creations alone (a first import: 188,000 items for 100,000 people) cannot end anyone's access:
    # no need to work out its effects (a third of a second).
    if not any(item["outcome"] in _MAY_END for item in items):
        return []
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
    holds = contact_states.chosen_sign_in_q() | contact_states.unused_credentials_q(school)
    has_credentials = contact_states.as_bool(holds & ~Q(contact_states.revoked_here_q(school)))
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
        .annotate(activated=contact_states.as_bool(contact_states.activated_q()), has_credentials=has_credentials)
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
