"""The one table of who may do what. Views ask for a permission, never for a role name."""

from collections.abc import Iterable, Mapping
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
    # "Sign in with Microsoft 365 or Google only": Centre Admin only (every Perm), not the Nominated Contact who
    # otherwise runs Bulk User Synchronise, where the setting is shown.
    SIGN_IN_METHODS_MANAGE = "sign_in_methods.manage"
    # The connected services (signon/) the school's people can reach, and switching one off for the school.
    SERVICES_MANAGE = "services.manage"
    # Data protection (issue 24). The school export holds everything the school holds, assessments and
    # certificates included: Centre Admin only (every Perm). The audit log, the retention page and a person's
    # subject access file are the registry's: Centre Admin and the Nominated Contact, who keeps the school's
    # people and its leaver policy (Bulk User Synchronise).
    SCHOOL_EXPORT = "data.school_export"
    AUDIT_VIEW = "data.audit_view"
    RETENTION_VIEW = "data.retention_view"
    SUBJECT_ACCESS = "data.subject_access"


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
    Perm.AUDIT_VIEW,
    Perm.RETENTION_VIEW,
    Perm.SUBJECT_ACCESS,
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
    # Administrator Level One adds and edits nobody (no USERS_ADD or USERS_EDIT), so this grants nothing in
    # practice: it is their reach for PRODUCT.md's "Level One: Send Welcome Email", which acts on an account
    # (a set-password link) and so needs the right over every role the person holds. Parents, students and
    # teachers, never anyone with an administrator role.
    "admin_level_one": frozenset({"student_portal", "parent", "teacher_security"}),
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


# --- Organisation roles (PRODUCT.md, Later decisions: Trust Admin and Trust Viewer) -------------------
# Held over an organisation (accounts.models.OrganisationRole), never at one school: they open every school of
# that organisation and no other (accounts.selectors.schools_of). At each of its schools they give
# organisation_school_perms; over the organisation itself (the trust console) ORGANISATION_ROLE_PERMISSIONS.


class OrgPerm(StrEnum):
    """What an organisation role opens above its schools: the trust console."""

    CONSOLE_VIEW = "trust.console.view"
    VIEWERS_MANAGE = "trust.viewers.manage"  # grant and take back Trust Viewer


TRUST_ADMIN = "trust_admin"
TRUST_VIEWER = "trust_viewer"
ORGANISATION_ROLE_NAMES = {TRUST_ADMIN: "Trust Admin", TRUST_VIEWER: "Trust Viewer"}

ORGANISATION_ROLE_PERMISSIONS: dict[str, frozenset[OrgPerm]] = {
    TRUST_ADMIN: frozenset(OrgPerm),
    TRUST_VIEWER: frozenset({OrgPerm.CONSOLE_VIEW}),
}

# Which organisation roles a holder may grant (support grants both, in the support admin).
ORGANISATION_GRANTABLE: dict[str, frozenset[str]] = {TRUST_ADMIN: frozenset({TRUST_VIEWER})}

# "Read everything" at a school: every screen that shows, none that changes. Census reports and certificate
# zips (JOBS_VIEW, CERTIFICATES_VIEW) are built as jobs, but only gather what these permissions already show.
TRUST_READ_PERMS = frozenset(
    {
        Perm.DASHBOARD_VIEW,
        Perm.USERS_VIEW,
        Perm.ACCOUNT_MANAGER_VIEW,
        Perm.SYNC_HISTORY_VIEW,
        Perm.JOBS_VIEW,
        Perm.ASSESSMENTS_PROGRESS,
        Perm.CERTIFICATES_VIEW,
        Perm.SUMMARY_VIEW,
    }
)

# A Trust Admin acting as Centre Admin is not a member of the school: nothing to take for themselves, and no API
# token (a token acts as its issuer's roles at its school, which a Trust Admin does not hold).
_NOT_FOR_TRUST = frozenset({Perm.ASSESSMENTS_TAKE, Perm.API_TOKENS_MANAGE})


