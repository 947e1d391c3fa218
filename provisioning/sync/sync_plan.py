"""The dry run: compare a parsed feed with the school's accounts and give every person one outcome.

Everything the school holds is read in a handful of set-based queries (memberships with their
accounts, role assignments, contact links), compared in memory, and the result is a list of plain
dicts (the plan) that apply.py executes and that SyncRecord rows store as they are.
"""

import hashlib
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django_scopes import scopes_disabled

from accounts.models import Account, ContactLink, Membership, RoleAssignment
from accounts.permissions import BULK_NEVER_GRANTS
from provisioning.sync import username_policy
from provisioning.sync.bulk import new_ids, pg_array
from provisioning.sync.feeds import ParsedFeed

BATCH = 900
ACTIVE, LEFT, ARCHIVED = Membership.Status.ACTIVE, Membership.Status.LEFT, Membership.Status.ARCHIVED
STATE_FIELDS = (
    "id",
    "account_id",
    "person_type",
    "mis_code",
    "status",
    "year_group",
    "form",
    "portal_access",
    "account__username",
    "account__given_name",
    "account__family_name",
    "account__email",
    "account__upn",
    "account__home_school_id",
)
EMPTY_USERNAME = "No account is created where the username would be empty."
MISSING = "Missing from the MIS export."
MOVED = "Moved to "  # the start of the reason a person another school took over is not taken back


@dataclass
class SchoolState:
    """The school's accounts as the sync sees them, read once per plan."""

    members: dict[tuple[str, str], dict] = field(default_factory=dict)  # (person_type, mis_code) -> row
    uncoded: dict[tuple[str, str], dict] = field(default_factory=dict)  # (person_type, account_id) -> row
    roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # membership id -> roles
    links: dict[tuple[str, str], dict] = field(default_factory=dict)  # (contact mid, student mid) -> link
    fingerprint: str = ""
    active_count: int = 0
    # staging.py hands over only the held links a full snapshot no longer has (already filtered).
    links_prefiltered: bool = False


STATE_KEYS = [f.replace("account__", "") for f in STATE_FIELDS]


def state_row(values: tuple) -> dict:
    """A values_list(*STATE_FIELDS) row as the planner reads it (ids as text)."""
    row = dict(zip(STATE_KEYS, values, strict=True))
    row["id"], row["account_id"] = str(row["id"]), str(row["account_id"])
    row["home_school_id"] = str(row["home_school_id"])
    return row


def load_state(school) -> SchoolState:
    if connection.vendor == "postgresql":
        return _load_state_pg(school)
    state = SchoolState()
    digest = hashlib.sha256()
    rows = Membership.objects.filter(school=school).order_by("id").values_list(*STATE_FIELDS)
    for values in rows.iterator(chunk_size=5000):
        digest.update(repr(values).encode())
        _keep(state, state_row(values))
    roles = RoleAssignment.objects.filter(school=school).order_by("membership_id", "role_id")
    for membership_id, role_id in roles.values_list("membership_id", "role_id").iterator(chunk_size=5000):
        digest.update(f"{membership_id}:{role_id}".encode())
        state.roles[str(membership_id)].add(role_id)
    links = ContactLink.objects.filter(school=school).order_by("id")
    for values in links.values_list("id", "contact_id", "student_id", "relationship", "portal_access").iterator(
        chunk_size=5000
    ):
        digest.update(repr(values).encode())
        link_id, contact_id, student_id, relationship, portal = values
        state.links[(str(contact_id), str(student_id))] = {
            "id": str(link_id),
            "relationship": relationship,
            "portal_access": portal,
        }
    state.fingerprint = digest.hexdigest()
    return state


def _keep(state: SchoolState, row: dict) -> None:
    if row["status"] == ACTIVE:
        state.active_count += 1
    if row["mis_code"]:
        state.members[(row["person_type"], row["mis_code"])] = row
    else:
        state.uncoded[(row["person_type"], row["account_id"])] = row


