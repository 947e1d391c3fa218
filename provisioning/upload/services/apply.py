"""Apply a previewed file as one background job: one transaction, bulk writes, audit events included."""

import secrets
import uuid
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record, masked
from accounts.credentials import LINK_DAYS, keyed_hash
from accounts.models import Account, AuditEvent, Membership, SetPasswordLink
from accounts.services import account_created_changes, set_password_email, site_url
from provisioning.models import UploadBatch
from provisioning.sync.apply import insert_accounts, insert_memberships, insert_roles, insert_starter_codes
from provisioning.sync.bulk import checks_aside, collector_paused, insert_rows, new_ids, rows_stored, update_rows
from provisioning.upload.reader import UploadRefused
from provisioning.upload.services.plan import (
    ADD,
    CREATE,
    OUTCOME_LABELS,
    UPDATE,
    RowPlan,
    UploadPlan,
)
from provisioning.upload.services.preview import batch_table, upload_preview
from provisioning.upload.services.workbooks import credentials_workbook, report_workbook
from tenancy.models import ErasureRecord, Job, School
from tenancy.services import erasure_record, job_progress, job_start, job_succeed

WRITE_BATCH = 500
CREDENTIALS_HOURS = 24
AUDIT_FIELDS = ["id", "action", "target_type", "target_id", "target_label", "changes", "at", "actor_id",
                "actor_label", "school_id", "job_id"]  # fmt: skip


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
    base_url: str = "",
) -> Job:
    """Record the consent acknowledgement (audited) and queue the apply as a background job.

    base_url: the address the uploader is using (scheme and host), for the links in invitation emails."""
    from provisioning.upload.tasks import upload_apply  # cycle: the task module imports these services

    if not consent:
        raise UploadRefused(
            "Tick the box to confirm you have each person's permission to create their account and use their email."
        )
    batch = UploadBatch.objects.select_for_update().get(school=school, pk=batch.pk)
    if batch.state != UploadBatch.State.PREVIEWED:
        raise UploadRefused("This upload has already been applied. Upload the file again to make a new preview.")
    if mode not in UploadBatch.Mode.values or password_method not in UploadBatch.PasswordMethod.values:
        raise UploadRefused("Choose what to do with the rows and how new people get their first password.")
    params = {"batch_id": str(batch.pk), "base_url": base_url}
    job = job_start(school=school, kind=Job.Kind.UPLOAD, actor=actor, params=params, task=upload_apply,
                    total=batch.row_count)  # fmt: skip
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
    committed = not transaction.get_connection().in_atomic_block  # the job, batch and actor: others see them
    try:
        # The foreign-key checks of each write run on the database while Python builds the next one, the
        # audit events and the two workbooks (bulk.checks_aside), not all at the commit: 0.9 s of a
        # 10,000-person apply's 4 s, the last of them now beside the report and credentials workbooks.
        with collector_paused(), transaction.atomic(), checks_aside():
            _apply_batch(job=job, batch=batch, committed=committed)
    except Exception:
        UploadBatch.objects.filter(school=job.school, pk=batch.pk).update(state=UploadBatch.State.FAILED)
        raise


# Audit events of an apply written on a connection of their own from this many (bulk.rows_stored): a
# 10,000-person upload's 30,000 events and their checks, while this transaction builds its two workbooks.
AUDIT_ASIDE_MIN = 5_000


def _apply_batch(*, job: Job, batch: UploadBatch, committed: bool = False) -> None:
    school, actor = job.school, batch.created_by
    table = batch_table(batch)  # read once: the plan and the report both need it
    plan = upload_preview(school=school, account=actor, batch=batch, table=table)
    job_progress(job, done=0, total=max(plan.writes, 1))
    writer = _Writer(school=school, actor=actor, job=job, password_method=batch.password_method)
    writer.write(plan)
    # The events refer only to the school, the job and the person applying, all committed before the job ran.
    with rows_stored(AuditEvent, *writer.audit_rows(), committed=committed, aside_from=AUDIT_ASIDE_MIN):
        report = report_workbook(table, plan)
        if writer.credentials:
            batch.credentials.save(f"{uuid.uuid4().hex}.xlsx",
                                   ContentFile(credentials_workbook(writer.credentials)), save=False)  # fmt: skip
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
        invitations, base_url = list(writer.invitations), job.params.get("base_url", "")
        transaction.on_commit(lambda: send_invitations(school=school, invitations=invitations, base_url=base_url))


