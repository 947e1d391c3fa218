"""Account Manager writes: Revoke Access, Send Welcome Email, Re-issue Starter Code.

Revoke Access and Send Welcome Email are background jobs. Starting one writes a ContactJobItem per
person ("pending"); the job then works in batches of BATCH_SIZE, each claimed with a conditional UPDATE
(pending -> working) so a redelivered or re-run task never sends a second email nor revokes twice.
Every batch costs a fixed number of queries, and a batch of emails goes over one SMTP connection.
"""

import logging
import secrets
import smtplib

from allauth.socialaccount.models import SocialAccount
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat, Replace
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.audit import audit_record, audit_record_many
from accounts.credentials import set_password_links_issue_many, starter_code_issue
from accounts.extensions import sign_in_ended
from accounts.models import Account, Membership, PersonType, SetPasswordLink, StarterCode
from accounts.permissions import AccountAction
from accounts.services import Actor, accounts_out_of_reach, set_password_email, site_url, usernames_hold
from provisioning.contacts import selectors
from provisioning.contacts.selectors import ContactStatus, PersonStatus
from provisioning.models import ContactJobItem
from tenancy.models import Job, School
from tenancy.services import job_progress, job_start, job_succeed

log = logging.getLogger(__name__)

BATCH_SIZE = 100
REVOKE_WARNING_OVER = 1000
STARTER_CODE_LIMIT = 500
Outcome = ContactJobItem.Outcome
# Starts with "!", so Django treats it as an unusable password: nothing can sign in with it.
REVOKED_PASSWORD = "!revoked-by-account-manager"


def revoke_warning(count: int) -> str:
    """The seed's warning for a large revoke; the admin must type the number to go on."""
    return (
        f"You are about to revoke access for {count:,} accounts. A number this large (over 1,000) usually "
        "means a portal-access flag was changed: check whether changes were made to the contact type that "
        "the Parent portal access flag is associated with before you go on."
    )


# --- Whom the actor may act on ---------------------------------------------------------------------

OUT_OF_REACH = (
    "they hold roles you may not grant, here or at another school (or, for a starter code, also belong to another "
    "school where you have no rights)"
)


def in_reach(*, school: School, actor: Account, memberships: list[Membership], action=None) -> tuple[list, list]:
    """(those the actor may act on, those left out): accounts.services' rule for a whole selection, in a
    query or two. A bulk action never touches someone whose roles the actor may not grant, and says so."""
    out = accounts_out_of_reach(
        actor=Actor(account=actor, school=school), account_ids={m.account_id for m in memberships}, action=action
    )
    if not out:
        return list(memberships), []
    return [m for m in memberships if m.account_id not in out], [m for m in memberships if m.account_id in out]


def _refuse_all_left_out(left_out: list) -> None:
    raise ValidationError(
        f"You may not act on the selected {'person' if len(left_out) == 1 else 'people'}: {OUT_OF_REACH}."
    )


# --- Starting the jobs ---------------------------------------------------------------------------


def revoke_start(*, school: School, actor: Account, memberships: list[Membership], confirm_count: int | None) -> Job:
    """Start Revoke Access for the contacts among `memberships` that are Ready to Revoke Access.

    Over 1,000 needs confirm_count equal to the number (the admin typed it).
    """
    from provisioning.contacts.tasks import contacts_revoke  # cycle: the task module imports these services

    targets = [
        m for m in memberships if m.person_type == PersonType.CONTACT and m.state == ContactStatus.READY_TO_REVOKE
    ]
    if not targets:
        raise ValidationError("None of the selected people is Ready to Revoke Access.")
    targets, left_out = in_reach(school=school, actor=actor, memberships=targets)
    if not targets:
        _refuse_all_left_out(left_out)
    if len(targets) > REVOKE_WARNING_OVER and confirm_count != len(targets):
        raise ValidationError(f"{revoke_warning(len(targets))} Type {len(targets)} to go on.")
    reasons = selectors.revoke_reasons(school=school, contacts=targets)
    with transaction.atomic():
        job = job_start(school=school, kind=Job.Kind.REVOKE, actor=actor, task=contacts_revoke, total=len(targets))
        ContactJobItem.objects.bulk_create(
            [
                ContactJobItem(
                    school=school,
                    job=job,
                    kind=Job.Kind.REVOKE,
                    membership=m,
                    username=m.account.username,
                    reason=reasons[m.pk].reason if m.pk in reasons else m.reason,
                )
                for m in targets
            ]
        )
        audit_record(
            action="provisioning.revoke.started",
            actor=actor,
            school=school,
            target_type="job",
            target_id=str(job.pk),
            target_label="Revoke Access",
            changes={"contacts": [None, len(targets)], **({"left_out": [None, len(left_out)]} if left_out else {})},
            job=job,
        )
    job.left_out = len(left_out)
    return job