def acting_roles_for_organisation(org_role_codes, *, act_as_centre_admin: bool) -> frozenset[str]:
    """The school roles organisation roles stand for at each school of the organisation: a Trust Admin acts as
    Centre Admin where the organisation's setting allows (then the same per-school rules as a Centre Admin's
    apply to whom they may act on), nothing otherwise."""
    if TRUST_ADMIN in set(org_role_codes) and act_as_centre_admin:
        return frozenset({"centre_admin"})
    return frozenset()


def organisation_school_perms(org_role_codes, *, act_as_centre_admin: bool) -> frozenset[Perm]:
    """What organisation roles give at one school of the organisation: reading for both, and a Centre Admin's
    rights for a Trust Admin where the organisation allows it."""
    codes = set(org_role_codes) & set(ORGANISATION_ROLE_PERMISSIONS)
    if not codes:
        return frozenset()
    acting = acting_roles_for_organisation(codes, act_as_centre_admin=act_as_centre_admin)
    return TRUST_READ_PERMS | (permissions_for_roles(acting) - _NOT_FOR_TRUST)


def organisation_perms(org_role_codes) -> frozenset[OrgPerm]:
    perms: set[OrgPerm] = set()
    for code in org_role_codes:
        perms |= ORGANISATION_ROLE_PERMISSIONS.get(code, frozenset())
    return frozenset(perms)


# --- Acting on someone's account (PRODUCT.md, Later decisions) -------------------------------------
# An actor may act on an account only if they may grant every role that account holds, at the school where
# it is held: otherwise an Exams Officer could reset a Centre Admin's password and sign in as them. The database
# side (the roles held everywhere, support staff, jobs) is accounts.services.authority.


class AccountAction(StrEnum):
    DETAILS = "details"  # names, UPN, username, Override Network Authentication
    LOCK = "lock"
    APPROVE = "approve"
    EMAIL = "email"
    PASSWORD = "password"  # set a password for them
    STARTER_CODE = "starter_code"  # issue or re-issue a one-time starter code
    LINK = "link"  # email a set-password link (reset, invitation, Welcome Email)
    ROLES = "roles"
    REVOKE = "revoke"  # Account Manager's Revoke Access
    DELETE = "delete"
    ASSESSMENT_ACCESS = "assessment_access"


# Actions that need a permission of their own wherever they are asked for (the screen's own permission,
# e.g. Users edit or Account Manager, is asked by the view).
ACTION_PERMS: dict[AccountAction, Perm] = {
    AccountAction.APPROVE: Perm.USERS_APPROVE,
    AccountAction.EMAIL: Perm.USERS_EDIT_EMAIL,
    AccountAction.DELETE: Perm.USERS_DELETE,
    AccountAction.ASSESSMENT_ACCESS: Perm.ASSESSMENTS_ACCESS,
}

# The roles people hold (mis_agent is a token's, never a person's).
PERSON_ROLES = frozenset(set(ROLE_PERMISSIONS) - {"mis_agent"})


def roles_beyond(actor_role_codes) -> frozenset[str]:
    """The roles whose holders someone holding `actor_role_codes` may not act on."""
    return PERSON_ROLES - grantable_roles_for(actor_role_codes)


# What a role lets its holder do for themselves only: taking the assessments open to them.
SELF_SERVICE_PERMS = frozenset({Perm.ASSESSMENTS_TAKE})


def opens_others(role_code: str) -> bool:
    """Whether a role reaches beyond its holder: other people, or the school's data (an administrator's)."""
    return bool(ROLE_PERMISSIONS.get(role_code, frozenset()) - SELF_SERVICE_PERMS)


# Actions that reveal a credential to the actor (a password they set, a starter code they are shown), redirect
# the account's own (its email), or change it for every school (names, username, lock, approval). On someone who
# also belongs to another school they need the actor's rights there too, whatever the person's roles there: an
# outside test added another school's parent and teacher by upload ("add existing person") and then took both
# accounts over with starter codes. A set-password link goes to the account's own address and stays relaxed.
ACCOUNT_WIDE_ACTIONS = frozenset(
    {
        AccountAction.PASSWORD,
        AccountAction.STARTER_CODE,
        AccountAction.EMAIL,
        AccountAction.DETAILS,
        AccountAction.LOCK,
        AccountAction.APPROVE,
    }
)
ELSEWHERE = ""  # the role of a pair that stands for a membership at another school holding no role