class _Writer:
    """Set-based writes for one apply, with the MIS sync's writers of new people (provisioning.sync.apply):
    one statement per table (COPY on PostgreSQL), so the query count does not grow with rows at all."""

    def __init__(self, *, school: School, actor: Account, job: Job, password_method: str):
        self.school, self.actor, self.job, self.method = school, actor, job, password_method
        self.now = timezone.now()
        self.events: list[tuple] = []
        self.credentials: list[dict] = []
        self.invitations: list[tuple[Account, str]] = []
        self.done = 0

    def audit(self, action: str, *, account: tuple | None = None, changes: dict, **target) -> None:
        """One event, written with the others by flush_audit. account: (id, username)."""
        if account is not None:
            target = {"target_type": "account", "target_id": str(account[0]), "target_label": account[1]}
        self.events.append((action, target["target_type"], target["target_id"], target["target_label"],
                            masked(changes)))  # fmt: skip

    def audit_rows(self) -> tuple[list[str], list[tuple]]:
        """(fields, rows) of the events so far, as accounts.audit writes them (the same columns, secrets
        masked): accounts.audit's own writers make a model object per event, which costs more than the write.
        The events are handed over: the writer starts a new list."""
        ids = new_ids(len(self.events))
        same = (self.now, self.actor.pk if self.actor else None, self.actor.username if self.actor else "",
                self.school.pk, self.job.pk)  # fmt: skip
        rows = [(pk, *event, *same) for pk, event in zip(ids, self.events, strict=True)]
        self.events = []
        return AUDIT_FIELDS, rows

    def flush_audit(self) -> None:
        """The events so far, written in one statement."""
        insert_rows(AuditEvent, *self.audit_rows())

    def progress(self, n: int) -> None:
        self.done += n
        job_progress(self.job, done=self.done)

    def write(self, plan: UploadPlan) -> None:
        """Every row of the plan; its audit events are kept for audit_rows (or flush_audit)."""
        created = self._create(plan.by_outcome(CREATE))
        self._add_existing(plan.by_outcome(ADD))
        self._update(plan.by_outcome(UPDATE))
        self._credentials(created)

    def _create(self, rows: list[RowPlan]) -> list[tuple]:
        """New accounts, memberships and roles; returns ACCOUNT_INSERT tuples of the accounts."""
        accounts, memberships, grants = [], [], []
        for row, pk, membership_id in zip(rows, new_ids(len(rows)), new_ids(len(rows)), strict=True):
            c = row.clean
            accounts.append((pk, c["username"], c["given_name"], c["family_name"], c["email"], c["upn"]))
            memberships.append(self._membership(membership_id, pk, c))
            grants += [(membership_id, code) for code in c["roles"]]
            account = (pk, c["username"])
            self.audit("accounts.account.created", account=account, changes=account_created_changes(
                username=c["username"], person_type=c["person_type"], given_name=c["given_name"],
                family_name=c["family_name"], email=c["email"], mis_code=c["mis_code"], password="unusable",
            ))  # fmt: skip
            for code in c["roles"]:
                self.audit("accounts.role.assigned", account=account, changes={"role": [None, code]})
        # One unusable password for all (it can never match any password); a starter code or link comes next.
        insert_accounts(self.school, accounts, self.now, password=make_password(None), must_change=True)
        insert_memberships(self.school, memberships, self.now)
        insert_roles(self.school, grants, self.now, granted_by=self.actor)
        self.progress(len(rows))
        return accounts

    @staticmethod
    def _membership(membership_id, account_id, clean: dict) -> tuple:
        """A MEMBERSHIP_INSERT row: portal access is the MIS's flag, which an upload never sets."""
        return (membership_id, account_id, clean["person_type"], clean["mis_code"], clean["year_group"],
                clean["form"], False)  # fmt: skip

    def _add_existing(self, rows: list[RowPlan]) -> None:
        memberships, grants = [], []
        for row, membership_id in zip(rows, new_ids(len(rows)), strict=True):
            memberships.append(self._membership(membership_id, row.account["id"], row.clean))
            grants += [(membership_id, code) for code in row.clean["roles"]]
            account = (row.account["id"], row.account["username"])
            self.audit("accounts.membership.added", account=account, changes={
                "person_type": [None, row.clean["person_type"]], "mis_code": [None, row.clean["mis_code"]],
                "upload": [None, "add this person to your school"],
            })  # fmt: skip
            for code in row.clean["roles"]:
                self.audit("accounts.role.assigned", account=account, changes={"role": [None, code]})
        insert_memberships(self.school, memberships, self.now)
        insert_roles(self.school, grants, self.now, granted_by=self.actor)
        self.progress(len(rows))

    def _update(self, rows: list[RowPlan]) -> None:
        account_changes, membership_changes, grants = [], [], []
        for row in rows:
            account = (row.account["id"], row.account["username"])
            if row.account_changes:
                values = {name: new for name, (_old, new) in row.account_changes.items()}
                if "email" in values:
                    values["email_verified"] = False
                account_changes.append((row.account["id"], values))
                self.audit("accounts.account.updated", account=account, changes=row.account_changes)
            if row.membership_changes:
                values = {name: new for name, (_old, new) in row.membership_changes.items()}
                membership_changes.append((row.membership["id"], {**values, "updated_at": self.now}))
                self.audit("accounts.membership.updated", account=account, changes=row.membership_changes)
            for code in row.roles_to_add:
                grants.append((row.membership["id"], code))
                self.audit("accounts.role.assigned", account=account, changes={"role": [None, code]})
        update_rows(Account, account_changes)
        update_rows(Membership, membership_changes)
        insert_roles(self.school, grants, self.now, granted_by=self.actor)
        self.progress(len(rows))

    def _credentials(self, created: list[tuple]) -> None:
        """Starter codes on the credentials sheet; invitations for people with an email when chosen."""
        invite = self.method == UploadBatch.PasswordMethod.INVITATIONS
        by_link = [a for a in created if invite and a[4]]
        by_code = [a for a in created if not (invite and a[4])]
        if by_code:
            codes, expires = insert_starter_codes(self.school, [a[0] for a in by_code], self.now, self.job)
            changes = {"starter_code": ["", "issued"], "expires_at": [None, expires.isoformat()]}
            for (pk, username, given_name, family_name, email, _upn), (_pk, code) in zip(by_code, codes, strict=True):
                self.credentials.append({"username": username, "given_name": given_name, "family_name": family_name,
                                         "email": email, "code": code, "expires": expires})  # fmt: skip
                self.audit("accounts.starter_code.issued", account=(pk, username), changes=changes)
        links = []
        for pk, username, given_name, family_name, email, _upn in by_link:
            token = secrets.token_urlsafe(32)
            links.append(SetPasswordLink(
                id=uuid.uuid4(), school=self.school, account_id=pk, purpose=SetPasswordLink.Purpose.INVITATION,
                token_hash=keyed_hash(token, purpose="set-password"), expires_at=self.now + timedelta(days=LINK_DAYS),
                job=self.job, created_at=self.now,
            ))  # fmt: skip
            account = Account(id=pk, username=username, given_name=given_name, family_name=family_name, email=email,
                              home_school=self.school)  # fmt: skip
            self.invitations.append((account, token))
            changes = {"token": ["", "issued"]}
            self.audit("accounts.set_password_link.invitation", account=(pk, username), changes=changes)
        SetPasswordLink.objects.bulk_create(links, batch_size=WRITE_BATCH)


