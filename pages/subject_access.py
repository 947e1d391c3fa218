"""Subject access: everything Rollcall holds about one person, across the schools the requester may see, as a
readable PDF and as a JSON file (UK GDPR Article 15: the school answers a person's request for their data).

Which schools: those where the person has a membership, the requester's roles give Perm.SUBJECT_ACCESS, and
the requester may act on the person there (accounts/services/authority.py: every role the person holds within
the requester's reach, so an Exams Officer cannot read out a Centre Admin). The school the request is made at
must pass, or nothing is made. Each file made is audited at that school.
"""

import json
from dataclasses import dataclass

from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.utils import timezone
from django_scopes import scope

from accounts import labels
from accounts.audit import audit_record
from accounts.models import Account, AuditEvent, ContactLink, Membership, RoleAssignment
from accounts.permissions import AccountAction, Perm
from accounts.selectors import permissions_for, schools_of
from accounts.services.actor import Actor
from accounts.services.authority import check_may_act_on_account, may_act_on_account
from assessments.models import AssessmentProgress, Certificate
from tenancy import pdf
from tenancy.models import School

# The authority rule asked: the non-strict one (every role the person holds, at each school, within the
# requester's reach), as for changing their roles. The strict, account-wide rule would also demand rights at
# schools the file leaves out.
AUTHORITY = AccountAction.ROLES
FORMATS = ("pdf", "json")
PROVIDER_NAMES = {"microsoft": "Microsoft 365", "google": "Google"}


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


@dataclass(frozen=True)
class SubjectAccess:
    data: dict
    filename_stem: str


def subject_access_schools(*, requester: Account, account: Account, here: School) -> list[School]:
    """The schools the file covers, `here` first; PermissionDenied when `here` itself is refused."""
    check_may_act_on_account(actor=Actor(account=requester, school=here), account=account, action=AUTHORITY)
    schools = [here]
    member_of = {s.pk for s in schools_of(account)}
    for school in schools_of(requester):
        if school.pk == here.pk or school.pk not in member_of:
            continue
        with scope(school=school):
            allowed = Perm.SUBJECT_ACCESS in permissions_for(school=school, account=requester) and may_act_on_account(
                actor=Actor(account=requester, school=school), account=account, action=AUTHORITY
            )
        if allowed:
            schools.append(school)
    return schools


def _school_part(school: School, account: Account, roles: dict[str, str]) -> dict:
    memberships = list(Membership.objects.filter(school=school, account=account).order_by("person_type"))
    ids = [m.pk for m in memberships]
    links = ContactLink.objects.filter(school=school).select_related("contact__account", "student__account")
    events = AuditEvent.objects.filter(school=school, target_type="account", target_id=str(account.pk)).order_by("at")
    return {
        "school": school.name,
        "memberships": [
            {
                "person_type": m.get_person_type_display(),
                "mis_code": m.mis_code,
                "status": m.get_status_display(),
                "year_group": m.year_group,
                "form": m.form,
                "parent_portal_access": m.portal_access,
                "left_on": m.left_on.isoformat() if m.left_on else "",
                "archived_on": m.archived_on.isoformat() if m.archived_on else "",
                "added": _when(m.created_at),
            }
            for m in memberships
        ],
        "roles": [
            {"role": a.role.name, "given": _when(a.granted_at)}
            for a in RoleAssignment.objects.filter(school=school, membership_id__in=ids).select_related("role")
        ],
        "linked_students": [
            {
                "name": link.student.account.full_name,
                "relationship": link.relationship,
                "parent_portal_access": link.portal_access,
            }
            for link in links.filter(contact_id__in=ids)
        ],  # fmt: skip
        "linked_contacts": [
            {"name": link.contact.account.full_name, "relationship": link.relationship}
            for link in links.filter(student_id__in=ids)
        ],
        "history": [
            {
                "at": _when(e.at),
                "what": labels.action_label(e.action),
                "by": labels.actor_words(e.actor_label),
                "changes": [f"{label}: {old} → {new}" for label, old, new in labels.audit_changes(e.changes, roles)],
            }
            for e in events
        ],
        "assessment_progress": [
            {
                "assessment": p.assessment.title,
                "status": p.get_status_display(),
                "started": _when(p.started_at),
                "finished": _when(p.finished_at),
                "sections_passed": p.sections_passed,
            }
            for p in AssessmentProgress.objects.filter(school=school, account=account).select_related("assessment")
        ],  # fmt: skip
        "certificates": [
            {
                "assessment": c.assessment_title,
                "code": c.code,
                "score": f"{c.score}/{c.out_of}",
                "issued": _when(c.issued_at),
                "expires": _when(c.expires_at),
                "status": c.get_status_display(),
                "reason": c.status_reason,
            }
            for c in Certificate.objects.filter(school=school, account=account).order_by("issued_at")
        ],  # fmt: skip
    }


def subject_access_data(*, requester: Account, account: Account, here: School) -> SubjectAccess:
    schools = subject_access_schools(requester=requester, account=account, here=here)
    roles = labels.role_names()
    parts = []
    for school in schools:
        with scope(school=school):
            parts.append(_school_part(school, account, roles))
    data = {
        "made": _when(timezone.now()),
        "made_by": requester.username,
        "account": {
            "user_name": account.username,
            "given_names": account.given_name,
            "family_name": account.family_name,
            "email": account.email,
            "email_verified": account.email_verified,
            "upn": account.upn,
            "approved": account.approved,
            "locked_out": account.locked_out,
            "override_network_authentication": account.override_network_auth,
            "can_sign_in": account.is_active,
            "account_made": _when(account.date_joined),
        },
        "sign_ins": {
            "last_sign_in": _when(account.last_login),
            "linked_sign_ins": [
                {
                    "provider": PROVIDER_NAMES.get(s.provider, s.provider),
                    "linked": _when(s.date_joined),
                    "last_used": _when(s.last_login),
                }  # fmt: skip
                for s in SocialAccount.objects.filter(user=account)
            ],
        },
        "schools": parts,
    }
    return SubjectAccess(data=data, filename_stem=f"subject-access-{account.username}-{timezone.now():%Y%m%d}")


def subject_access_export(*, requester: Account, account: Account, here: School, fmt: str) -> tuple[str, bytes, str]:
    """The file (name, bytes, content type), audited at `here`."""
    if fmt not in FORMATS:
        raise PermissionDenied("Choose PDF or JSON.")
    found = subject_access_data(requester=requester, account=account, here=here)
    if fmt == "json":
        body = json.dumps(found.data, ensure_ascii=False, indent=2).encode()
        content_type = "application/json"
    else:
        body = pdf.render_pdf(render_to_string("pages/subject_access.html", {"d": found.data}))
        content_type = "application/pdf"
    audit_record(
        action="data.subject_access.exported",
        actor=requester,
        school=here,
        target=account,
        changes={"format": [None, fmt.upper()], "schools": [None, len(found.data["schools"])]},
    )
    return f"{found.filename_stem}.{fmt}", body, content_type
