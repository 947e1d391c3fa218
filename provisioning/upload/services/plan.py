"""Decide what each row of a file would do, for the whole file at once.

Every match is fetched in batches (provisioning.upload.selectors), so planning 10,000 rows costs a
handful of queries. Reads only: the apply (services.apply) plans again and writes what this decides.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from accounts.labels import field_label
from accounts.models import Account, PersonType, Role
from accounts.permissions import ELSEWHERE, AccountAction
from accounts.selectors import accounts_possibly_same
from accounts.services import Actor, accounts_out_of_reach, action_refusals
from accounts.services.usernames import username_free_for, usernames_taken
from provisioning.models import UploadBatch
from provisioning.upload import selectors
from provisioning.upload.reader import Table, UploadRefused, gc_paused
from provisioning.upload.services.usernames import blank, usernames_known, usernames_made
from provisioning.upload.validation import (
    COLUMN_BY_KEY,
    SAMPLE_USERNAME,
    HeaderMap,
    Problem,
    RowContext,
    header_map,
    row_clean,
)
from tenancy.models import School

CREATE, UPDATE, UNCHANGED, ADD, SKIP, ERROR = "create", "update", "unchanged", "add_existing", "skip", "error"
OUTCOME_LABELS = {
    CREATE: "Created",
    UPDATE: "Updated",
    UNCHANGED: "Unchanged",
    ADD: "Added to your school",
    SKIP: "Skipped",
    ERROR: "Error",
}
PREVIEW_LABELS = {
    CREATE: "To create",
    UPDATE: "To update",
    UNCHANGED: "Unchanged",
    ADD: "Already registered elsewhere: add to your school",
    SKIP: "Skipped",
    ERROR: "Errors",
}
# The Outcome column of a file checked before it is applied.
CHECKED_LABELS = {
    CREATE: "To create",
    UPDATE: "To update",
    UNCHANGED: "Unchanged",
    ADD: "To add to your school",
    SKIP: "Skipped",
    ERROR: "Error",
}
ACCOUNT_UPDATE_FIELDS = ("given_name", "family_name", "email", "upn")
MEMBERSHIP_UPDATE_FIELDS = ("mis_code", "year_group", "form")
OUT_OF_REACH_REFUSAL = (
    "this person holds roles you may not grant ({roles}), here or at another school, so you may not change their "
    "account; leave the cell as it is or blank"
)
ELSEWHERE_REFUSAL = (
    "this person also belongs to another school where you have no rights, so you may not change their account "
    "(names, email); leave the cell as it is or blank"
)


@dataclass
class RowPlan:
    number: int
    cells: list
    clean: dict
    problems: list[Problem]
    outcome: str = CREATE
    message: str = ""
    account: dict | None = None  # the existing account (values), when there is one
    membership: dict | None = None  # the existing membership here, when there is one
    account_changes: dict = field(default_factory=dict)
    membership_changes: dict = field(default_factory=dict)
    roles_to_add: tuple[str, ...] = ()

    @property
    def changes_in_words(self) -> list[tuple[str, object, object]]:
        """(field label, before, after) for the preview: "Given Names", never given_name (found by trying it)."""
        changed = {**self.account_changes, **self.membership_changes}
        return [(field_label(name), before, after) for name, (before, after) in changed.items()]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def messages(self) -> str:
        parts = [str(p) for p in self.problems]
        if self.message:
            parts.insert(0, self.message)
        return "; ".join(parts)


@dataclass
class UploadPlan:
    rows: list[RowPlan]
    headers: HeaderMap
    mode: str
    add_existing: bool

    def by_outcome(self, outcome: str) -> list[RowPlan]:
        return [r for r in self.rows if r.outcome == outcome]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOME_LABELS, 0)
        for row in self.rows:
            counts[row.outcome] += 1
        return counts

    @property
    def writes(self) -> int:
        c = self.counts
        return c[CREATE] + c[UPDATE] + c[ADD]


def headers_or_refuse(table: Table) -> HeaderMap:
    headers = header_map(table.header)
    if headers.missing:
        found = ", ".join(h for h in table.header if h) or "none"
        raise UploadRefused(
            f"The file is missing the required column{'s' if len(headers.missing) > 1 else ''} "
            f"{', '.join(headers.missing)} (row {table.header_row} is read as the header; columns found: {found}). "
            "Download the template to see the columns."
        )
    return headers


def upload_plan(
    *,
    school: School,
    account: Account,
    table: Table,
    mode: str,
    add_existing: bool = True,
    ctx: RowContext | None = None,
) -> UploadPlan:
    """Decide what each row would do. Reads only; every lookup is batched over the whole file."""
    with gc_paused():
        return _plan(school=school, account=account, table=table, mode=mode, add_existing=add_existing, ctx=ctx)


def _plan(*, school, account, table, mode, add_existing, ctx) -> UploadPlan:
    headers = headers_or_refuse(table)
    ctx = ctx or selectors.row_context(school=school, account=account)
    key_at = {index: key for key, index in headers.positions.items()}
    formulas = defaultdict(set)
    for row_number, column in table.formula_cells:
        if column in key_at:
            formulas[row_number].add(key_at[column])
    rows = []
    positions = list(headers.positions.items())
    width = max(headers.positions.values()) + 1
    for number, cells in table.rows:
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values = {key: cells[i] for key, i in positions}
        for key in formulas.get(number, ()):
            values[key] = None
        clean, problems = row_clean(number, values, ctx=ctx, labels=headers.labels)
        for key in formulas.get(number, ()):
            label = headers.labels[key]
            problems.append(Problem(number, label, "holds a formula; type the value itself (or paste values only)"))
        row = RowPlan(number=number, cells=cells, clean=clean, problems=problems)
        if clean["username"].lower() == SAMPLE_USERNAME:
            row.outcome, row.message, row.problems = SKIP, "The template's sample row: delete it.", []
        elif row.errors:
            row.outcome = ERROR
        rows.append(row)
    fail = _failer(headers)
    usernames_known(school=school, rows=_live(rows), fail=fail)
    _mark_duplicates(rows, headers)
    _match_registry(school=school, account=account, rows=rows, headers=headers)
    _apply_mode(rows, mode=mode, add_existing=add_existing)
    names_in_file = {row.clean["username"].lower() for row in _live(rows) if not blank(row)}
    newcomers = [row for row in rows if row.outcome == CREATE and blank(row)]
    usernames_made(school=school, rows=newcomers, names_in_file=names_in_file, fail=fail)
    _refuse_out_of_reach(school=school, account=account, rows=rows, headers=headers)
    return UploadPlan(rows=rows, headers=headers, mode=mode, add_existing=add_existing)


def _live(rows: list[RowPlan]) -> list[RowPlan]:
    return [r for r in rows if r.outcome not in (ERROR, SKIP)]


def _fail(row: RowPlan, column_key: str, message: str, headers: HeaderMap) -> None:
    label = headers.labels.get(column_key) or COLUMN_BY_KEY[column_key].label if column_key else ""
    row.problems.append(Problem(row.number, label, message))
    row.outcome = ERROR


def _failer(headers: HeaderMap):
    return lambda row, column_key, message: _fail(row, column_key, message, headers)


def _mark_duplicates(rows: list[RowPlan], headers: HeaderMap) -> None:
    """The same username, or the same MIS code for one person type, twice in the file: both rows wait. So does the
    same new student or staff email twice among rows without a username (contacts may share a family address)."""
    by_username, by_code, by_email = defaultdict(list), defaultdict(list), defaultdict(list)
    for row in _live(rows):
        if not blank(row):
            by_username[row.clean["username"].lower()].append(row)
        elif row.clean["email"] and row.clean["person_type"] != PersonType.CONTACT:
            by_email[(row.clean["person_type"], row.clean["email"].lower())].append(row)
        if row.clean["mis_code"]:
            by_code[(row.clean["person_type"], row.clean["mis_code"])].append(row)
    groups = [(g, "username", "username") for g in by_username.values() if len(g) > 1]
    groups += [(g, "mis_code", "MIS code") for g in by_code.values() if len(g) > 1]
    groups += [(g, "email", "email") for g in by_email.values() if len(g) > 1]
    for group, key, what in groups:
        numbers = ", ".join(str(r.number) for r in group)
        for row in group:
            _fail(row, key, f"{what} {row.clean[key]} appears more than once in the file (rows {numbers})", headers)


def _match_registry(*, school: School, account: Account, rows: list[RowPlan], headers: HeaderMap) -> None:
    live = _live(rows)
    by_username = selectors.accounts_by_username({r.clean["username"].lower() for r in live if not blank(r)})
    unmatched = [r for r in live if r.clean["username"].lower() not in by_username]
    by_email, by_upn = selectors.accounts_by_identity(
        emails={r.clean["email"].lower() for r in unmatched if r.clean["email"]},
        upns={r.clean["upn"] for r in unmatched if r.clean["upn"]},
    )
    account_ids = {a["id"] for a in by_username.values()}
    account_ids |= {a["id"] for group in (*by_email.values(), *by_upn.values()) for a in group}
    here = selectors.memberships_here(school=school, account_ids=account_ids)
    by_code = selectors.memberships_by_mis_code(
        school=school, codes={r.clean["mis_code"] for r in live if r.clean["mis_code"]}
    )
    held = selectors.roles_held(school=school, membership_ids=[m["id"] for m in here.values()])
    email_rule = _email_rule(school=school, account=account)
    # A username released by someone within the last 365 days is held for them (accounts' one rule): found by
    # an outside test, upload gave a name the sync had just renamed away to a new account.
    holds = usernames_taken(sorted({r.clean["username"].lower() for r in unmatched if r.clean["username"]}))
    for row in live:
        existing = by_username.get(row.clean["username"].lower())
        if existing is not None:
            _match_by_username(row, existing, here, by_code, held, email_rule, headers)
            continue
        _match_new(row, by_email, by_upn, here, by_code, headers)
        if row.outcome == ADD and blank(row):
            row.clean["username"] = row.account["username"]  # shown in the preview: they keep it
        name = row.clean["username"]
        if row.outcome == CREATE and name and not username_free_for(holds, name.lower(), None):
            _fail(row, "username", f"the username {name} was released recently and is held; choose another", headers)
    _hold_possible_matches(school, [r for r in live if r.outcome == CREATE and r.clean["email"]], headers)


POSSIBLE_MATCH = (
    "an account of your organisation already has this email, perhaps the same person: add them with +Add, "
    "which asks whether they are, or give this person another email"
)


def _hold_possible_matches(school: School, creating: list[RowPlan], headers: HeaderMap) -> None:
    """Nothing merged silently, nothing duplicated silently: a new person whose email an account of the
    organisation already has (unverified, as typed emails are) is not created from a file, where nobody is
    asked. +Add and the sync preview ask. Found by trying it: a row with another school's Centre Admin's email
    made a second account holding that address."""
    if not creating:
        return
    taken = accounts_possibly_same(organisation_id=school.organisation_id, emails={r.clean["email"] for r in creating})
    for row in creating:
        if row.clean["email"].lower() in taken:
            _fail(row, "email", POSSIBLE_MATCH, headers)


EmailRule = Callable[[object], str | None]  # an account id -> why its email may not change, or None


def _email_rule(*, school: School, account: Account) -> EmailRule:
    """accounts.services.check_email_change for a whole file: the uploader's rights read once, and only if a row
    changes an email (whose roles the uploader may not act on is asked of accounts_out_of_reach afterwards).
    Worded for a cell: "only a Centre Admin can change an email address; leave the cell as it is or blank"."""
    refusals = action_refusals(actor=Actor(account=account, school=school), action=AccountAction.EMAIL)

    def refusal(target_id) -> str | None:
        reason = refusals(target_id)
        if not reason:
            return None
        cell = reason[0].lower() + reason[1:].rstrip(".")
        return cell if ";" in cell else f"{cell}; leave the cell as it is or blank"

    return refusal


def _same_person(row: RowPlan, existing: dict) -> bool:
    email, upn = row.clean["email"].lower(), row.clean["upn"]
    return bool((email and email == (existing["email"] or "").lower()) or (upn and upn == existing["upn"]))


def _match_by_username(row, existing, here, by_code, held, email_rule, headers) -> None:
    username = row.clean["username"]
    if existing["deleted_at"] is not None:
        return _fail(row, "username", f"{username} belonged to a deleted account; choose another username", headers)
    row.account = existing
    membership = here.get((existing["id"], row.clean["person_type"]))
    if membership is None:
        if not _same_person(row, existing):
            return _fail(row, "username", f"the username {username} is already taken by another account", headers)
        row.outcome = ADD
        row.message = f"{existing['username']} already has a Rollcall account: add this person to your school."
        return None
    row.membership = membership
    _diff_existing(row, by_code, held.get(membership["id"], set()), email_rule, headers)
    return None


def _match_new(row, by_email, by_upn, here, by_code, headers) -> None:
    clean = row.clean
    taken = by_code.get((clean["person_type"], clean["mis_code"])) if clean["mis_code"] else None
    if taken is not None:
        return _fail(
            row,
            "mis_code",
            f"MIS code {clean['mis_code']} already belongs to {taken['account__username']} here",
            headers,
        )
    matches = {a["id"]: a for a in by_email.get(clean["email"].lower(), []) if clean["email"]}
    matches |= {a["id"]: a for a in by_upn.get(clean["upn"], []) if clean["upn"]}
    if len(matches) > 1:
        return _fail(row, "email", "several accounts already use this email or UPN; add the person with +Add", headers)
    if matches:
        existing = next(iter(matches.values()))
        if (existing["id"], clean["person_type"]) in here:
            return _fail(row, "email", f"already registered at your school as {existing['username']}", headers)
        row.account, row.outcome = existing, ADD
        row.message = (
            f"Already registered as {existing['username']} at another school: add this person to your school "
            "(they keep their username and password)."
        )
    return None


def _diff_existing(
    row: RowPlan, by_code: dict, roles: set, email_rule: Callable[[object], str | None], headers: HeaderMap
) -> None:
    """What an update would change. A blank cell leaves the value as it is; nothing is ever cleared."""
    clean, account, membership = row.clean, row.account, row.membership
    for name in ACCOUNT_UPDATE_FIELDS:
        new, old = clean[name], account[name] or ""
        if new and (new.lower() != old.lower() if name == "email" else new != old):
            row.account_changes[name] = [old, new]
    if "email" in row.account_changes:
        refusal = email_rule(account["id"])
        if refusal:
            return _fail(row, "email", refusal, headers)
    for name in MEMBERSHIP_UPDATE_FIELDS:
        new, old = clean[name], membership[name] or ""
        if new and new != old:
            row.membership_changes[name] = [old, new]
    if "mis_code" in row.membership_changes:
        taken = by_code.get((clean["person_type"], clean["mis_code"]))
        if taken is not None and taken["id"] != membership["id"]:
            return _fail(
                row, "mis_code", f"MIS code {clean['mis_code']} belongs to {taken['account__username']} here", headers
            )
    row.roles_to_add = tuple(code for code in clean["roles"] if code not in roles)
    changed = row.account_changes or row.membership_changes or row.roles_to_add
    row.outcome = UPDATE if changed else UNCHANGED
    return None


def _apply_mode(rows: list[RowPlan], *, mode: str, add_existing: bool) -> None:
    for row in rows:
        if row.outcome == UPDATE and mode == UploadBatch.Mode.ADD_NEW:
            row.outcome, row.message = SKIP, "Already registered at your school; choose Add and update to change it."
        elif row.outcome in (CREATE, ADD) and mode == UploadBatch.Mode.UPDATE_ONLY:
            row.outcome, row.message = SKIP, "Not registered at your school; choose Add new only or Add and update."
        elif row.outcome == ADD and not add_existing:
            row.outcome = SKIP
            row.message = "Already has an account at another school; not added (you chose not to add them)."


def _refuse_out_of_reach(*, school: School, account: Account, rows: list[RowPlan], headers: HeaderMap) -> None:
    """accounts' rule (accounts.services.check_may_act_on_account) for the whole file in a query or two: a
    row may not change the account (names, email, UPN) or roles of someone holding a role, here or at another
    school, that the uploader may not grant. What the school holds (MIS code, year group) stays the school's.
    Checked after the mode, so a row the mode skips is not refused, and again when the apply plans afresh:
    someone may have become Centre Admin since."""
    touching = [
        row
        for row in rows
        if (row.outcome == UPDATE and (row.account_changes or row.roles_to_add))
        or (row.outcome == ADD and row.clean["roles"])
    ]
    if not touching:
        return
    # Changing names or email changes the account for every school it belongs to (ACCOUNT_WIDE_ACTIONS): those
    # rows need the uploader's rights wherever the person is; rows that only add roles here follow the roles rule.
    actor = Actor(account=account, school=school)
    account_wide = {row.account["id"] for row in touching if row.outcome == UPDATE and row.account_changes}
    out = accounts_out_of_reach(actor=actor, account_ids=account_wide, action=AccountAction.DETAILS)
    roles_only = {row.account["id"] for row in touching} - account_wide
    out |= accounts_out_of_reach(actor=actor, account_ids=roles_only, action=AccountAction.ROLES)
    if not out:
        return
    names = dict(Role.objects.values_list("code", "name"))
    for row in touching:
        held = out.get(row.account["id"])
        if not held:
            continue
        roles = sorted(names.get(c, c) for c in held if c != ELSEWHERE)
        message = OUT_OF_REACH_REFUSAL.format(roles=", ".join(roles)) if roles else ELSEWHERE_REFUSAL
        columns = list(row.account_changes) if row.outcome == UPDATE else []
        if row.outcome == ADD or row.roles_to_add:
            columns.append("roles")
        for name in columns:
            _fail(row, name, message, headers)
