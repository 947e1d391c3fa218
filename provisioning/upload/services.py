"""+Upload Users: receive a file, plan it against the registry, apply the plan as one job.

The plan is decided for the whole file at once (provisioning.upload.selectors fetches every match
in batches), so validating 10,000 rows costs a handful of queries. The apply writes in one
transaction with bulk inserts and updates, its audit events included: all or nothing.
"""

import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.audit import masked
from accounts.credentials import LINK_DAYS, keyed_hash, starter_codes_build
from accounts.models import Account, AuditEvent, Membership, RoleAssignment, SetPasswordLink, StarterCode
from accounts.permissions import Perm
from accounts.selectors import permissions_for, role_codes_for
from provisioning.models import UploadBatch
from provisioning.upload import selectors
from provisioning.upload.reader import Table, UploadRefused, gc_paused, read_upload
from provisioning.upload.validation import (
    COLUMN_BY_KEY,
    COLUMNS,
    SAMPLE_USERNAME,
    HeaderMap,
    Problem,
    RowContext,
    header_map,
    row_clean,
)
from tenancy.models import Job, School
from tenancy.services import job_progress, job_start, job_succeed

WRITE_BATCH = 500
CREDENTIALS_HOURS = 24

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
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def messages(self) -> str:
        parts = [str(p) for p in self.problems]
        if self.message:
            parts.insert(0, self.message)
        return "; ".join(parts)


@dataclass
class Plan:
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


# --- plan -----------------------------------------------------------------------------------
def _headers_or_refuse(table: Table) -> HeaderMap:
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
) -> Plan:
    """Decide what each row would do. Reads only; every lookup is batched over the whole file."""
    with gc_paused():
        return _plan(school=school, account=account, table=table, mode=mode, add_existing=add_existing, ctx=ctx)


def _plan(*, school, account, table, mode, add_existing, ctx) -> Plan:
    headers = _headers_or_refuse(table)
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
    _mark_duplicates(rows, headers)
    _match_registry(school=school, account=account, rows=rows, headers=headers)
    _apply_mode(rows, mode=mode, add_existing=add_existing)
    return Plan(rows=rows, headers=headers, mode=mode, add_existing=add_existing)


def _live(rows: list[RowPlan]) -> list[RowPlan]:
    return [r for r in rows if r.outcome not in (ERROR, SKIP)]


def _fail(row: RowPlan, column_key: str, message: str, headers: HeaderMap) -> None:
    label = headers.labels.get(column_key) or COLUMN_BY_KEY[column_key].label if column_key else ""
    row.problems.append(Problem(row.number, label, message))
    row.outcome = ERROR


def _mark_duplicates(rows: list[RowPlan], headers: HeaderMap) -> None:
    """The same username, or the same MIS code for one person type, twice in the file: both rows wait."""
    by_username, by_code = defaultdict(list), defaultdict(list)
    for row in _live(rows):
        by_username[row.clean["username"].lower()].append(row)
        if row.clean["mis_code"]:
            by_code[(row.clean["person_type"], row.clean["mis_code"])].append(row)
    groups = [(g, "username", "username") for g in by_username.values() if len(g) > 1]
    groups += [(g, "mis_code", "MIS code") for g in by_code.values() if len(g) > 1]
    for group, key, what in groups:
        numbers = ", ".join(str(r.number) for r in group)
        for row in group:
            _fail(row, key, f"{what} {row.clean[key]} appears more than once in the file (rows {numbers})", headers)


def _match_registry(*, school: School, account: Account, rows: list[RowPlan], headers: HeaderMap) -> None:
    live = _live(rows)
    by_username = selectors.accounts_by_username({r.clean["username"].lower() for r in live})
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
    email_rule = _EmailRule(school=school, account=account)
    for row in live:
        existing = by_username.get(row.clean["username"].lower())
        if existing is not None:
            _match_by_username(row, existing, here, by_code, held, email_rule, headers)
        else:
            _match_new(row, by_email, by_upn, here, by_code, headers)


