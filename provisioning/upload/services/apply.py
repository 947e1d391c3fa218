"""Apply a previewed file as one background job: one transaction, bulk writes, audit events included."""

import secrets
import uuid
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record, masked
from accounts.credentials import LINK_DAYS, keyed_hash, starter_codes_build
from accounts.models import Account, AuditEvent, Membership, RoleAssignment, SetPasswordLink, StarterCode
from accounts.services import account_created_changes, set_password_email, site_url
from provisioning.models import UploadBatch
from provisioning.upload.reader import UploadRefused
from provisioning.upload.services.plan import (
    ACCOUNT_UPDATE_FIELDS,
    ADD,
    CREATE,
    MEMBERSHIP_UPDATE_FIELDS,
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
        invitations, base_url = list(writer.invitations), job.params.get("base_url", "")
        transaction.on_commit(lambda: send_invitations(school=school, invitations=invitations, base_url=base_url))


class _Writer:
    """Bulk writes for one apply. Query count grows with batches of WRITE_BATCH rows, not with rows."""

    def __init__(self, *, school: School, actor: Account, job: Job, password_method: str):
        self.school, self.actor, self.job, self.method = school, actor, job, password_method
        self.now = timezone.now()
        self.events: list[AuditEvent] = []
        self.credentials: list[dict] = []
        self.invitations: list[tuple[Account, str]] = []
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

    def write(self, plan: UploadPlan) -> None:
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
            self.audit("accounts.account.created", account=account, changes=account_created_changes(
                username=account.username, person_type=c["person_type"], given_name=account.given_name,
                family_name=account.family_name, email=account.email, mis_code=c["mis_code"], password="unusable",
            ))  # fmt: skip
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
            self.invitations.append((account, token))
            self.audit("accounts.set_password_link.invitation", account=account, changes={"token": ["", "issued"]})
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


def upload_credentials_purge(*, school: School | None = None) -> int:
    """Delete credentials sheets older than 24 hours: the starter codes then live only in people's hands."""
    qs = UploadBatch.objects.filter(credentials_expire_at__lte=timezone.now()).exclude(credentials="")
    if school is not None:
        qs = qs.filter(school=school)
    purged = 0
    for batch in qs:
        batch.credentials.delete(save=False)
        UploadBatch.objects.filter(school=batch.school, pk=batch.pk).update(credentials="")
        erasure_record(school=batch.school, kind=ErasureRecord.Kind.STARTER_CODES, reason="expired")
        purged += 1
    return purged
