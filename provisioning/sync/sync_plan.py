"""The plan: compare a parsed feed with the school state and give every person and link one outcome.

The stages run in order: the people listed in the feed (unchanged, updated, a leaver, skipped), the people a
full snapshot no longer lists (leavers), reactivations of accounts another school took over, newcomers
(plan_newcomers.py), renames, then contact links (plan_links.py). The result is a list of plain dicts (the
plan) that apply.py executes and that SyncRecord rows store as they are; guard.py counts what it archives
and renames.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django_scopes import scopes_disabled

from accounts.models import Membership, Role
from accounts.services import sync_out_of_reach
from provisioning.sync import guard, username_policy
from provisioning.sync.bulk import in_chunks
from provisioning.sync.feeds import ParsedFeed
from provisioning.sync.plan_item import Outcome, SyncPlan, plan_item, wanted_values
from provisioning.sync.plan_links import plan_links
from provisioning.sync.plan_newcomers import plan_newcomers
from provisioning.sync.policy import policy_roles, roles_for
from provisioning.sync.state import SchoolState, load_state

ACTIVE, LEFT, ARCHIVED = Membership.Status.ACTIVE, Membership.Status.LEFT, Membership.Status.ARCHIVED
MISSING = "Missing from the MIS export."
ROW_LEFT_OUT = "Their row in the MIS export has errors (listed with the feed): left out"
MOVED = "Moved to "  # the start of the reason a person another school took over is not taken back


@dataclass
class _People:
    """What planning the people of the feed gathers for the later stages."""

    school: object
    policy: object
    state: SchoolState
    grantable: set | None
    years: set[str]
    reach: "SyncReach"
    newcomers: list[tuple[str, dict]] = field(default_factory=list)
    renames: list[tuple[dict, str]] = field(default_factory=list)  # (item, stem) whose username the policy changes
    codes_now: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))  # type -> code -> mid
    # A OneRoster person's account (sourcedId -> (account id, username)) held under one of their person types:
    # their other memberships join it (plan_newcomers).
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    known_elsewhere: set[str] = field(default_factory=set)  # accounts a rename request leaves alone

    def may_rename(self, row, person) -> str:
        """The stem this school's own account is renamed to, or "" (username_policy.rename_stem)."""
        if str(row["home_school_id"]) != str(self.school.pk) or row["account_id"] in self.known_elsewhere:
            return ""
        return username_policy.rename_stem(self.policy, row, _as_after(row, person))


def make_plan(
    *, school, policy, feed: ParsedFeed, state: SchoolState | None = None, grantable=None, settled=None
) -> SyncPlan:
    """One outcome per person in the feed (and per leaver missing from a full snapshot).

    `settled` counts people and links the caller already found unchanged (incremental.py's comparison of
    feed lines): then `feed` and `state` hold only the rest."""
    state = state or load_state(school)
    plan = SyncPlan(fingerprint=state.fingerprint)
    for key, count in (settled or {}).items():
        if count:
            plan.counts[key] += count
    plan.guard_threshold = guard.threshold_for(policy, state.active_count)
    years = {str(y).strip().lower() for y in policy.year_groups or []}
    reach = SyncReach(school, policy)
    people = _People(school=school, policy=policy, state=state, grantable=grantable, years=years, reach=reach)
    if policy.rename_existing:
        people.known_elsewhere = _known_elsewhere(school)
    for person_type in ("student", "staff", "contact"):
        mode = feed.modes.get(person_type, "absent")
        if mode == "absent":
            for (pt, code), row in state.members.items():
                if pt == person_type:
                    people.codes_now[pt][code] = row["id"]
            continue
        seen = _plan_listed(plan, people, person_type, feed.people.get(person_type, []))
        seen |= _plan_left_out(plan, people, person_type, feed.rejected.get(person_type, set()) - seen)
        if mode == "bulk":
            _plan_missing(plan, people, person_type, seen)
    _settle_reactivations(plan, school)
    plan_newcomers(plan, policy, school, people.newcomers, state, people.codes_now, reach, accounts=people.accounts)
    _plan_renames(plan, people.renames)
    plan_links(plan, feed, state, people.codes_now)
    plan.guard_count = guard.count(plan.counts, plan.items)
    return plan