def send_invitations(*, school: School, invitations: list[tuple[Account, str]], base_url: str = "") -> None:
    """Invitation emails (accounts.services.set_password_email), sent after the apply committed, over one
    connection: a link, never a password."""
    from django.core.mail import get_connection
    from django.urls import reverse

    messages = [
        set_password_email(
            school=school,
            account=account,
            purpose=SetPasswordLink.Purpose.INVITATION,
            url=site_url(reverse("set_password_from_link", kwargs={"token": token}), base_url),
            base_url=base_url,
        )
        for account, token in invitations
    ]
    with get_connection() as connection:
        connection.send_messages(messages)


def upload_credentials_purge_candidates(school: School | None, *, now=None):
    """The batches whose credentials sheet is past its 24 hours (of one school, or of every school)."""
    qs = UploadBatch.objects.filter(credentials_expire_at__lte=now or timezone.now()).exclude(credentials="")
    return qs.filter(school=school) if school is not None else qs


def upload_credentials_purge(*, school: School | None = None) -> int:
    """Delete credentials sheets older than 24 hours: the starter codes then live only in people's hands."""
    purged = 0
    for batch in upload_credentials_purge_candidates(school):
        batch.credentials.delete(save=False)
        UploadBatch.objects.filter(school=batch.school, pk=batch.pk).update(credentials="")
        erasure_record(school=batch.school, kind=ErasureRecord.Kind.STARTER_CODES, reason="expired")
        purged += 1
    return purged