def welcome_email_start(*, school: School, actor: Account, memberships: list[Membership], base_url: str) -> Job:
    """Start Send Welcome Email for the selection. Contacts must be Ready to Provision or Active
    (Active ones get a sign-in reminder); students and staff must still be at the school."""
    from provisioning.contacts.tasks import contacts_welcome_email  # cycle: the task module imports these services

    targets = [m for m in memberships if may_receive_welcome(m)]
    if not targets:
        raise ValidationError(
            "None of the selected people can be sent a Welcome Email: contacts must be Ready to Provision or "
            "Active, students and staff must not have left."
        )
    targets, left_out = in_reach(school=school, actor=actor, memberships=targets)
    if not targets:
        _refuse_all_left_out(left_out)
    with transaction.atomic():
        job = job_start(
            school=school,
            kind=Job.Kind.WELCOME_EMAIL,
            actor=actor,
            params={"base_url": base_url.rstrip("/")},
            task=contacts_welcome_email,
            total=len(targets),
        )
        ContactJobItem.objects.bulk_create(
            [
                ContactJobItem(school=school, job=job, kind=Job.Kind.WELCOME_EMAIL, membership=m, email=m.account.email)
                for m in targets
            ]
        )
        audit_record(
            action="provisioning.welcome_email.started",
            actor=actor,
            school=school,
            target_type="job",
            target_id=str(job.pk),
            target_label="Send Welcome Email",
            changes={"people": [None, len(targets)], **({"left_out": [None, len(left_out)]} if left_out else {})},
            job=job,
        )
    job.left_out = len(left_out)
    return job


def may_receive_welcome(m: Membership) -> bool:
    """Who Send Welcome Email goes to (the screen and the job ask the same question)."""
    if m.person_type == PersonType.CONTACT:
        # A revoked account has no username left to sign in with: it needs a new one (from the sync) first.
        return m.state in (ContactStatus.READY_TO_PROVISION, ContactStatus.ACTIVE) and m.account.is_active
    return m.state not in (PersonStatus.LEFT, PersonStatus.ARCHIVED) and m.account.is_active


# --- Running them (the tasks call these through tenancy.tasks.run_school_job) --------------------