def _plan_listed(plan: SyncPlan, people: _People, person_type: str, listed: list[dict]) -> set[str]:
    """The feed's people of one type; returns their MIS codes. Newcomers are gathered for plan_newcomers."""
    school, policy, state, years = people.school, people.policy, people.state, people.years
    school_pk, counts, roles, codes_now = str(school.pk), plan.counts, state.roles, people.codes_now
    seen: set[str] = set()
    # The common case, an active person whose details all match, is settled by _same without building
    # the before/after dicts; anything else goes through _plan_existing as before.
    wanted_roles = policy_roles(policy, person_type)
    is_student, is_contact = person_type == "student", person_type == "contact"
    for person in listed:
        code = person["mis_code"]
        seen.add(code)
        if person_type == "student" and years and person["year_group"].strip().lower() not in years:
            plan.add(
                plan_item(
                    Outcome.SKIPPED,
                    person_type,
                    code,
                    reason=f"Year {person['year_group'] or '(none)'} is not in Student Year Levels to Sync.",
                )
            )
            if (person_type, code) in state.members:
                codes_now[person_type][code] = state.members[(person_type, code)]["id"]
            continue
        row = state.members.get((person_type, code))
        if person.get("deleted"):
            _plan_leaver(plan, people, row, person_type, code, reason="Marked to be deleted in the MIS.")
            continue
        if row is None:
            if not person["active"]:
                plan.add(
                    plan_item(Outcome.SKIPPED, person_type, code, reason="Left in the MIS before an account was made.")
                )
                continue
            people.newcomers.append((person_type, person))
            continue
        codes_now[person_type][code] = row["id"]
        if person.get("account_key"):
            people.accounts[person["account_key"]] = (row["account_id"], row["username"])
        if not person["active"]:
            _plan_leaver(plan, people, row, person_type, code, reason="Inactive or left in the MIS.")
            continue
        if row["status"] == ACTIVE and not person.get("roles"):
            if _same(row, person, school_pk, is_student, is_contact, roles.get(row["id"], ()), wanted_roles):
                if not people.may_rename(row, person):
                    counts[Outcome.UNCHANGED] += 1
                    continue
        _plan_existing(plan, people, row, person_type, person)
    return seen


def _plan_left_out(plan: SyncPlan, people: _People, person_type: str, codes: set[str]) -> set[str]:
    """People whose row the feed reader refused: kept as they are (never leavers), each said in the plan."""
    for code in sorted(codes):
        row = people.state.members.get((person_type, code))
        if row is None:
            plan.add(plan_item(Outcome.SKIPPED, person_type, code, reason=f"{ROW_LEFT_OUT}; no account is made."))
            continue
        common = {"membership_id": row["id"], "account_id": row["account_id"], "username": row["username"]}
        plan.add(plan_item(Outcome.SKIPPED, person_type, code, reason=f"{ROW_LEFT_OUT}, kept as they are.", **common))
    return codes


def _plan_missing(plan: SyncPlan, people: _People, person_type: str, seen: set[str]) -> None:
    """A full snapshot: the active people it no longer lists are leavers (students outside the synced years
    are left alone)."""
    years = people.years
    for (pt, code), row in people.state.members.items():
        if pt != person_type or code in seen:
            continue
        if pt == "student" and years and (row["year_group"] or "").strip().lower() not in years:
            continue
        if row["status"] == ACTIVE:
            _plan_leaver(plan, people, row, person_type, code, reason=MISSING)


def _same(row, person, school_pk, is_student, is_contact, held, wanted_roles) -> bool:
    """True when _plan_existing would find nothing to change (account, membership and roles)."""
    if str(row["home_school_id"]) == school_pk:
        if (row["given_name"] or "") != person["given_name"] or (row["family_name"] or "") != person["family_name"]:
            return False
        if person["email"] and (row["email"] or "") != person["email"]:
            return False
        if is_student and person.get("upn") and (row["upn"] or "") != person["upn"]:
            return False
    if is_student and (row["year_group"] != person["year_group"] or row["form"] != person["form"]):
        return False
    if is_contact and row["portal_access"] != person["portal_access"]:
        return False
    return all(r in held for r in wanted_roles)


