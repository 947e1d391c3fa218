"""Field names, audit actions and stored values in the words people read (PRODUCT.md "Words on screen").

One table for every screen and file that shows a change: the sync preview, run report and CSV, the sync
history, and the account history on the Edit page. A key nobody labelled yet is still shown in words
(`portal_flag` reads "Portal flag"), never as snake_case.
"""

import datetime as dt
from collections.abc import Iterable

from accounts.models import Membership, PersonType, Role

FIELD_LABELS = {
    "username": "User Name",
    "given_name": "Given Names",
    "family_name": "Family Name",
    "email": "Email",
    "upn": "UPN",
    "mis_code": "MIS Code",
    "year_group": "Year group",
    "form": "Form",
    "portal_access": "Parent portal access",
    "relationship": "Relationship",
    "roles": "Roles",
    "role": "Role",
    "role_codes": "Roles",
    "status": "Status",
    "person_type": "Person type",
    "is_approved": "Approved",
    "approved": "Approved",
    "locked_out": "Locked Out",
    "override_network_auth": "Override Network Authentication",
    "is_active": "Can sign in",
    "must_change_password": "Must change password",
    "password": "Password",
    "starter_code": "Starter code",
    "token": "Set-password link",
    "expires_at": "Expires",
    "linked_signin": "Linked sign-in",
    "personal_data": "Personal data",
    "membership": "Membership",
    "account": "Account",
    "consent": "Privacy notice",
    "school_id": "School",
    "student_code": "Student's MIS Code",
    "existing_account": "Existing account",
    "assessment": "Assessment",
    "certificate": "Certificate",
    "reason": "Reason",
    "organisation": "Organisation",
    "organisation_role": "Trust role",
}

# The ids a plan keeps so that the apply can find its rows: never shown.
HIDDEN_FIELDS = frozenset(
    {"contact_membership_id", "student_membership_id", "from_membership_id", "from_school_id", "existing_account"}
)

ACTION_LABELS = {
    "accounts.account.created": "Account created",
    "accounts.account.updated": "Details changed",
    "accounts.account.renamed": "User Name changed",
    "accounts.account.deleted": "Account deleted",
    "accounts.account.access_revoked": "Access revoked",
    "accounts.account.password_changed": "Password changed",
    "accounts.account.password_chosen": "Password chosen",
    "accounts.account.password_set": "Password set",
    "accounts.consent.acknowledged": "Privacy notice acknowledged",
    "accounts.linked_signin.removed": "Linked sign-in removed",
    "accounts.membership.added": "Added to the school",
    "accounts.membership.removed": "Removed from the school",
    "accounts.membership.updated": "School details changed",
    "accounts.role.assigned": "Role given",
    "accounts.role.removed": "Role taken away",
    "accounts.organisation_role.granted": "Trust role given",
    "accounts.organisation_role.revoked": "Trust role taken away",
    "accounts.set_password_link.invitation": "Invitation sent",
    "accounts.set_password_link.reset": "Password reset link sent",
    "accounts.set_password_link.welcome": "Welcome email sent",
    "accounts.starter_code.issued": "Starter code issued",
    "accounts.starter_code.used": "Starter code used",
    "accounts.welcome_email.sent": "Welcome email sent",
    "assessments.access.changed": "Assessment Access changed",
    "assessments.certificate.issued": "Certificate issued",
    "assessments.certificate.revoked": "Certificate revoked",
    "assessments.certificate.reminder_sent": "Certificate reminder sent",
    "data.school_export.started": "School export started",
    "data.school_export.downloaded": "School export downloaded",
    "data.audit_log.exported": "Audit log exported",
    "data.subject_access.exported": "Subject access file made",
    "provisioning.newcomer_match.decided": "Newcomer matched to an existing account",
    "provisioning.revoke.started": "Revoke Access started",
    "provisioning.roster_source.saved": "Feed source (OneRoster server) saved",
    "provisioning.sync.leavers_archived": "Leavers archived",
    "provisioning.sync_policy.updated": "Sync policy changed",
    "provisioning.sync_run.applied": "Sync applied",
    "provisioning.sync_run.confirmed": "Sync confirmed",
    "provisioning.sync_run.credentials_downloaded": "Starter codes downloaded (sync)",
    "provisioning.upload.consent_acknowledged": "Privacy notice acknowledged (upload)",
    "provisioning.upload.credentials_downloaded": "Starter codes downloaded (upload)",
    "provisioning.welcome_email.started": "Send Welcome Email started",
    "scim.token.issued": "SCIM token issued",
    "scim.token.revoked": "SCIM token revoked",
    "scim.user.external_id_changed": "Identity provider's id for a person changed (SCIM)",
    "scim.user.provisioned": "Person provisioned by the identity provider (SCIM)",
    "scim.user.removed": "Person removed by the identity provider (SCIM)",
    "outbound.scim.reconciliation_cancelled": "Service reconciliation cancelled (SCIM push)",
    "outbound.scim.reconciliation_confirmed": "Service reconciliation confirmed (SCIM push)",
    "signon.authorization.granted": "Signed in to a connected service",
    "signon.authorization.refused": "Sign-in to a connected service refused",
    "signon.service.registered": "Connected service registered",
    "signon.service.secret_renewed": "Connected service secret renewed",
    "signon.service.switched_on": "Connected service switched on",
    "signon.service.switched_off": "Connected service switched off",
    "signon.tokens.revoked": "Connected service sign-ins ended",
    "tenancy.api_token.issued": "API token issued",
    "tenancy.api_token.revoked": "API token revoked",
    "tenancy.school.sign_in_methods_changed": "Sign-in methods changed",
}

