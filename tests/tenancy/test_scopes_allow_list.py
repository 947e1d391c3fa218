"""scopes_disabled() lifts the wall between schools: every module that calls it is listed here, with why.

README ("Tenancy"): tenancy itself, migrations, management commands and the support admin; beyond those, the
reads and writes that are about a person in every school, or about no school at all. A new call fails this
test until its module is added with a reason a reviewer can check; a module that stops calling it fails too,
so the list never keeps a stale entry.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "config",
    "tenancy",
    "accounts",
    "signon",
    "scim",
    "outbound",
    "rostering",
    "provisioning",
    "assessments",
    "pages",
]

ALLOWED = {
    # tenancy itself, the support admin, migrations and management commands
    "tenancy.middleware": "SupportAdminMiddleware: support staff's admin sees every school",
    "tenancy.tokens": "the API schema and docs take a token of any school; they read no school's data",
    "tenancy.compiled_reads": "compiles a read with stand-in values, once; each call then checks the scope itself",
    "accounts.management.commands.load_demo": "a management command: loads the demo trust's schools",
    "assessments.management.commands.load_demo_assessments": "a management command: finds the demo schools",
    "provisioning.management.commands.load_demo_sync": "a management command: finds the demo schools",
    "accounts.migrations.0013_restore_school_role_job_fks": "a migration: repairs rows of every school",
    "provisioning.migrations.0011_restore_sync_record_fks": "a migration: repairs rows of every school",
    "accounts.migrations.0016_membership_keys_with_their_school": "a migration: repairs rows of every school",
    "provisioning.migrations.0019_sync_record_run_key_with_its_school": "a migration: repairs rows of every school",
    # a person belongs to several schools: these reads and writes are about all of them
    "accounts.selectors": (
        "schools_of: a person's schools; account_match_existing: one account across schools; "
        "accounts_possibly_same: the organisation's accounts with an email"
    ),
    "accounts.credentials": "sign-in has no school in scope; a starter code or set-password link is the account's",
    "accounts.services.accounts": "erasing a person erases them everywhere, their audit trail too",
    "accounts.services.authority": "who may act on an account depends on every school it belongs to",
    "signon.selectors": "signing in to a service reads the person's places at every school of its organisation",
    "outbound.selectors": "a SCIM push holds one user per person across every school of the service's organisation",
    "provisioning.contacts.services": "revoking a contact must not lock out their sign-in held at another school",
    "provisioning.sync.sync_plan": "transfers read other schools' memberships of the feed's people",
    "provisioning.sync.plan_newcomers": "a newcomer may already hold an account at another school (a transfer)",
    "provisioning.sync.revoke_forecast": "a contact's other memberships at any school decide its state",
    "provisioning.sync.apply": "a transfer closes the old school's membership; deactivate only if none is open",
    "provisioning.sync.services": "an erased account's sync records lose personal values in every school",
    "provisioning.sync.starter_slips": "the nightly purge of credentials sheets sweeps every school",
    "provisioning.sync.nightly": "the tick picks, from every school, those whose night has come, and marks them sent",
    "provisioning.sync.night": "support staff's progress of the night counts every school's nightly work",
    "provisioning.upload.tasks": "the hourly purge of upload credentials sheets sweeps every school",
    # global content and public pages
    "assessments.services.content": "content is global: attempts at any school count",
    "assessments.services.certificate_records": "an erased holder's certificates, at every school",
    "assessments.selectors": "the public verification page belongs to no school: by unguessable code only",
}


def _calls_it(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "scopes_disabled":
                return True
    return False


def _modules_calling() -> set[str]:
    """Modules with a call of scopes_disabled (as a context manager or decorator), not a mere mention."""
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if _calls_it(ast.parse(path.read_text())):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_module_lifting_the_scope_is_on_the_list_with_a_reason():
    unlisted = sorted(_modules_calling() - set(ALLOWED))
    assert unlisted == [], f"scopes_disabled() in modules not on the allow-list: {unlisted}"
    assert [module for module, reason in ALLOWED.items() if not reason.strip()] == []


def test_the_list_holds_no_module_that_no_longer_lifts_it():
    assert sorted(set(ALLOWED) - _modules_calling()) == []