def _known_elsewhere(school) -> set[str]:
    """This school's people who also belong (or belonged) to another school: a person transferred in, or a
    teacher who is a parent elsewhere. Their username is known there too, so "Rename existing accounts to the
    new pattern" leaves it alone. Read only when that request is on: one query."""
    with scopes_disabled():  # other schools' memberships of this school's people
        mine = Membership.objects.filter(school=school).values("account_id")
        rows = Membership.objects.filter(account_id__in=mine).exclude(school=school).order_by()
        return {str(pk) for pk in rows.values_list("account_id", flat=True).distinct()}


def _as_after(row, person) -> dict:
    """The person as the account will be after this run: an email the feed leaves empty keeps the one held
    (wanted_values), so an email-based username does not fall back to the MIS code for want of it."""
    if person["email"] or not row["email"]:
        return person
    return {**person, "email": row["email"]}


def _plan_leaver(plan, people: _People, row, person_type, code, *, reason):
    policy = people.policy
    if row is None:
        plan.add(plan_item(Outcome.SKIPPED, person_type, code, reason=f"{reason} No account is held here."))
        return
    if row["status"] != ACTIVE:
        plan.add(plan_item(Outcome.UNCHANGED, person_type, code))
        return
    common = {"membership_id": row["id"], "account_id": row["account_id"], "username": row["username"]}
    if not policy.archive_inactive:
        plan.add(
            plan_item(Outcome.SKIPPED, person_type, code, reason=f"{reason} Archive inactive users is off.", **common)
        )
        return
    refusal = people.reach.refusal(row["account_id"], identity=False)
    if refusal:
        plan.add(plan_item(Outcome.SKIPPED, person_type, code, reason=f"{reason} {refusal}", **common))
        return
    grace = getattr(policy, f"{person_type}_grace_days")
    to = LEFT if grace else ARCHIVED
    before, after = {"status": ACTIVE}, {"status": to}
    plan.add(plan_item(Outcome.ARCHIVE, person_type, code, before=before, after=after, reason=reason, **common))


class SyncReach:
    """Whom this sync may change (accounts.services.sync_out_of_reach): a person holding an administrator's
    role the policy does not give (here), or any administrator's role at another school, is left as they
    are. Their account (names, email, username, status) stays theirs wherever such a role is held; their
    membership here (year, form, roles, archiving) only where it is held here."""

    def __init__(self, school, policy):
        self.school = school
        self.school_pk = str(school.pk)
        given = (policy_roles(policy, "student"), policy_roles(policy, "contact"), policy.staff_roles or [])
        self.may_give = {role for roles in given for role in roles}
        # Both read when first needed: a quiet night's plan of nobody (incremental.py) asks neither, and every
        # school plans one every night.
        self._pairs: dict | None = None
        self._names: dict | None = None

    @property
    def pairs(self) -> dict:
        if self._pairs is None:
            self._pairs = sync_out_of_reach(school=self.school, may_give=self.may_give)
        return self._pairs

    def include(self, account_ids) -> None:
        """Also know these accounts (newcomers' accounts held by other schools): one more query."""
        ids = [i for i in account_ids if i not in self.pairs]
        if ids:
            self.pairs.update(sync_out_of_reach(school=self.school, may_give=self.may_give, account_ids=ids))

    def refusal(self, account_id, *, identity: bool) -> str:
        pairs = self.pairs.get(str(account_id), ())
        roles = sorted({role for school, role in pairs if identity or school == self.school_pk})
        if not roles:
            return ""
        if self._names is None:
            self._names = dict(Role.objects.values_list("code", "name"))
        names = ", ".join(self._names.get(role, role) for role in roles)
        return (
            f"Holds roles the MIS sync may not change ({names}), here or at another school: left as they are. "
            "Someone who may grant those roles changes them on the Users screen."
        )


