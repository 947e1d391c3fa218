"""The one table of who may do what. Views ask for a permission, never for a role name."""

from enum import StrEnum


class Perm(StrEnum):
    DASHBOARD_VIEW = "dashboard.view"
    USERS_VIEW = "users.view"
    USERS_ADD = "users.add"
    USERS_UPLOAD = "users.upload"
    USERS_EDIT = "users.edit"
    USERS_EDIT_EMAIL = "users.edit_email"
    USERS_DELETE = "users.delete"
    USERS_APPROVE = "users.approve"
    ROLES_ASSIGN = "roles.assign"
    ACCOUNT_MANAGER_VIEW = "account_manager.view"
    ACCOUNT_MANAGER_ACT = "account_manager.act"
    WELCOME_EMAIL_SEND = "welcome_email.send"
    SYNC_MANAGE = "sync.manage"
    SYNC_HISTORY_VIEW = "sync.history.view"
    JOBS_VIEW = "jobs.view"
    ASSESSMENTS_TAKE = "assessments.take"
    ASSESSMENTS_PROGRESS = "assessments.progress"
    ASSESSMENTS_ACCESS = "assessments.access"
    CERTIFICATES_VIEW = "certificates.view"
    SUMMARY_VIEW = "summary.view"
    FEEDS_PUSH = "feeds.push"
    API_TOKENS_MANAGE = "api_tokens.manage"


_NOMINATED_CONTACT = {
    Perm.DASHBOARD_VIEW,
    Perm.USERS_VIEW,
    Perm.USERS_ADD,
    Perm.USERS_UPLOAD,
    Perm.USERS_EDIT,
    Perm.USERS_APPROVE,
    Perm.ACCOUNT_MANAGER_VIEW,
    Perm.ACCOUNT_MANAGER_ACT,
    Perm.WELCOME_EMAIL_SEND,
    Perm.SYNC_MANAGE,
    Perm.SYNC_HISTORY_VIEW,
    Perm.JOBS_VIEW,
    Perm.FEEDS_PUSH,
    Perm.API_TOKENS_MANAGE,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    # Exams
    "centre_admin": frozenset(Perm),
    "eo": frozenset(
        {
            Perm.DASHBOARD_VIEW,
            Perm.USERS_VIEW,
            Perm.USERS_ADD,
            Perm.USERS_UPLOAD,
            Perm.USERS_EDIT,
            Perm.JOBS_VIEW,
            Perm.ASSESSMENTS_TAKE,
            Perm.ASSESSMENTS_PROGRESS,
            Perm.CERTIFICATES_VIEW,
            Perm.SUMMARY_VIEW,
        }
    ),
    "slt": frozenset(
        {
            Perm.DASHBOARD_VIEW,
            Perm.USERS_VIEW,
            Perm.ASSESSMENTS_TAKE,
            Perm.ASSESSMENTS_PROGRESS,
            Perm.CERTIFICATES_VIEW,
            Perm.SUMMARY_VIEW,
        }
    ),
    "inv": frozenset({Perm.ASSESSMENTS_TAKE}),
    # Registry
    "nominated_contact": frozenset(_NOMINATED_CONTACT),
    # Learning analytics
    "admin_security": frozenset(_NOMINATED_CONTACT | {Perm.ROLES_ASSIGN}),
    "admin_level_one": frozenset(
        {Perm.DASHBOARD_VIEW, Perm.USERS_VIEW, Perm.ACCOUNT_MANAGER_VIEW, Perm.WELCOME_EMAIL_SEND, Perm.JOBS_VIEW}
    ),
    "access_slt": frozenset({Perm.DASHBOARD_VIEW, Perm.SYNC_HISTORY_VIEW}),
    "teacher_security": frozenset(),
    "student_portal": frozenset(),
    "parent": frozenset(),
    # Not a person's role: what a school's MIS agent token (AutoUpdate) may do.
    "mis_agent": frozenset({Perm.FEEDS_PUSH}),
}

# Which roles a holder of each role may grant (on +Add, edit, upload and sync). Nobody grants
# Centre Admin except another Centre Admin, and upload and sync never grant it at all.
GRANTABLE_ROLES: dict[str, frozenset[str]] = {
    "centre_admin": frozenset(set(ROLE_PERMISSIONS) - {"mis_agent"}),
    "admin_security": frozenset(set(ROLE_PERMISSIONS) - {"centre_admin", "mis_agent"}),
    "eo": frozenset({"eo", "slt", "inv"}),
    "nominated_contact": frozenset({"student_portal", "parent", "teacher_security"}),
}

BULK_NEVER_GRANTS = frozenset({"centre_admin"})


def permissions_for_roles(role_codes) -> frozenset[Perm]:
    perms: set[Perm] = set()
    for code in role_codes:
        perms |= ROLE_PERMISSIONS.get(code, frozenset())
    return frozenset(perms)


def grantable_roles_for(role_codes) -> frozenset[str]:
    grantable: set[str] = set()
    for code in role_codes:
        grantable |= GRANTABLE_ROLES.get(code, frozenset())
    return frozenset(grantable)
