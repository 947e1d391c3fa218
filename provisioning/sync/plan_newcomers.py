"""The plan's newcomers: people the feed lists whom the school does not hold under their MIS code.

Each is matched to an account they already have (students by UPN, staff and contacts by verified email):
the same person under a new MIS code keeps their membership, a student or staff member another school holds
transfers here, anyone else with an account is added to this school; the rest get a new account and a
username from the policy (username_policy.py), never one taken or given twice.

An account of the school's organisation with the newcomer's email (unverified, as MIS emails are) is only a
possible match: the newcomer is held, with the match as the reason, until someone decides on the preview
(NewcomerMatch): Same person adds a membership to that account, Different person makes a new one.
"""

from collections import defaultdict

from django.db.models.functions import Lower
from django_scopes import scopes_disabled

from accounts.models import Account, Membership
from accounts.selectors import accounts_possibly_same
from provisioning.models import NewcomerMatch
from provisioning.sync import username_policy
from provisioning.sync.bulk import in_chunks, new_ids
from provisioning.sync.plan_item import Outcome, plan_item, wanted_values
from provisioning.sync.policy import roles_for

ACTIVE, ARCHIVED = Membership.Status.ACTIVE, Membership.Status.ARCHIVED
EMPTY_USERNAME = "No account is created where the username would be empty."
NEEDS_DECISION = "Needs a decision: possible match "  # the start of the reason a held newcomer shows
SAME = NewcomerMatch.Decision.SAME


def possible_match_reason(account) -> str:
    """Who the newcomer may be, as the preview shows it beside the two choices."""
    school = account.home_school.name if account.home_school_id else "no school"
    text = (
        f"{NEEDS_DECISION}{account.full_name}, {account.username}, {school} (same email). Nothing is created "
        "until someone chooses Same person or Different person."
    )
    return text[:300]


def _possible_matches(school, newcomers, by_upn, by_email) -> tuple[dict, dict]:
    """Newcomers no certain match found, whose email an account of the school's organisation has: {(type, code):
    account}, and the decisions the school already took on them: {(type, code): (account id, decision)}."""
    unmatched = {
        (pt, p["mis_code"]): p["email"].lower()
        for pt, p in newcomers
        if p.get("email") and not (pt == "student" and p.get("upn") in by_upn)
        and not (pt != "student" and p["email"].lower() in by_email)
    }  # fmt: skip
    if not unmatched:
        return {}, {}
    certain = {str(r["id"]) for r in by_upn.values()} | {str(r["id"]) for r in by_email.values()}
    found = accounts_possibly_same(
        organisation_id=school.organisation_id, emails=unmatched.values(), exclude_ids=certain
    )
    possible = {key: found[email] for key, email in unmatched.items() if email in found}
    if not possible:
        return {}, {}
    codes = sorted({code for _pt, code in possible})
    decided = {}
    for chunk in in_chunks(codes, "text"):
        rows = NewcomerMatch.objects.filter(school=school, mis_code__in=chunk).values_list(
            "person_type", "mis_code", "account_id", "decision"
        )
        for pt, code, account_id, decision in rows:
            decided[(pt, code)] = (str(account_id), decision)
    return possible, decided


def _find_elsewhere(school, newcomers) -> tuple[dict, dict]:
    """Accounts newcomers already have: students by UPN, staff and contacts by verified email."""
    upns = sorted({p["upn"] for pt, p in newcomers if pt == "student" and p.get("upn")})
    emails = sorted({p["email"].lower() for pt, p in newcomers if pt != "student" and p.get("email")})
    by_upn, by_email = {}, {}
    fields = ("id", "username", "upn", "email", "home_school_id", "given_name", "family_name")
    for chunk in in_chunks(upns, "text"):
        for row in Account.objects.filter(upn__in=chunk, deleted_at__isnull=True).order_by().values(*fields):
            by_upn.setdefault(row["upn"], row)
    for chunk in in_chunks(emails, "text"):
        qs = (
            Account.objects.annotate(low=Lower("email"))
            .filter(low__in=chunk, email_verified=True, deleted_at__isnull=True)
            .order_by("date_joined")
        )
        for row in qs.values(*fields, "low"):
            by_email.setdefault(row["low"], row)
    return by_upn, by_email