def _plan_existing(plan, people: _People, row, person_type, person):
    policy, school, state, renames = people.policy, people.school, people.state, people.renames
    account_wanted, membership_wanted = wanted_values(person_type, person)
    before, after = {}, {}
    own_account = str(row["home_school_id"]) == str(school.pk)
    if own_account:  # a person whose account another school runs keeps that school's details
        for name, value in account_wanted.items():
            if (row[name] or "") != value:
                before[name], after[name] = row[name], value
    for name, value in membership_wanted.items():
        if row[name] != value:
            before[name], after[name] = row[name], value
    held = state.roles.get(row["id"], set())
    wanted_roles = roles_for(policy, person_type, person, people.grantable)
    missing = [r for r in wanted_roles if r not in held]
    if missing:
        before["roles"], after["roles"] = sorted(held), sorted(held | set(missing))
    stem = people.may_rename(row, person)
    rename = bool(stem)
    common = {"membership_id": row["id"], "account_id": row["account_id"], "username": row["username"]}
    reactivating = row["status"] != ACTIVE
    if after or rename or reactivating:
        identity = rename or reactivating or any(name in after for name in account_wanted)
        refusal = people.reach.refusal(row["account_id"], identity=identity)
        if refusal:
            plan.add(
                plan_item(
                    Outcome.SKIPPED,
                    person_type,
                    person["mis_code"],
                    before=before,
                    after=after,
                    reason=refusal,
                    **common,
                )
            )
            return
    if row["status"] != ACTIVE:
        before["status"], after["status"] = row["status"], ACTIVE
        item = plan_item(Outcome.REACTIVATE, person_type, person["mis_code"], before=before, after=after, **common)
        if rename and policy.overwrite_existing:
            renames.append((item, stem))
        if own_account:
            plan.add(item)
        else:  # moved to another school: only if that school no longer holds them (_settle_reactivations)
            plan.reactivations.append(item)
        return
    if not after and not rename:
        plan.add(plan_item(Outcome.UNCHANGED, person_type, person["mis_code"]))
        return
    if not policy.overwrite_existing:
        plan.add(
            plan_item(
                Outcome.SKIPPED,
                person_type,
                person["mis_code"],
                before=before,
                after=after,
                reason="Overwrite existing account details is off.",
                **common,
            )
        )
        return
    item = plan_item(Outcome.UPDATE, person_type, person["mis_code"], before=before, after=after, **common)
    if rename:
        renames.append((item, stem))
    plan.add(item)


def _settle_reactivations(plan, school) -> None:
    """A person another school took over (a transfer) but still in this school's export is not taken back: the
    two schools' nightly syncs would pull the account to and fro. Once that school no longer holds them
    actively, they are reactivated here as anyone else."""
    if not plan.reactivations:
        return
    ids = {item["account_id"] for item in plan.reactivations}
    held: dict[tuple[str, str], str] = {}
    with scopes_disabled():  # other schools' memberships, read from inside this school's job
        for chunk in in_chunks(ids, "uuid"):
            rows = Membership.objects.filter(account_id__in=chunk, status=ACTIVE).exclude(school=school).order_by()
            for account_id, person_type, name in rows.values_list("account_id", "person_type", "school__name"):
                held[(str(account_id), person_type)] = name
    for item in plan.reactivations:
        where = held.get((item["account_id"], item["person_type"]))
        if where is None:
            plan.add(item)
            continue
        item = {**item, "outcome": Outcome.SKIPPED.value, "before": {}, "after": {}}
        item["reason"] = (
            f"{MOVED}{where}, which holds them now: not taken back. Take them out of this school's MIS "
            f"export, or ask {where} to let them go first."
        )
        plan.add(item)
    plan.reactivations = []


def _plan_renames(plan, renames):
    if not renames:
        return
    wanted = [(i, stem, item["account_id"]) for i, (item, stem) in enumerate(renames)]
    chosen = username_policy.resolve(wanted, given=plan.usernames_given)
    for i, (item, _stem) in enumerate(renames):
        new = chosen[i]
        if new != item["username"]:
            item["before"]["username"], item["after"]["username"] = item["username"], new