PG_MEMBERS = """
SELECT m.id::text, m.account_id::text, m.person_type, m.mis_code, m.status, m.year_group, m.form, m.portal_access,
       a.username, a.given_name, a.family_name, a.email, a.upn, a.home_school_id::text
FROM accounts_membership m JOIN accounts_account a ON a.id = m.account_id WHERE m.school_id = %s
"""
# The state fingerprint on PostgreSQL, kept by the triggers of provisioning migration 0007 instead of hashing
# every member's row (86 ms for 100,000): a transaction that writes a school's memberships, role assignments
# or contact links, or a compared column of its members' accounts, has a row of its own in SchoolDataChange
# counting its statements. A sign-in (last_login) writes no compared column, so the nightly run still plans
# from the changed lines (incremental.py) and a plan made before it can still be applied.
#
# The fingerprint is "version:SEEN+OWN": SEEN, the school's folded version (SchoolDataVersion) plus the
# statements of the change rows committed by other transactions, as this statement sees them; OWN, the
# statements of this transaction's own row (always 0 when a sync reads it: a sync writes nothing of the
# school before planning or Apply's check; tests that build data in the same transaction are why it is kept
# apart). SEEN+OWN only grows: each statement that writes adds 1 to its transaction's row (to OWN at once for
# the writer, to SEEN for the others once it commits), and folding moves statements from the change rows
# into the version without changing the sum. So two readings by transactions that wrote nothing are equal
# exactly when no write was committed between them. Both parts are small reads (0.2 ms; 0.5 ms with 2,000
# change rows): a school keeps only the change rows of the transactions since its last sync. The active
# count (the guard's 10%) comes in the same query, an index-only scan (4 ms for 100,000 people).
#
# A sync, as it finishes (applied_fingerprint, still holding the SyncPolicy lock, the only writer of the
# version row), deletes the change rows it sees and adds their statements to the version, so no edit waits
# on it. The applied fingerprint is not read afresh but made from the plan's: SEEN as the plan read it plus
# the statements the sync wrote. How each case comes out:
# - a write committed between the plan and Apply: Apply's reading counts its row, and refuses the plan;
# - a write committed while the sync runs (after the plan's reading, before the fold): the fold folds it and
#   a later reading counts it, while the applied fingerprint does not, so the next run plans in full. Read
#   afresh, the applied fingerprint would count it, and the next run would take the school as the sync
#   left it, missing what that edit did;
# - a transaction still open at the fold: the fold cannot see its row and leaves it; it counts once it
#   commits, so the next reading differs from the applied fingerprint and that run plans in full;
# - a rollback: its row goes with it, as do its writes, and no reading ever counted it;
# - TRUNCATE: the truncating transaction adds a statement to its own row of every school, waiting for no one;
# - a deleted school: its version and change rows stay behind (no cascade, no constraint), never read again.
PG_SEEN_AND_OWN = """
WITH own AS (SELECT pg_current_xact_id_if_assigned()::text::bigint AS xact),
changes AS (SELECT c.statements, c.xact IS NOT DISTINCT FROM own.xact AS mine
              FROM provisioning_schooldatachange c, own WHERE c.school_id = %(school)s)
SELECT coalesce((SELECT version FROM provisioning_schooldataversion WHERE school_id = %(school)s), 0)
       + coalesce((SELECT sum(statements) FROM changes WHERE NOT mine), 0),
       coalesce((SELECT sum(statements) FROM changes WHERE mine), 0)
"""
PG_FINGERPRINT = f"""
SELECT seen_and_own.*,
       (SELECT count(*) FROM accounts_membership WHERE school_id = %(school)s AND status = 'active')
  FROM ({PG_SEEN_AND_OWN}) AS seen_and_own
"""
# The statements of this transaction's own row are returned for applied_fingerprint.
PG_FOLD = """
WITH gone AS (DELETE FROM provisioning_schooldatachange WHERE school_id = %(school)s RETURNING xact, statements),
folded AS (INSERT INTO provisioning_schooldataversion AS v (school_id, version)
           SELECT %(school)s, sum(statements) FROM gone HAVING count(*) > 0
           ON CONFLICT (school_id) DO UPDATE SET version = v.version + excluded.version)
SELECT coalesce(sum(statements) FILTER (WHERE xact = pg_current_xact_id_if_assigned()::text::bigint), 0)
  FROM gone
"""