def roles_out_of_reach(actor_roles: Mapping, here, target_roles: Iterable[tuple], *, strict=False) -> frozenset[str]:
    """Of the roles a target holds, as (school, role) pairs, those the actor may not act over. `actor_roles`
    maps each school to the roles the actor holds there; `here` is the school the actor acts at.

    Authority is per school: a role that reaches beyond its holder (an administrator's: opens_others) must be
    one the actor may grant at the school where the target holds it, so a Centre Admin of one school is nobody
    at another, and cannot reset the password of the other school's Centre Admin after adding them as a
    member. A role for its holder only (Parent, Student Portal, Teacher Security, Invigilator) held at another
    school needs only the actor's grant here: a parent with children at two schools, or an invigilator who
    works at both, stays reachable by both, and taking it over gains nobody anyone else's data."""
    grant_here = grantable_roles_for(actor_roles.get(here, ()))
    out = set()
    for school, role in target_roles:
        grant_there = grantable_roles_for(actor_roles.get(school, ()))
        if strict and school != here:
            # An ACCOUNT_WIDE_ACTIONS action: the actor must have rights at every other school the person is in.
            if (role == ELSEWHERE and not grant_there) or (role != ELSEWHERE and role not in grant_there):
                out.add(role)
            continue
        if role not in PERSON_ROLES:
            continue
        if school == here or opens_others(role):
            reachable = role in grant_there
        else:
            reachable = role in grant_there or role in grant_here
        if not reachable:
            out.add(role)
    return frozenset(out)


def may_act_on_roles(actor_roles: Mapping, here, target_roles: Iterable[tuple], *, strict=False) -> bool:
    """The table's answer: every role the target holds, at each school, is within the actor's reach."""
    return not roles_out_of_reach(actor_roles, here, target_roles, strict=strict)


def organisation_roles_out_of_reach(actor_org_roles: Mapping, target_org_roles: Iterable[tuple]) -> frozenset[str]:
    """Of the organisation roles a target holds, as (organisation, role) pairs, those the actor may not act
    over: an organisation role opens every school of its organisation, so taking over its holder's account
    needs the right to grant it there (a Trust Admin for a Trust Viewer of their organisation; support for
    anyone). `actor_org_roles` maps each organisation to the organisation roles the actor holds over it."""
    out = set()
    for organisation, role in target_org_roles:
        grantable: set[str] = set()
        for code in actor_org_roles.get(organisation, ()):
            grantable |= ORGANISATION_GRANTABLE.get(code, frozenset())
        if role not in grantable:
            out.add(role)
    return frozenset(out)


# --- Job reports ----------------------------------------------------------------------------------
# The permission a job's page and report need, by tenancy.models.Job.Kind value (tenancy does not import
# accounts; the pages on top ask here). A report holds what the job worked on: a certificate zip holds
# every certificate, the sync's starter-code slips hold credentials.
JOB_REPORT_PERMS: dict[str, Perm] = {
    "demo": Perm.JOBS_VIEW,  # the school census report: counts by person type and status
    "sync": Perm.SYNC_HISTORY_VIEW,
    "upload": Perm.USERS_UPLOAD,
    "revoke": Perm.ACCOUNT_MANAGER_VIEW,
    "welcome_email": Perm.ACCOUNT_MANAGER_VIEW,
    "certificate_zip": Perm.CERTIFICATES_VIEW,
    "certificate_pdf": Perm.CERTIFICATES_VIEW,
    "sync_credentials": Perm.SYNC_MANAGE,
    "roster_pull": Perm.SYNC_HISTORY_VIEW,  # what a OneRoster pull fetched: counts, no names
    "school_export": Perm.SCHOOL_EXPORT,  # everything the school holds
}


def job_kinds_open_to(perms) -> frozenset[str]:
    """The job kinds whose page and report these permissions open: jobs at all (JOBS_VIEW), and the kind's
    own permission; a kind missing from the table opens to nobody."""
    if Perm.JOBS_VIEW not in perms:
        return frozenset()
    return frozenset(kind for kind, perm in JOB_REPORT_PERMS.items() if perm in perms)