def _memberships_of(account_ids) -> dict[str, list[dict]]:
    """Every school's memberships of these accounts: a transfer closes the old school's one. A sync job runs
    in its school's scope, so reading other schools' rows needs the scope lifted here, for this read only."""
    found = defaultdict(list)
    with scopes_disabled():
        _memberships_into(found, account_ids)
    return found


def _memberships_into(found, account_ids) -> None:
    for chunk in in_chunks(account_ids, "uuid"):
        rows = (
            Membership.objects.filter(account_id__in=chunk)
            .order_by()
            .values("id", "account_id", "school_id", "person_type", "status", "mis_code")
        )
        for row in rows:
            found[str(row["account_id"])].append(row)


def plan_newcomers(plan, policy, school, newcomers, state, codes_now, reach, *, accounts=None):
    """Each newcomer's outcome, in the feed's order; new accounts are named together at the end.

    `accounts` holds, by the feed's own key for a person (a OneRoster sourcedId), the account of one of their
    memberships already held here: a teacher who is also a guardian has one account, a membership each."""
    if not newcomers:
        return
    accounts = dict(accounts or {})
    followers: list[tuple[dict, dict]] = []  # (item, the item of the new account it joins)
    leaders: dict[str, dict] = {}
    by_upn, by_email = _find_elsewhere(school, newcomers)
    possible, decided = _possible_matches(school, newcomers, by_upn, by_email)
    confirmed = {}  # (type, code) -> the account row a person said is the same person
    for key, account in possible.items():
        if decided.get(key) == (str(account.pk), SAME):
            confirmed[key] = {f: getattr(account, f) for f in ("username", "upn", "email", "home_school_id")}
            confirmed[key]["id"] = account.pk
    matched_ids = {str(r["id"]) for r in by_upn.values()} | {str(r["id"]) for r in by_email.values()}
    matched_ids |= {str(r["id"]) for r in confirmed.values()}
    memberships = _memberships_of(matched_ids)
    reach.include(matched_ids)
    to_name: list[tuple[int, str]] = []
    pending: list[dict] = []
    fresh_ids = iter(new_ids(2 * len(newcomers)))
    for person_type, person in newcomers:
        code = person["mis_code"]
        account_wanted, membership_wanted = wanted_values(person_type, person)
        roles = roles_for(policy, person_type, person, None)
        existing = None
        if person_type == "student" and person.get("upn"):
            existing = by_upn.get(person["upn"])
        elif person_type in ("staff", "contact") and person.get("email"):
            existing = by_email.get(person["email"].lower())
        after = {**account_wanted, **membership_wanted, "roles": roles, "mis_code": code}
        key = person.get("account_key")
        if key and (key in accounts or key in leaders):
            _plan_sibling(plan, codes_now, person_type, code, after, fresh_ids, accounts.get(key), leaders.get(key),
                          followers)  # fmt: skip
            continue
        transfer = True
        if existing is None and (person_type, code) in possible:
            match = possible[(person_type, code)]
            decision = decided.get((person_type, code))
            if decision is None or decision[0] != str(match.pk):  # held until a person decides
                reason = possible_match_reason(match)
                plan.add(plan_item(Outcome.SKIPPED, person_type, code, account_id=str(match.pk), reason=reason))
                continue
            # Same person: a membership here; a teacher at two schools of a trust stays at both (no transfer).
            existing, transfer = confirmed.get((person_type, code)), False
        if existing is not None:
            held = memberships.get(str(existing["id"]), [])
            _plan_known(
                plan, school, state, codes_now, person_type, code, existing, held, after, fresh_ids, reach, transfer
            )
            continue
        stem = username_policy.username_stem(policy, person)
        if not stem:
            plan.add(plan_item(Outcome.SKIPPED, person_type, code, reason=EMPTY_USERNAME))
            continue
        item = plan_item(
            Outcome.CREATE, person_type, code, membership_id=next(fresh_ids), account_id=next(fresh_ids), after=after
        )
        codes_now[person_type][code] = item["membership_id"]
        to_name.append((len(pending), stem))
        pending.append(item)
        if key:
            leaders[key] = item
    chosen = username_policy.resolve([(i, stem, None) for i, stem in to_name], given=plan.usernames_given)
    for i, item in enumerate(pending):
        item["username"] = item["after"]["username"] = chosen[i]
        plan.add(item)
    for item, leader in followers:
        item["username"] = leader["username"]
        plan.add(item)