def _load_state_pg(school) -> SchoolState:
    state = SchoolState()
    keys = [f.replace("account__", "") for f in STATE_FIELDS]
    with connection.cursor() as cursor:
        # The fingerprint first: each read below sees what was committed when it started, so a change
        # committed between them may be in the state but not in the fingerprint, and Apply's check then
        # refuses the plan. Read after, it could count a change the state missed: a stale plan applied.
        state.fingerprint = fingerprint_pg(cursor, school)
        cursor.execute(PG_MEMBERS, [school.pk])
        for values in cursor.fetchall():
            _keep(state, dict(zip(keys, values, strict=True)))
        cursor.execute("SELECT membership_id::text, role_id FROM accounts_roleassignment WHERE school_id = %s",
                       [school.pk])  # fmt: skip
        roles = state.roles
        for membership_id, role_id in cursor.fetchall():
            roles[membership_id].add(role_id)
        cursor.execute(
            "SELECT id::text, contact_id::text, student_id::text, relationship, portal_access"
            " FROM accounts_contactlink WHERE school_id = %s",
            [school.pk],
        )
        for link_id, contact_id, student_id, relationship, portal in cursor.fetchall():
            state.links[(contact_id, student_id)] = {"id": link_id, "relationship": relationship,
                                                     "portal_access": portal}  # fmt: skip
    return state


def fingerprint_pg(cursor, school) -> str:
    cursor.execute(PG_SEEN_AND_OWN, {"school": school.pk})
    return _version_fingerprint(*cursor.fetchone())


def _version_fingerprint(seen: int, own: int) -> str:
    # Not a sha256 like SQLite's or like runs planned before the triggers existed: those never match.
    return f"version:{seen}+{own}"


def _fingerprint_and_active_pg(cursor, school) -> tuple[str, int]:
    cursor.execute(PG_FINGERPRINT, {"school": school.pk})
    seen, own, active_count = cursor.fetchone()
    return _version_fingerprint(seen, own), active_count