def _pending_batches(job: Job):
    """The ids of this job's items still pending, in batches."""
    pending = list(
        ContactJobItem.objects.filter(school=job.school, job=job, outcome=Outcome.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for start in range(0, len(pending), BATCH_SIZE):
        yield pending[start : start + BATCH_SIZE]


def _claim(job: Job, ids: list) -> list[ContactJobItem]:
    """Claim a batch with a conditional UPDATE (pending -> working): items another run already claimed
    or finished are not returned, so nothing is done twice."""
    token = f"claim:{secrets.token_hex(8)}"
    ContactJobItem.objects.filter(school=job.school, id__in=ids, outcome=Outcome.PENDING).update(
        outcome=Outcome.WORKING, detail=token, updated_at=timezone.now()
    )
    claimed = list(
        ContactJobItem.objects.filter(school=job.school, id__in=ids, detail=token).select_related("membership__account")
    )
    for item in claimed:
        item._start_email, item._start_username = item.email, item.username
        item.detail = ""  # the claim token is not a detail anyone should read
    return claimed


def _finish(job: Job, items: list[ContactJobItem], done: int) -> int:
    """Record the batch's outcomes: one UPDATE per distinct outcome (usually one or two), not per row.

    The address and username were recorded when the job started; a row whose account changed since
    is written on its own.
    """
    now = timezone.now()
    groups: dict[tuple, list] = {}
    for item in items:
        if item.email != item._start_email or item.username != item._start_username:
            ContactJobItem.objects.filter(school=job.school, pk=item.pk).update(
                outcome=item.outcome, detail=item.detail, email=item.email, username=item.username, updated_at=now
            )
        else:
            groups.setdefault((item.outcome, item.detail), []).append(item.pk)
    for (outcome, detail), ids in groups.items():
        ContactJobItem.objects.filter(school=job.school, pk__in=ids).update(
            outcome=outcome, detail=detail, updated_at=now
        )
    done += len(items)
    job_progress(job, done=done)
    return done


def _counts(job: Job) -> dict:
    counts = {}
    for outcome in ContactJobItem.objects.filter(school=job.school, job=job).values_list("outcome", flat=True):
        label = Outcome(outcome).label
        counts[label] = counts.get(label, 0) + 1
    return counts


def revoke_run(job: Job) -> None:
    """Remove the username and password of each contact still Ready to Revoke Access.

    The account is kept (its record and history), but cannot sign in: no username (released and held
    for 365 days), no password, no starter code, link or linked sign-in, is_active off, sessions ended.
    An account still in use elsewhere (staff here, or at another school) keeps its sign-in; only its
    parent access here ends.
    """
    school = job.school
    done = ContactJobItem.objects.filter(school=school, job=job).exclude(outcome=Outcome.PENDING).count()
    ended_accounts = []
    for ids in _pending_batches(job):
        # Claim, revoke and record in one transaction: a crash undoes all three, and a re-run then
        # finds the batch pending again (revoking is checked against the contact's state, so safe).
        with transaction.atomic():
            items = _claim(job, ids)
            if items:
                ended_accounts += _revoke_batch(job, items)
                done = _finish(job, items, done)
    _end_sessions(ended_accounts)
    job_succeed(job, counts=_counts(job))


def _revoke_batch(job: Job, items: list[ContactJobItem]) -> list:
    school = job.school
    states = {
        m.pk: m for m in selectors.contacts_with_state(school=school).filter(id__in=[i.membership_id for i in items])
    }
    revoking = []
    for item in items:
        current = states.get(item.membership_id)
        if current is None or current.state != ContactStatus.READY_TO_REVOKE:
            label = ContactStatus(current.state).label if current else "removed"
            item.outcome, item.detail = Outcome.SKIPPED, f"No longer Ready to Revoke Access (now {label})."
        else:
            revoking.append(item)
    if not revoking:
        return []
    accounts = {item.membership.account_id: item.membership.account for item in revoking}
    kept = _accounts_in_use_elsewhere(
        school=school, account_ids=list(accounts), except_ids=[i.membership_id for i in revoking]
    )
    ended = [a for pk, a in accounts.items() if pk not in kept]
    now = timezone.now()
    old_usernames = {a.pk: a.username for a in accounts.values()}
    # One UPDATE for the batch: the username becomes "revoked-<account id>" (unique, and the old name is
    # free for someone else after its hold), the password unusable, the login disabled.
    Account.objects.filter(pk__in=[a.pk for a in ended]).update(
        username=Concat(Value("revoked-"), Replace(Cast("id", output_field=CharField()), Value("-"), Value(""))),
        password=Value(REVOKED_PASSWORD),
        is_active=False,
    )
    usable = {"used_at__isnull": True, "revoked_at__isnull": True}
    StarterCode.objects.filter(school=school, account__in=ended, **usable).update(revoked_at=now)
    SetPasswordLink.objects.filter(school=school, account__in=ended, **usable).update(revoked_at=now)
    SocialAccount.objects.filter(user__in=ended).delete()
    usernames_hold(released=[(old_usernames[a.pk], a.pk) for a in ended], now=now)
    for item in revoking:
        item.outcome = Outcome.REVOKED
        item.username = old_usernames[item.membership.account_id]
        item.detail = "" if item.membership.account_id not in kept else "Sign-in kept for the account's other roles."
    audit_record_many(
        action="accounts.account.access_revoked",
        actor=job.created_by,
        school=school,
        job=job,
        targets=[
            (
                item.membership.account,
                {
                    "username": [item.username, None if item.membership.account_id not in kept else item.username],
                    "password": ["set", "removed"] if item.membership.account_id not in kept else ["set", "kept"],
                    "reason": [None, item.reason],
                    "contact_mis_code": [None, item.membership.mis_code],
                },
            )
            for item in revoking
        ],
    )
    sign_in_ended(account_ids=[a.pk for a in ended], actor=job.created_by, reason="access revoked")
    return [a.pk for a in ended]


def _accounts_in_use_elsewhere(*, school: School, account_ids: list, except_ids: list) -> set:
    """Accounts with another current membership (any school): revoking this contact must not lock a
    teacher out of their staff sign-in. Reads only whether such memberships exist."""
    with scopes_disabled():
        return set(
            Membership.objects.filter(
                account_id__in=account_ids, status__in=[Membership.Status.ACTIVE, Membership.Status.LEFT]
            )
            .exclude(id__in=except_ids)
            .exclude(school=school, person_type=PersonType.CONTACT)
            .values_list("account_id", flat=True)
        )


def _end_sessions(account_ids: list) -> None:
    """Delete the sessions of revoked accounts, so they end at once (AccountStateMiddleware would also
    sign them out on their next request, as the account is no longer active). One pass over live sessions."""
    if not account_ids:
        return
    wanted = {str(pk) for pk in account_ids}
    doomed = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=2000)
        if str(session.get_decoded().get("_auth_user_id")) in wanted
    ]
    for start in range(0, len(doomed), 1000):
        Session.objects.filter(session_key__in=doomed[start : start + 1000]).delete()