def _plan_sibling(plan, codes_now, person_type, code, after, fresh_ids, held, leader, followers) -> None:
    """Another membership of a person the feed lists under several person types: on the account they hold
    here, or on the one this plan creates for them (named with it, at the end)."""
    membership_id = next(fresh_ids)
    codes_now[person_type][code] = membership_id
    after["existing_account"] = True
    reason = "Also listed under another person type: one account, a membership for each."
    if held is not None:
        account_id, username = held
        plan.add(plan_item(Outcome.CREATE, person_type, code, membership_id=membership_id, account_id=account_id,
                           username=username, after=after, reason=reason))  # fmt: skip
        return
    item = plan_item(Outcome.CREATE, person_type, code, membership_id=membership_id,
                     account_id=leader["account_id"], after=after, reason=reason)  # fmt: skip
    followers.append((item, leader))


def _plan_known(
    plan, school, state, codes_now, person_type, code, existing, held, after, fresh_ids, reach, transfer=True
) -> None:
    """A newcomer who already has an account: a new MIS code here, a transfer from another school, or the
    account added to this school (never a transfer when `transfer` is off: a confirmed possible match)."""
    account_id = str(existing["id"])
    here = [m for m in held if str(m["school_id"]) == str(school.pk) and m["person_type"] == person_type]
    if here:
        # The same person under a new MIS code: keep the account and membership, change the code.
        m = here[0]
        row = state.uncoded.get((person_type, account_id)) or {}
        item = plan_item(
            Outcome.UPDATE,
            person_type,
            code,
            membership_id=str(m["id"]),
            account_id=account_id,
            username=existing["username"],
            before={"mis_code": m["mis_code"]},
            after={"mis_code": code, **({"status": ACTIVE} if m["status"] != ACTIVE else {})},
        )
        codes_now[person_type][code] = str(m["id"])
        if row:
            item["before"]["status"] = row.get("status")
        plan.add(item)
        return
    others = [
        m
        for m in held
        if transfer
        and str(m["school_id"]) != str(school.pk)
        and m["person_type"] == person_type
        and m["status"] != ARCHIVED
    ]
    if person_type in ("student", "staff") and others:
        refusal = reach.refusal(account_id, identity=True)
        if refusal:  # a transfer closes another school's membership: never one of its administrators'
            reason = f"Held by another school: not transferred. {refusal}"
            plan.add(plan_item(Outcome.SKIPPED, person_type, code, reason=reason, username=existing["username"]))
            return
    membership_id = next(fresh_ids)
    codes_now[person_type][code] = membership_id
    common = {"membership_id": membership_id, "account_id": account_id, "username": existing["username"]}
    if person_type in ("student", "staff") and others:
        old = others[0]
        after.update({"from_membership_id": str(old["id"]), "from_school_id": str(old["school_id"])})
        before = {"school_id": str(old["school_id"]), "status": old["status"]}
        reason = "Held by another school: the account and username move here."
        plan.add(plan_item(Outcome.TRANSFER, person_type, code, before=before, after=after, reason=reason, **common))
        return
    after["existing_account"] = True
    reason = "Already has an account: added to this school, not duplicated."
    if not transfer:
        reason = "Confirmed as the same person: their account is added to this school."
    plan.add(plan_item(Outcome.CREATE, person_type, code, after=after, reason=reason, **common))