VALUE_WORDS = {
    "status": dict(Membership.Status.choices),
    "person_type": dict(PersonType.choices),
}
_ROLE_FIELDS = {"roles", "role", "role_codes"}


def humanise(key: str) -> str:
    """ "portal_flag" -> "Portal flag": what a key no table names yet looks like on screen."""
    words = str(key).replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field) or humanise(field)


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action.startswith("admin."):  # the support admin's "admin.<model>.<verb>"
        return "Support staff: " + humanise(" ".join(action.split(".")[1:])).lower()
    parts = action.split(".")
    return humanise(" ".join(parts[1:]) if len(parts) > 1 else action)


def role_names() -> dict[str, str]:
    return dict(Role.objects.values_list("code", "name"))


def value_words(field: str, value, roles: dict[str, str] | None = None) -> str:
    """A stored value as a person reads it: Yes/No, role names, "—" for nothing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if field in _ROLE_FIELDS:
        codes = value if isinstance(value, list | tuple) else [value]
        names = roles if roles is not None else role_names()
        return ", ".join(names.get(code, humanise(code)) for code in codes) or "—"
    if field in VALUE_WORDS:
        return VALUE_WORDS[field].get(value, humanise(value))
    if isinstance(value, dict):
        return ", ".join(f"{humanise(k)} {value_words(k, v, roles)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(value_words(field, v, roles) for v in value)
    if field.endswith("_at") and isinstance(value, str):
        try:
            return f"{dt.datetime.fromisoformat(value):%-d %b %Y %H:%M}"
        except ValueError:
            return value
    return str(value)


def labelled_changes(
    before: dict, after: dict, roles: dict[str, str] | None = None, fields: Iterable[str] | None = None
) -> list[tuple[str, str, str]]:
    """(label, before, after) for each field that really changed, in words; ids the plan keeps are left out,
    and a value that reads the same before and after ("Parent" -> "Parent") is not a change."""
    before, after = before or {}, after or {}
    rows = []
    for field in fields if fields is not None else after:
        if field in HIDDEN_FIELDS or field not in after:
            continue
        old = value_words(field, before.get(field), roles) if field in before else "—"
        new = value_words(field, after[field], roles)
        if old != new:
            rows.append((field_label(field), old, new))
    return rows


def audit_changes(changes: dict | None, roles: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """An audit event's {field: [before, after]} in words."""
    pairs = {field: pair for field, pair in (changes or {}).items() if isinstance(pair, list) and len(pair) == 2}
    before = {field: pair[0] for field, pair in pairs.items() if pair[0] is not None}
    return labelled_changes(before, {field: pair[1] for field, pair in pairs.items()}, roles)


def actor_words(actor_label: str) -> str:
    """Who did it: a user name as it is, "system" and background jobs in words."""
    if not actor_label or actor_label == "system":
        return "Rollcall (automatic)"
    if actor_label.startswith("job "):
        return "A background job"
    return actor_label