def welcome_email_run(job: Job) -> None:
    """Send each person a Welcome Email with a new single-use set-password link (never a password).

    Each batch: the claimed people are checked again, their links issued in bulk, and the emails sent
    over ONE SMTP connection; each outcome (sent, or failed with the reason) is recorded.
    """
    school = job.school
    base_url = job.params.get("base_url", "")
    done = ContactJobItem.objects.filter(school=school, job=job).exclude(outcome=Outcome.PENDING).count()
    for ids in _pending_batches(job):
        # The claim commits before anything is sent: after a crash mid-batch those people stay
        # "In progress" rather than risk a second email (at most once).
        items = _claim(job, ids)
        if items:
            _welcome_batch(job, items, base_url=base_url)
            done = _finish(job, items, done)
    job_succeed(job, counts=_counts(job))


def _current_rows(school: School, items: list[ContactJobItem]) -> dict:
    by_type = {}
    for item in items:
        by_type.setdefault(item.membership.person_type, []).append(item.membership_id)
    rows = {}
    for person_type, ids in by_type.items():
        for m in selectors.account_manager_list(school=school, person_type=person_type).filter(id__in=ids):
            rows[m.pk] = m
    return rows


def _welcome_batch(job: Job, items: list[ContactJobItem], *, base_url: str) -> None:
    school = job.school
    rows = _current_rows(school, items)
    sending = []
    for item in items:
        m = rows.get(item.membership_id)
        account = item.membership.account
        item.email = account.email
        if m is None or not may_receive_welcome(m):
            item.outcome, item.detail = Outcome.SKIPPED, "No longer Ready to Provision or Active."
        elif not account.email:
            item.outcome, item.detail = Outcome.FAILED, "No email address."
        else:
            sending.append((item, m))
    paths = set_password_links_issue_many(
        school=school, accounts=[m.account for _, m in sending], purpose="welcome", actor=job.created_by, job=job
    )
    messages = [
        (
            item,
            _welcome_message(
                school=school, membership=m, url=site_url(paths[m.account_id], base_url), base_url=base_url
            ),
        )
        for item, m in sending
    ]
    _send_over_one_connection(messages)
    audit_record_many(
        action="accounts.welcome_email.sent",
        actor=job.created_by,
        school=school,
        job=job,
        targets=[(item.membership.account, {"welcome_email": [None, item.outcome]}) for item, _ in sending],
    )


