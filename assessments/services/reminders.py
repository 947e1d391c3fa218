"""Certificate reminders: invigilator training is annual, so a holder is told 30 days before their certificate
expires and again when it has expired, and the school's Exams Officers get one digest of the certificates
reminded, each with a link to its assessment.

Run daily for every school (assessments.certificate_reminders, scheduled by assessments migration 0003).
Idempotent: each certificate's reminder is claimed by inserting its CertificateReminder row (unique per
certificate and kind) before the email goes, in its own committed statement, so a second run, or two workers
at once, never send it twice; a send that fails gives the claim back, and the next day tries again.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Membership, RoleAssignment
from assessments.models import Certificate, CertificateReminder
from tenancy.models import School
from tenancy.public_url import public_url

log = logging.getLogger(__name__)

DAYS_BEFORE = 30
# A certificate that expired while reminders were not running (a missed day) is still told, within this.
EXPIRED_CATCH_UP_DAYS = 7
DIGEST_ROLE = "eo"


@dataclass(frozen=True)
class Reminded:
    certificate: Certificate
    kind: str
    url: str  # the assessment, to take it again


def certificates_due(*, school: School, kind: str, now=None):
    """Valid certificates (not superseded) held by a live account, due this reminder and not yet sent it."""
    now = now or timezone.now()
    certificates = Certificate.objects.filter(
        school=school, status=Certificate.Status.VALID, superseded_by__isnull=True, account__isnull=False,
        account__deleted_at__isnull=True,
    ).exclude(reminders__kind=kind)  # fmt: skip
    if kind == CertificateReminder.Kind.EXPIRING:
        certificates = certificates.filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=DAYS_BEFORE))
    else:
        certificates = certificates.filter(
            expires_at__lte=now, expires_at__gt=now - timedelta(days=EXPIRED_CATCH_UP_DAYS)
        )
    return certificates.select_related("account", "assessment").order_by("expires_at")


def _claim(school: School, certificate: Certificate, kind: str) -> CertificateReminder | None:
    try:
        with transaction.atomic():
            return CertificateReminder.objects.create(school=school, certificate=certificate, kind=kind)
    except IntegrityError:  # another run claimed it a moment ago
        return None


def _assessment_url(school: School, certificate: Certificate) -> str:
    path = reverse("assessment_detail", kwargs={"school_slug": school.slug, "assessment_id": certificate.assessment_id})
    return public_url(path)


def _message(template: str, context: dict, to: list[str]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=render_to_string(f"assessments/email/{template}_subject.txt", context).strip(),
        body=render_to_string(f"assessments/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(render_to_string(f"assessments/email/{template}.html", context), "text/html")
    return message


def _holder_reminders(school: School, kind: str, now) -> list[Reminded]:
    sent = []
    for certificate in certificates_due(school=school, kind=kind, now=now):
        claim = _claim(school, certificate, kind)
        if claim is None:
            continue
        reminded = Reminded(certificate, kind, _assessment_url(school, certificate))
        account = certificate.account
        if account.email:
            context = {"school": school, "account": account, "certificate": certificate, "kind": kind,
                       "url": reminded.url}  # fmt: skip
            try:
                _message("certificate_reminder", context, [account.email]).send(fail_silently=False)  # fmt: skip
            except Exception:  # noqa: BLE001 - the claim is given back; tomorrow's run tries again
                log.exception("certificate reminder not sent", extra={"school": school.slug})
                claim.delete()
                continue
        audit_record(
            action="assessments.certificate.reminder_sent", actor=None, school=school, target=account,
            changes={"certificate": [None, f"{certificate.assessment_title} ({claim.get_kind_display()})"]},
        )  # fmt: skip
        sent.append(reminded)
    return sent


def exams_officer_emails(*, school: School) -> list[str]:
    members = RoleAssignment.objects.filter(
        school=school, role_id=DIGEST_ROLE, membership__status=Membership.Status.ACTIVE,
        membership__account__is_active=True,
    ).exclude(membership__account__email="")  # fmt: skip
    return sorted(set(members.values_list("membership__account__email", flat=True)))


def certificate_reminders_send(*, school: School, now=None) -> dict[str, int]:
    """The day's reminders of one school: the holders' emails, then one digest to each Exams Officer."""
    now = now or timezone.now()
    expiring = _holder_reminders(school, CertificateReminder.Kind.EXPIRING, now)
    expired = _holder_reminders(school, CertificateReminder.Kind.EXPIRED, now)
    officers = exams_officer_emails(school=school) if (expiring or expired) else []
    for address in officers:
        context = {"school": school, "expiring": expiring, "expired": expired, "days": DAYS_BEFORE}
        try:
            _message("certificate_digest", context, [address]).send(fail_silently=False)
        except Exception:  # noqa: BLE001 - one officer's refused address never stops the others
            log.exception("certificate digest not sent", extra={"school": school.slug})
    return {"expiring": len(expiring), "expired": len(expired), "digests": len(officers)}


def certificate_reminders_all(*, now=None) -> int:
    """Every school's reminders; one school's failure is logged and never stops the next school's."""
    from django_scopes import scope

    sent = 0
    for school in School.objects.filter(is_active=True):
        try:
            with scope(school=school):
                counts = certificate_reminders_send(school=school, now=now)
            sent += counts["expiring"] + counts["expired"]
        except Exception:
            log.exception("certificate reminders failed for one school", extra={"school": school.slug})
    return sent


@dataclass(frozen=True)
class ExpiringRow:
    certificate: Certificate
    expired: bool
    reminded: list[str]  # the reminders sent, in words


def expiring_certificates(*, school: School, now=None) -> list[ExpiringRow]:
    """The Expiring certificates list: valid certificates expiring within DAYS_BEFORE days, or expired within
    the last DAYS_BEFORE, soonest first, each with the reminders already sent."""
    now = now or timezone.now()
    window = timedelta(days=DAYS_BEFORE)
    certificates = (
        Certificate.objects.filter(
            school=school,
            status=Certificate.Status.VALID,
            superseded_by__isnull=True,
            expires_at__gt=now - window,
            expires_at__lte=now + window,
        )  # fmt: skip
        .select_related("account")
        .prefetch_related("reminders")
        .order_by("expires_at")
    )
    return [
        ExpiringRow(c, c.expires_at <= now, [r.get_kind_display() for r in c.reminders.all()]) for c in certificates
    ]