class _EmailRule:
    """accounts.services.check_email_change, decided for a whole file with one query."""

    def __init__(self, *, school: School, account: Account):
        self.school, self.account = school, account
        self._loaded = False

    def refusal(self, target_id) -> str | None:
        if not self._loaded:
            self.may_edit = Perm.USERS_EDIT_EMAIL in permissions_for(school=self.school, account=self.account)
            self.is_centre_admin = "centre_admin" in role_codes_for(school=self.school, account=self.account)
            self.centre_admins = selectors.centre_admin_account_ids(school=self.school)
            self._loaded = True
        if not self.may_edit:
            return "only a Centre Admin can change an email address; leave the cell as it is or blank"
        if target_id == self.account.pk:
            return "a Centre Admin cannot change their own email address; ask another Centre Admin or support"
        if target_id in self.centre_admins and not self.is_centre_admin:
            return "only another Centre Admin can change a Centre Admin's email address"
        return None


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


def _diff_existing(row: RowPlan, by_code: dict, roles: set, email_rule: _EmailRule, headers: HeaderMap) -> None:
    """What an update would change. A blank cell leaves the value as it is; nothing is ever cleared."""
    clean, account, membership = row.clean, row.account, row.membership
    for name in ACCOUNT_UPDATE_FIELDS:
        new, old = clean[name], account[name] or ""
        if new and (new.lower() != old.lower() if name == "email" else new != old):
            row.account_changes[name] = [old, new]
    if "email" in row.account_changes:
        refusal = email_rule.refusal(account["id"])
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