def _welcome_message(*, school: School, membership: Membership, url: str, base_url: str) -> EmailMultiAlternatives:
    reminder = membership.person_type == PersonType.CONTACT and membership.state == ContactStatus.ACTIVE
    return set_password_email(school=school, account=membership.account, purpose=SetPasswordLink.Purpose.WELCOME,
                              url=url, base_url=base_url, reminder=reminder)  # fmt: skip


def _send_over_one_connection(messages: list[tuple[ContactJobItem, EmailMultiAlternatives]]) -> None:
    """One SMTP connection for the batch; each message sent on it so one refused address fails alone."""
    if not messages:
        return
    connection = get_connection()
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        for item, _ in messages:
            item.outcome, item.detail = Outcome.FAILED, f"The mail server could not be reached: {exc}"[:300]
        return
    try:
        for item, message in messages:
            try:
                sent = connection.send_messages([message])
            except smtplib.SMTPServerDisconnected:
                sent = _resend_on_new_connection(connection, item, message)
            except (smtplib.SMTPException, OSError, ValueError) as exc:
                item.outcome, item.detail, sent = Outcome.FAILED, _smtp_reason(exc), 0
            if item.outcome != Outcome.FAILED:
                item.outcome = Outcome.SENT if sent else Outcome.FAILED
                item.detail = "" if sent else "The mail server did not accept the message."
    finally:
        connection.close()


def _resend_on_new_connection(connection, item, message) -> int:
    """The server hung up mid-batch: reconnect once and carry on with the rest of the batch."""
    try:
        connection.close()
        connection.open()
        return connection.send_messages([message])
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        item.outcome, item.detail = Outcome.FAILED, _smtp_reason(exc)
        return 0


def _smtp_reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(
            f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for code, msg in exc.recipients.values()
        )
        return f"The address was refused: {codes}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


# --- Re-issue Starter Code (a handful at a time, shown once on screen) ----------------------------


def starter_codes_reissue(
    *, school: School, actor: Account, memberships: list[Membership]
) -> tuple[list[tuple], list[Membership]]:
    """A new starter code for each person still at the school; older codes stop working.

    Returns ([(membership, code)] to show once, the people left out because their roles are beyond the
    actor's). Limited to STARTER_CODE_LIMIT so the page stays printable.
    """
    targets = [m for m in memberships if m.status != Membership.Status.ARCHIVED and m.account.is_active]
    if not targets:
        raise ValidationError("None of the selected people can be given a starter code.")
    targets, left_out = in_reach(school=school, actor=actor, memberships=targets, action=AccountAction.STARTER_CODE)
    if not targets:
        _refuse_all_left_out(left_out)
    if len(targets) > STARTER_CODE_LIMIT:
        raise ValidationError(
            f"Re-issue starter codes for at most {STARTER_CODE_LIMIT} people at once; narrow the selection."
        )
    with transaction.atomic():
        issued = [
            (m, starter_code_issue(school=school, account=m.account, actor=actor))
            for m in sorted(targets, key=lambda m: (m.account.family_name.lower(), m.account.given_name.lower()))
        ]
    return issued, left_out