def current_fingerprint(school) -> str:
    """The fingerprint as it is now, for Apply's check that nothing changed since the plan."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            return fingerprint_pg(cursor, school)
    return load_state(school).fingerprint


def fingerprint_and_active(school) -> tuple[str, int]:
    """The fingerprint and the number of active memberships (the guard's 10%), read in the same pass."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            return _fingerprint_and_active_pg(cursor, school)
    state = load_state(school)
    return state.fingerprint, state.active_count


def applied_fingerprint(school, planned: str, *, wrote: bool = True) -> str:
    """The fingerprint the school will have once this sync commits, if no one else writes to it from the
    reading `planned` on; for the next run to tell whether it may plan from the changed lines alone. Folds
    the school's change rows into its version (PostgreSQL): call it under the SyncPolicy lock, after the
    sync's last write to the school. It folds after a run that wrote nothing too, so the rows of a school
    whose nights change nothing do not pile up."""
    if connection.vendor != "postgresql":
        return current_fingerprint(school) if wrote else planned
    with connection.cursor() as cursor:
        cursor.execute(PG_FOLD, {"school": school.pk})
        own = cursor.fetchone()[0]
    seen = _seen(planned)
    if seen is None:  # not a reading of the version: made before it existed, never equal to one
        return current_fingerprint(school)
    return _version_fingerprint(seen + own, 0)


STALE_CHANGES_DAYS = 7
PG_FOLD_STALE = """
WITH gone AS (DELETE FROM provisioning_schooldatachange WHERE created_at < now() - make_interval(days => %(days)s)
              RETURNING school_id, statements),
folded AS (INSERT INTO provisioning_schooldataversion AS v (school_id, version)
           SELECT school_id, sum(statements) FROM gone GROUP BY school_id
           ON CONFLICT (school_id) DO UPDATE SET version = v.version + excluded.version)
SELECT count(*) FROM gone
"""


def stale_changes_fold(days: int = STALE_CHANGES_DAYS) -> int:
    """Fold change rows older than `days` into their schools' versions (PostgreSQL), for the scheduler's
    housekeeping: a school whose runs fold them (every applied sync does) never has rows that old, and one
    that does not sync would otherwise keep a row for every editing transaction. The fingerprint is unchanged
    (the sum is kept); only whom those edits touched is forgotten, so that school's next sync compares the
    whole feed (changes_by_hand sees its version moved)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(PG_FOLD_STALE, {"days": days})
        return cursor.fetchone()[0]


def prefer_index_lookups() -> None:
    """For the rest of the sync's transaction, plan queries for memory-resident tables (PostgreSQL).

    A nightly run reads and writes a few thousand of a school's rows, by key. At the default
    random_page_cost (4, a spinning disk's), PostgreSQL costs that many index probes above reading the whole
    table, so it hash-joined against a full scan of 100,000 accounts or memberships for 2,000 leavers or
    renames (20-40 ms a statement, seven times a night). Index probes into pages already in memory are
    nearly as cheap as reading the pages in order; 1.1 is the usual setting for SSD and cached data. Local
    to the transaction: other screens keep the server's setting."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL random_page_cost = 1.1")


@contextmanager
def sync_writes(school):
    """Tell the change triggers (provisioning migration 0008) that the writes inside are the school's sync: its
    change row names no members (the run folds it before committing), where an edit's names whom it changed.
    Cleared after, so anything else the transaction writes is named as usual."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('rollcall.sync_school', %s, true)", [str(school.pk)])
    try:
        yield
    except BaseException:
        # The setting is local to the transaction, and goes with its rollback. A statement run here after a
        # failed one would fail too ("current transaction is aborted") and hide the error that names the cause.
        if not _transaction_failed():
            _sync_school_clear()
        raise
    _sync_school_clear()


def _sync_school_clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('rollcall.sync_school', '', true)")


def _transaction_failed() -> bool:
    """True when a failed statement aborted PostgreSQL's transaction: it refuses every statement until rollback."""
    from psycopg.pq import TransactionStatus

    return connection.connection is None or connection.connection.info.transaction_status == TransactionStatus.INERROR


PG_CHANGES_BY_HAND = """
SELECT coalesce((SELECT version FROM provisioning_schooldataversion WHERE school_id = %(school)s), 0),
       coalesce(bool_and(c.complete), true),
       coalesce((SELECT array_agg(DISTINCT m::text) FROM provisioning_schooldatachange d, unnest(d.members) AS m
                  WHERE d.school_id = %(school)s), '{}')
  FROM provisioning_schooldatachange c WHERE c.school_id = %(school)s
"""


def changes_by_hand(school, applied: str) -> set[str] | None:
    """The memberships others have written to since the run that left `applied` folded the school's changes:
    every change since, when each names whom it changed (PostgreSQL). None when that cannot be known: another
    database, a change folded into that run after its plan was read, a deleted membership, an emptied table."""
    seen = _seen(applied)
    if connection.vendor != "postgresql" or seen is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(PG_CHANGES_BY_HAND, {"school": school.pk})
        folded, complete, members = cursor.fetchone()
    if folded != seen or not complete:
        return None
    return set(members)


def _seen(fingerprint: str) -> int | None:
    prefix, _, counts = fingerprint.partition(":")
    seen, _, own = counts.partition("+")
    if prefix != "version" or not (seen.isdigit() and own.isdigit()):
        return None
    return int(seen)


def guard_threshold_for(policy, active_count: int) -> int:
    if policy.guard_threshold is not None:
        return policy.guard_threshold
    return min(-(-active_count // 10), 500)  # 10% rounded up, at most 500


def policy_roles(policy, person_type: str) -> list[str]:
    roles = {"student": policy.student_roles, "staff": policy.staff_roles, "contact": policy.contact_roles}
    return [r for r in roles[person_type] if r not in BULK_NEVER_GRANTS]


@dataclass
class Plan:
    items: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fingerprint: str = ""
    guard_count: int = 0
    guard_threshold: int = 0
    reactivations: list[dict] = field(default_factory=list)  # of accounts another school runs, to settle
    # Usernames (lower case) this plan gives, to newcomers and renames alike: none may be given twice.
    usernames_given: set[str] = field(default_factory=set)

    def add(self, item: dict) -> None:
        key = item["outcome"] if item["entity"] == "person" else f"link_{item['outcome']}"
        self.counts[key] += 1
        if item["outcome"] != "unchanged":
            self.items.append(item)


def _item(
    outcome,
    person_type,
    code,
    *,
    membership_id="",
    account_id="",
    username="",
    before=None,
    after=None,
    reason="",
    entity="person",
) -> dict:
    return {
        "entity": entity,
        "outcome": outcome,
        "person_type": person_type,
        "mis_code": code,
        "membership_id": membership_id,
        "account_id": account_id,
        "username": username,
        "before": before or {},
        "after": after or {},
        "reason": reason,
    }


def make_plan(
    *, school, policy, feed: ParsedFeed, state: SchoolState | None = None, grantable=None, settled=None
) -> Plan:
    """One outcome per person in the feed (and per leaver missing from a full snapshot).

    `settled` counts people and links the caller already found unchanged (staging.py's SQL comparison):
    then `feed` and `state` hold only the rest."""
    state = state or load_state(school)
    plan = Plan(fingerprint=state.fingerprint)
    for key, count in (settled or {}).items():
        if count:
            plan.counts[key] += count
    plan.guard_threshold = guard_threshold_for(policy, state.active_count)
    school_pk, counts, roles = str(school.pk), plan.counts, state.roles
    years = {str(y).strip().lower() for y in policy.year_groups or []}
    newcomers: list[tuple[str, dict]] = []
    renames: list[tuple[dict, str]] = []  # (item, stem) whose username the new policy changes
    codes_now: dict[str, dict[str, str]] = defaultdict(dict)  # person_type -> code -> membership id
    for person_type in ("student", "staff", "contact"):
        mode = feed.modes.get(person_type, "absent")
        if mode == "absent":
            for (pt, code), row in state.members.items():
                if pt == person_type:
                    codes_now[pt][code] = row["id"]
            continue
        extra_roles_ok = grantable
        seen: set[str] = set()
        # The common case, an active person whose details all match, is settled by _same without building
        # the before/after dicts; anything else goes through _plan_existing as before.
        wanted_roles = policy_roles(policy, person_type)
        is_student, is_contact = person_type == "student", person_type == "contact"
        for person in feed.people.get(person_type, []):
            code = person["mis_code"]
            seen.add(code)
            if person_type == "student" and years and person["year_group"].strip().lower() not in years:
                plan.add(
                    _item(
                        "skipped",
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
                _plan_leaver(plan, policy, row, person_type, code, reason="Marked to be deleted in the MIS.")
                continue
            if row is None:
                if not person["active"]:
                    plan.add(_item("skipped", person_type, code, reason="Left in the MIS before an account was made."))
                    continue
                newcomers.append((person_type, person))
                continue
            codes_now[person_type][code] = row["id"]
            if not person["active"]:
                _plan_leaver(plan, policy, row, person_type, code, reason="Inactive or left in the MIS.")
                continue
            if row["status"] == ACTIVE and not person.get("roles"):
                if _same(row, person, school_pk, is_student, is_contact, roles.get(row["id"], ()), wanted_roles):
                    own = str(row["home_school_id"]) == school_pk
                    stem = username_policy.username_stem(policy, person) if own else ""
                    if not stem or username_policy.fits_stem(row["username"], stem):
                        counts["unchanged"] += 1
                        continue
            _plan_existing(plan, policy, school, row, person_type, person, state, renames, extra_roles_ok)
        if mode == "bulk":
            for (pt, code), row in state.members.items():
                if pt != person_type or code in seen:
                    continue
                if pt == "student" and years and (row["year_group"] or "").strip().lower() not in years:
                    continue
                if row["status"] == ACTIVE:
                    _plan_leaver(plan, policy, row, person_type, code, reason=MISSING)
    _settle_reactivations(plan, school)
    _plan_newcomers(plan, policy, school, newcomers, state, codes_now)
    _plan_renames(plan, renames)
    _plan_links(plan, feed, state, codes_now)
    plan.guard_count = plan.counts.get("archive", 0) + sum(
        1 for item in plan.items if item["outcome"] == "update" and "username" in item["after"]
    )
    return plan


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


def _plan_leaver(plan, policy, row, person_type, code, *, reason):
    if row is None:
        plan.add(_item("skipped", person_type, code, reason=f"{reason} No account is held here."))
        return
    if row["status"] != ACTIVE:
        plan.add(_item("unchanged", person_type, code))
        return
    common = {"membership_id": row["id"], "account_id": row["account_id"], "username": row["username"]}
    if not policy.archive_inactive:
        plan.add(_item("skipped", person_type, code, reason=f"{reason} Archive inactive users is off.", **common))
        return
    grace = getattr(policy, f"{person_type}_grace_days")
    to = LEFT if grace else ARCHIVED
    plan.add(
        _item("archive", person_type, code, before={"status": ACTIVE}, after={"status": to}, reason=reason, **common)
    )


def _wanted(person_type: str, person: dict) -> tuple[dict, dict]:
    """Account and membership values the feed asks for (empty optional values keep what is held)."""
    account = {"given_name": person["given_name"], "family_name": person["family_name"]}
    if person["email"]:
        account["email"] = person["email"]
    if person_type == "student" and person.get("upn"):
        account["upn"] = person["upn"]
    membership = {}
    if person_type == "student":
        membership = {"year_group": person["year_group"], "form": person["form"]}
    elif person_type == "contact":
        membership = {"portal_access": person["portal_access"]}
    return account, membership


def _roles_for(policy, person_type, person, grantable) -> list[str]:
    roles = list(policy_roles(policy, person_type))
    if person_type == "staff" and person.get("roles"):
        allowed = (grantable if grantable is not None else set(policy.staff_roles)) - BULK_NEVER_GRANTS
        roles += [r for r in person["roles"] if r in allowed and r not in roles]
    return roles


def _plan_existing(plan, policy, school, row, person_type, person, state, renames, grantable):
    account_wanted, membership_wanted = _wanted(person_type, person)
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
    wanted_roles = _roles_for(policy, person_type, person, grantable)
    missing = [r for r in wanted_roles if r not in held]
    if missing:
        before["roles"], after["roles"] = sorted(held), sorted(held | set(missing))
    stem = username_policy.username_stem(policy, person) if own_account else ""
    rename = bool(stem) and not username_policy.fits_stem(row["username"], stem)
    common = {"membership_id": row["id"], "account_id": row["account_id"], "username": row["username"]}
    if row["status"] != ACTIVE:
        before["status"], after["status"] = row["status"], ACTIVE
        item = _item("reactivate", person_type, person["mis_code"], before=before, after=after, **common)
        if rename and policy.overwrite_existing:
            renames.append((item, stem))
        if own_account:
            plan.add(item)
        else:  # moved to another school: only if that school no longer holds them (_settle_reactivations)
            plan.reactivations.append(item)
        return
    if not after and not rename:
        plan.add(_item("unchanged", person_type, person["mis_code"]))
        return
    if not policy.overwrite_existing:
        plan.add(
            _item(
                "skipped",
                person_type,
                person["mis_code"],
                before=before,
                after=after,
                reason="Overwrite existing account details is off.",
                **common,
            )
        )
        return
    item = _item("update", person_type, person["mis_code"], before=before, after=after, **common)
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
        item = {**item, "outcome": "skipped", "before": {}, "after": {}}
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


def in_chunks(values, db_type: str):
    """Values for an __in lookup: on PostgreSQL one array parameter (a list of 10,000 codes as 10,000
    parameters costs more to send and parse than the query), elsewhere batches under SQLite's limit."""
    values = sorted(values)
    if not values:
        return
    if connection.vendor == "postgresql":
        yield RawSQL(f"SELECT unnest(%s::{db_type}[])", [pg_array(values)])
        return
    for i in range(0, len(values), BATCH):
        yield values[i : i + BATCH]


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


def _plan_newcomers(plan, policy, school, newcomers, state, codes_now):
    if not newcomers:
        return
    by_upn, by_email = _find_elsewhere(school, newcomers)
    matched_ids = {str(r["id"]) for r in by_upn.values()} | {str(r["id"]) for r in by_email.values()}
    memberships = _memberships_of(matched_ids)
    to_name: list[tuple[int, str]] = []
    pending: list[dict] = []
    fresh_ids = iter(new_ids(2 * len(newcomers)))
    for person_type, person in newcomers:
        code = person["mis_code"]
        account_wanted, membership_wanted = _wanted(person_type, person)
        roles = _roles_for(policy, person_type, person, None)
        existing = None
        if person_type == "student" and person.get("upn"):
            existing = by_upn.get(person["upn"])
        elif person_type in ("staff", "contact") and person.get("email"):
            existing = by_email.get(person["email"].lower())
        after = {**account_wanted, **membership_wanted, "roles": roles, "mis_code": code}
        if existing is not None:
            account_id = str(existing["id"])
            held = memberships.get(account_id, [])
            here = [m for m in held if str(m["school_id"]) == str(school.pk) and m["person_type"] == person_type]
            if here:
                # The same person under a new MIS code: keep the account and membership, change the code.
                m = here[0]
                row = state.uncoded.get((person_type, account_id)) or {}
                item = _item(
                    "update",
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
                continue
            others = [
                m
                for m in held
                if str(m["school_id"]) != str(school.pk) and m["person_type"] == person_type and m["status"] != ARCHIVED
            ]
            membership_id = next(fresh_ids)
            codes_now[person_type][code] = membership_id
            if person_type in ("student", "staff") and others:
                old = others[0]
                after.update({"from_membership_id": str(old["id"]), "from_school_id": str(old["school_id"])})
                plan.add(
                    _item(
                        "transfer",
                        person_type,
                        code,
                        membership_id=membership_id,
                        account_id=account_id,
                        username=existing["username"],
                        before={"school_id": str(old["school_id"]), "status": old["status"]},
                        after=after,
                        reason="Held by another school: the account and username move here.",
                    )
                )
            else:
                after["existing_account"] = True
                plan.add(
                    _item(
                        "create",
                        person_type,
                        code,
                        membership_id=membership_id,
                        account_id=account_id,
                        username=existing["username"],
                        after=after,
                        reason="Already has an account: added to this school, not duplicated.",
                    )
                )
            continue
        stem = username_policy.username_stem(policy, person)
        if not stem:
            plan.add(_item("skipped", person_type, code, reason=EMPTY_USERNAME))
            continue
        item = _item(
            "create", person_type, code, membership_id=next(fresh_ids), account_id=next(fresh_ids), after=after
        )
        codes_now[person_type][code] = item["membership_id"]
        to_name.append((len(pending), stem))
        pending.append(item)
    chosen = username_policy.resolve([(i, stem, None) for i, stem in to_name], given=plan.usernames_given)
    for i, item in enumerate(pending):
        item["username"] = item["after"]["username"] = chosen[i]
        plan.add(item)


def _plan_links(plan, feed: ParsedFeed, state: SchoolState, codes_now):
    mode = feed.modes.get("link", "absent")
    if mode == "absent":
        return
    contacts, students = codes_now.get("contact", {}), codes_now.get("student", {})
    wanted = set()
    links_held, counts = state.links, plan.counts
    for link in feed.links:
        contact_id = link.get("contact_id") or contacts.get(link["contact_code"])
        student_id = link.get("student_id") or students.get(link["student_code"])
        code = link["contact_code"]
        if contact_id is None or student_id is None:
            missing = "contact" if contact_id is None else "student"
            plan.add(
                _item(
                    "skipped",
                    "contact",
                    code,
                    entity="link",
                    after={"student_code": link["student_code"]},
                    reason=f"The {missing} has no account here, so the link is not made.",
                )
            )
            continue
        key = (contact_id, student_id)
        wanted.add(key)
        held = links_held.get(key)
        if (
            held is not None
            and held["relationship"] == link["relationship"]
            and held["portal_access"] == link["portal_access"]
        ):
            counts["link_unchanged"] += 1
            continue
        values = {"relationship": link["relationship"], "portal_access": link["portal_access"]}
        ends = {
            "contact_membership_id": contact_id,
            "student_membership_id": student_id,
            "student_code": link["student_code"],
        }
        if held is None:
            plan.add(_item("create", "contact", code, entity="link", after={**values, **ends}))
        else:
            plan.add(
                _item(
                    "update",
                    "contact",
                    code,
                    entity="link",
                    membership_id=held["id"],
                    before={k: held[k] for k in values},
                    after={**values, **ends},
                )
            )
    if mode == "bulk":
        touched_contacts = set(contacts.values())
        for (contact_id, student_id), held in state.links.items():
            if (contact_id, student_id) not in wanted and (state.links_prefiltered or contact_id in touched_contacts):
                plan.add(
                    _item(
                        "archive",
                        "contact",
                        "",
                        entity="link",
                        membership_id=held["id"],
                        before={"contact_membership_id": contact_id, "student_membership_id": student_id},
                        reason="The link is no longer in the MIS export.",
                    )
                )