# --- receive and preview ----------------------------------------------------------------------
def upload_receive(*, school: School, actor: Account, file_name: str, data: bytes) -> UploadBatch:
    """Check the file (refusing it with a clear reason), then keep it for the preview."""
    file_name = (file_name or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    table = read_upload(data, file_name)
    _headers_or_refuse(table)
    batch = UploadBatch(
        school=school, file_name=file_name, file_format=table.format, row_count=len(table.rows), created_by=actor
    )
    batch.file.save(f"{uuid.uuid4().hex}.{table.format}", ContentFile(data), save=False)
    batch.save()
    return batch


def batch_table(batch: UploadBatch) -> Table:
    with batch.file.open("rb") as handle:
        return read_upload(handle.read(), batch.file_name)


def upload_preview(
    *, school: School, account: Account, batch: UploadBatch, mode: str | None = None, add_existing: bool | None = None
) -> Plan:
    """The plan against the registry as it is now (the file is read again; nothing is cached)."""
    return upload_plan(
        school=school,
        account=account,
        table=batch_table(batch),
        mode=mode or batch.mode,
        add_existing=batch.add_existing if add_existing is None else add_existing,
    )


# --- apply ----------------------------------------------------------------------------------
@transaction.atomic
def upload_apply_start(
    *,
    school: School,
    actor: Account,
    batch: UploadBatch,
    mode: str,
    password_method: str,
    add_existing: bool,
    consent: bool,
) -> Job:
    """Record the consent acknowledgement (audited) and queue the apply as a background job."""
    from accounts.audit import audit_record
    from provisioning.upload.tasks import upload_apply

    if not consent:
        raise UploadRefused(
            "Tick the box to confirm you have each person's permission to create their account and use their email."
        )
    batch = UploadBatch.objects.select_for_update().get(school=school, pk=batch.pk)
    if batch.state != UploadBatch.State.PREVIEWED:
        raise UploadRefused("This upload has already been applied. Upload the file again to make a new preview.")
    if mode not in UploadBatch.Mode.values or password_method not in UploadBatch.PasswordMethod.values:
        raise UploadRefused("Choose what to do with the rows and how new people get their first password.")
    job = job_start(school=school, kind=Job.Kind.UPLOAD, actor=actor, params={"batch_id": str(batch.pk)},
                    task=upload_apply, total=batch.row_count)  # fmt: skip
    batch.mode, batch.password_method, batch.add_existing = mode, password_method, add_existing
    batch.consent_at, batch.state, batch.job = timezone.now(), UploadBatch.State.APPLYING, job
    batch.save(update_fields=["mode", "password_method", "add_existing", "consent_at", "state", "job"])
    audit_record(
        action="provisioning.upload.consent_acknowledged",
        actor=actor,
        school=school,
        target_type="upload",
        target_id=str(batch.pk),
        target_label=batch.file_name,
        job=job,
        changes={"consent": [None, "acknowledged"], "rows": [None, batch.row_count], "mode": [None, mode]},
    )
    return job


def upload_apply_run(job: Job) -> None:
    """The job's one service: plan again against the registry as it is now, then write it all or nothing."""
    batch = UploadBatch.objects.select_related("created_by").get(school=job.school, pk=job.params["batch_id"])
    try:
        with transaction.atomic():
            _apply_batch(job=job, batch=batch)
    except Exception:
        UploadBatch.objects.filter(school=job.school, pk=batch.pk).update(state=UploadBatch.State.FAILED)
        raise


def _apply_batch(*, job: Job, batch: UploadBatch) -> None:
    school, actor = job.school, batch.created_by
    plan = upload_preview(school=school, account=actor, batch=batch)
    job_progress(job, done=0, total=max(plan.writes, 1))
    writer = _Writer(school=school, actor=actor, job=job, password_method=batch.password_method)
    writer.write(plan)
    report = report_workbook(batch_table(batch), plan)
    if writer.credentials:
        batch.credentials.save(f"{uuid.uuid4().hex}.xlsx", ContentFile(credentials_workbook(writer.credentials)),
                               save=False)  # fmt: skip
        batch.credentials_expire_at = timezone.now() + timedelta(hours=CREDENTIALS_HOURS)
    batch.state = UploadBatch.State.APPLIED
    batch.save(update_fields=["state", "credentials", "credentials_expire_at"])
    counts = {OUTCOME_LABELS[k]: n for k, n in plan.counts.items() if n}
    writer.audit("provisioning.upload.applied", target_type="upload", target_id=str(batch.pk),
                 target_label=batch.file_name, changes={"counts": [None, counts]})  # fmt: skip
    writer.flush_audit()
    stem = batch.file_name.rsplit(".", 1)[0]
    job_succeed(job, counts=counts, report=report, report_name=f"{stem}-result.xlsx")
    if writer.invitations:
        invitations = list(writer.invitations)
        transaction.on_commit(lambda: send_invitations(school=school, invitations=invitations))


class _Writer:
    """Bulk writes for one apply. Query count grows with batches of WRITE_BATCH rows, not with rows."""

    def __init__(self, *, school: School, actor: Account, job: Job, password_method: str):
        self.school, self.actor, self.job, self.method = school, actor, job, password_method
        self.now = timezone.now()
        self.events: list[AuditEvent] = []
        self.credentials: list[dict] = []
        self.invitations: list[tuple[str, str, str]] = []
        self.done = 0

    def audit(self, action: str, *, account: Account | dict | None = None, changes: dict, **target) -> None:
        if account is not None:
            account_id = account["id"] if isinstance(account, dict) else account.pk
            username = account["username"] if isinstance(account, dict) else account.username
            target = {"target_type": "account", "target_id": str(account_id), "target_label": username}
        self.events.append(
            AuditEvent(
                action=action,
                actor=self.actor,
                actor_label=self.actor.username if self.actor else "",
                school=self.school,
                changes=masked(changes),
                job=self.job,
                at=self.now,
                **target,
            )  # fmt: skip
        )

    def flush_audit(self) -> None:
        AuditEvent.objects.bulk_create(self.events, batch_size=WRITE_BATCH)
        self.events = []

    def progress(self, n: int) -> None:
        self.done += n
        job_progress(self.job, done=self.done)

    def write(self, plan: Plan) -> None:
        created = self._create(plan.by_outcome(CREATE))
        self._add_existing(plan.by_outcome(ADD))
        self._update(plan.by_outcome(UPDATE))
        self._credentials(created)
        self.flush_audit()

    def _create(self, rows: list[RowPlan]) -> list[Account]:
        unusable = make_password(None)  # one unusable hash for all: it can never match any password
        accounts, memberships, roles = [], [], []
        for row in rows:
            c = row.clean
            account = Account(
                id=uuid.uuid4(), username=c["username"], given_name=c["given_name"], family_name=c["family_name"],
                email=c["email"], upn=c["upn"], home_school=self.school, must_change_password=True,
                password=unusable, date_joined=self.now,
            )  # fmt: skip
            accounts.append(account)
            membership = self._membership(account.pk, c)
            memberships.append(membership)
            roles += [self._role(membership.pk, code) for code in c["roles"]]
            self.audit("accounts.account.created", account=account, changes={
                "username": [None, account.username], "person_type": [None, c["person_type"]],
                "given_name": [None, account.given_name], "family_name": [None, account.family_name],
                "email": [None, account.email], "mis_code": [None, c["mis_code"]], "password": [None, "unusable"],
            })  # fmt: skip
            for code in c["roles"]:
                self.audit("accounts.role.assigned", account=account, changes={"role": [None, code]})
        for start in range(0, len(accounts), WRITE_BATCH):
            Account.objects.bulk_create(accounts[start : start + WRITE_BATCH])
            self.progress(len(accounts[start : start + WRITE_BATCH]))
        Membership.objects.bulk_create(memberships, batch_size=WRITE_BATCH)
        RoleAssignment.objects.bulk_create(roles, batch_size=WRITE_BATCH)
        return accounts

    def _membership(self, account_id, clean: dict) -> Membership:
        return Membership(
            id=uuid.uuid4(), school=self.school, account_id=account_id, person_type=clean["person_type"],
            mis_code=clean["mis_code"], year_group=clean["year_group"], form=clean["form"],
        )  # fmt: skip

    def _role(self, membership_id, code: str) -> RoleAssignment:
        return RoleAssignment(id=uuid.uuid4(), school=self.school, membership_id=membership_id, role_id=code,
                              granted_by=self.actor)  # fmt: skip

    def _add_existing(self, rows: list[RowPlan]) -> None:
        memberships, roles = [], []
        for row in rows:
            membership = self._membership(row.account["id"], row.clean)
            memberships.append(membership)
            roles += [self._role(membership.pk, code) for code in row.clean["roles"]]
            self.audit("accounts.membership.added", account=row.account, changes={
                "person_type": [None, row.clean["person_type"]], "mis_code": [None, row.clean["mis_code"]],
                "upload": [None, "add this person to your school"],
            })  # fmt: skip
            for code in row.clean["roles"]:
                self.audit("accounts.role.assigned", account=row.account, changes={"role": [None, code]})
        Membership.objects.bulk_create(memberships, batch_size=WRITE_BATCH)
        RoleAssignment.objects.bulk_create(roles, batch_size=WRITE_BATCH)
        self.progress(len(rows))

    def _update(self, rows: list[RowPlan]) -> None:
        accounts, memberships, roles = [], [], []
        account_fields, membership_fields = set(), set()
        for row in rows:
            if row.account_changes:
                account = Account(id=row.account["id"], **{k: row.account[k] for k in ACCOUNT_UPDATE_FIELDS})
                account.email_verified = row.account["email_verified"]
                for name, (_old, new) in row.account_changes.items():
                    setattr(account, name, new)
                if "email" in row.account_changes:
                    account.email_verified = False
                    account_fields.add("email_verified")
                account_fields |= set(row.account_changes)
                accounts.append(account)
                self.audit("accounts.account.updated", account=row.account, changes=row.account_changes)
            if row.membership_changes:
                membership = Membership(id=row.membership["id"], school=self.school,
                                        **{k: row.membership[k] for k in MEMBERSHIP_UPDATE_FIELDS})  # fmt: skip
                for name, (_old, new) in row.membership_changes.items():
                    setattr(membership, name, new)
                membership.updated_at = self.now
                membership_fields |= {*row.membership_changes, "updated_at"}
                memberships.append(membership)
                self.audit("accounts.membership.updated", account=row.account, changes=row.membership_changes)
            for code in row.roles_to_add:
                roles.append(self._role(row.membership["id"], code))
                self.audit("accounts.role.assigned", account=row.account, changes={"role": [None, code]})
        if accounts:
            Account.objects.bulk_update(accounts, sorted(account_fields), batch_size=WRITE_BATCH)
        if memberships:
            Membership.objects.bulk_update(memberships, sorted(membership_fields), batch_size=WRITE_BATCH)
        RoleAssignment.objects.bulk_create(roles, batch_size=WRITE_BATCH)
        self.progress(len(rows))

    def _credentials(self, created: list[Account]) -> None:
        """Starter codes on the credentials sheet; invitations for people with an email when chosen."""
        invite = self.method == UploadBatch.PasswordMethod.INVITATIONS
        by_link = [a for a in created if invite and a.email]
        by_code = [a for a in created if not (invite and a.email)]
        if by_code:
            rows, plain = starter_codes_build(school=self.school, accounts=by_code, job=self.job)
            StarterCode.objects.bulk_create(rows, batch_size=WRITE_BATCH)
            expires = rows[0].expires_at
            for account in by_code:
                self.credentials.append({"account": account, "code": plain[account.pk], "expires": expires})
                changes = {"starter_code": ["", "issued"], "expires_at": [None, expires.isoformat()]}
                self.audit("accounts.starter_code.issued", account=account, changes=changes)
        links = []
        for account in by_link:
            token = secrets.token_urlsafe(32)
            links.append(SetPasswordLink(
                id=uuid.uuid4(), school=self.school, account=account, purpose=SetPasswordLink.Purpose.INVITATION,
                token_hash=keyed_hash(token, purpose="set-password"), expires_at=self.now + timedelta(days=LINK_DAYS),
                job=self.job, created_at=self.now,
            ))  # fmt: skip
            self.invitations.append((account.email, account.full_name, token))
            self.audit("accounts.set_password_link.invitation", account=account, changes={"token": ["", "issued"]})
        SetPasswordLink.objects.bulk_create(links, batch_size=WRITE_BATCH)


def send_invitations(*, school: School, invitations: list[tuple[str, str, str]]) -> None:
    """Invitation emails, sent after the apply committed: a link, never a password."""
    from django.contrib.sites.models import Site
    from django.core.mail import get_connection, send_mass_mail
    from django.urls import reverse

    domain = Site.objects.get_current().domain
    notice = school.organisation.privacy_notice
    messages = []
    for email, name, token in invitations:
        link = f"https://{domain}{reverse('set_password_from_link', kwargs={'token': token})}"
        body = (
            f"Hello {name},\n\n{school.name} has created a Rollcall account for you.\n"
            f"Choose your password here (the link works once, for {LINK_DAYS} days):\n{link}\n"
        )
        if notice:
            body += f"\nPrivacy notice:\n{notice}\n"
        messages.append((f"Your Rollcall account at {school.name}", body, settings.DEFAULT_FROM_EMAIL, [email]))
    with get_connection() as connection:
        send_mass_mail(messages, connection=connection)


# --- workbooks ------------------------------------------------------------------------------
def neutralise(value):
    """A cell as it may safely be written to a spreadsheet: no formula, no character XML forbids."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def report_workbook(table: Table, plan: Plan, labels: dict[str, str] = OUTCOME_LABELS) -> bytes:
    """The uploaded rows given back with Outcome and Message columns, the faulty cells highlighted."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    bad = PatternFill("solid", fgColor="F8C9C4")
    warn = PatternFill("solid", fgColor="FCE8B2")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Users")
    width = len(table.header)
    by_number = {row.number: row for row in plan.rows}
    index_of = {label: plan.headers.positions[key] for key, label in plan.headers.labels.items()}
    for _ in range(table.header_row - 1):
        sheet.append([])
    header = [WriteOnlyCell(sheet, neutralise(h)) for h in (*table.header, "Outcome", "Message")]
    for cell in header:
        cell.font = Font(bold=True)
    sheet.append(header)
    next_number = table.header_row + 1
    for number, cells in table.rows:
        for _ in range(number - next_number):
            sheet.append([])
        next_number = number + 1
        row = by_number[number]
        fills = {}
        for problem in row.problems:
            if problem.column in index_of:
                fills[index_of[problem.column]] = (
                    warn if problem.warning and fills.get(index_of[problem.column]) is None else bad
                )
        values = list(cells) + [None] * (width - len(cells))
        out = []
        for index, value in enumerate(values[:width]):
            if index in fills:
                cell = WriteOnlyCell(sheet, neutralise(value))
                cell.fill = fills[index]
                out.append(cell)
            else:
                out.append(neutralise(value))
        out += [labels[row.outcome], neutralise(row.messages)]
        sheet.append(out)
    return _save(workbook)


def _save(workbook) -> bytes:
    import io

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def credentials_workbook(credentials: list[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Starter codes")
    sheet.append(["Username", "Given Names", "Family Name", "Email", "Starter code", "Expires"])
    for item in credentials:
        account = item["account"]
        sheet.append([neutralise(v) for v in (account.username, account.given_name, account.family_name,
                                              account.email, item["code"], f"{item['expires']:%d %b %Y}")])  # fmt: skip
    return _save(workbook)


def upload_credentials_purge(*, school: School | None = None) -> int:
    """Delete credentials sheets older than 24 hours: the starter codes then live only in people's hands."""
    qs = UploadBatch.objects.filter(credentials_expire_at__lte=timezone.now()).exclude(credentials="")
    if school is not None:
        qs = qs.filter(school=school)
    purged = 0
    for batch in qs:
        batch.credentials.delete(save=False)
        UploadBatch.objects.filter(school=batch.school, pk=batch.pk).update(credentials="")
        purged += 1
    return purged


def template_rows(*, ctx: RowContext, school: School) -> tuple[list[str], list[str]]:
    domain = ctx.email_domains[0] if ctx.email_domains else "example.sch.uk"
    role = next((ctx.role_labels[c] for c in ("eo", "slt", "inv") if c in ctx.grantable), "")
    sample = {
        "username": SAMPLE_USERNAME, "given_name": "Sam", "family_name": "Sample",
        "email": f"{SAMPLE_USERNAME}@{domain}", "person_type": "Staff", "roles": role,
        "mis_code": "", "year_group": "", "form": "", "upn": "",
    }  # fmt: skip
    header = [f"{c.label} *" if c.required else c.label for c in COLUMNS]
    return header, [sample[c.key] for c in COLUMNS]


def template_workbook(*, school: School, account: Account) -> bytes:
    """UserUploadTemplate.xlsx for this school and this person's grantable roles."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ctx = selectors.row_context(school=school, account=account)
    header, sample = template_rows(ctx=ctx, school=school)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Users"
    sheet.append(header)
    sheet.append(sample)
    keys = [c.key for c in COLUMNS]
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="FFFFFF" if column.required else "000000")
        cell.fill = PatternFill("solid", fgColor="1F4E8C" if column.required else "D6DBE4")
        sheet.column_dimensions[letter].width = max(14, len(column.label) + 4)
        if column.key in ("mis_code", "year_group", "upn"):
            for row in range(2, 1002):  # Text, so Excel keeps 007 and 10-11 as typed
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    type_list = DataValidation(type="list", formula1='"Student,Staff,Contact"', allow_blank=True)
    type_list.error, type_list.errorTitle = "Choose Student, Staff or Contact.", "Person Type"
    role_labels = [ctx.role_labels[c] for c in ctx.role_labels if c in ctx.grantable]
    # Several roles may be typed with commas, so a value outside the list only warns.
    role_list = DataValidation(type="list", formula1='"' + ",".join(role_labels) + '"', allow_blank=True,
                               errorStyle="warning")  # fmt: skip
    role_list.error = "Roles you may grant: " + ", ".join(role_labels)
    for validation, key in ((type_list, "person_type"), (role_list, "roles")):
        letter = get_column_letter(keys.index(key) + 1)
        validation.add(f"{letter}2:{letter}5001")
        sheet.add_data_validation(validation)
    notes = workbook.create_sheet("Instructions")
    notes.append(["UserUploadTemplate", f"for {school.name}"])
    notes["A1"].font = Font(bold=True, size=14)
    lines = [
        "Fill in one row per person on the Users sheet, save the file, and upload it with +Upload Users.",
        "Columns marked * are required. Delete the sample row (sample.person) before uploading.",
        f"Roles you may grant: {', '.join(role_labels) or 'none'}. Give EO to people who will create and manage "
        "user accounts; people acting only as invigilators get INV, which opens the Assessments area only.",
        "You must have each person's permission to create their account and use their email address, and have told "
        "them their information and assessment results are kept and may be shared with stakeholders.",
        "The nightly MIS sync (Bulk User Synchronise) is the preferred way to keep accounts up to date.",
    ]
    for line in lines:
        notes.append([line])
    notes.append([])
    notes.append(["Column", "Required", "What to enter"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        notes.append([column.label, "Yes" if column.required else "No", column.help])
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["C"].width = 110
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    return _save(workbook)


def template_csv(*, school: School, account: Account) -> bytes:
    import csv
    import io

    ctx = selectors.row_context(school=school, account=account)
    header, sample = template_rows(ctx=ctx, school=school)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow(sample)
    return "\ufeff".encode() + out.getvalue().encode()  # the BOM tells Excel it is UTF-8
