"""Issue a school's API token from the command line, e.g. for the MIS agent while setting a school up:

    manage.py api_token --school alder --scope mis_agent [--name "MIS agent"] [--account USERNAME]

The token acts for an account of the school (by default its longest-standing Centre Admin) and is printed
once; Rollcall keeps only its hash.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope as school_scope

from accounts import services
from accounts.models import Account, Membership, RoleAssignment
from tenancy.models import School


class Command(BaseCommand):
    help = "Issue a per-school API token (printed once)."

    def add_arguments(self, parser):
        parser.add_argument("--school", required=True, help="The school's slug")
        parser.add_argument("--scope", default=services.MIS_AGENT, help="mis_agent (default) or a role code")
        parser.add_argument("--name", default="MIS agent", help="What the token is for")
        parser.add_argument("--account", help="Username the token acts for (default: the school's first Centre Admin)")

    def handle(self, *args, school, scope: str, name: str, account=None, **options):
        try:
            school_row = School.objects.get(slug=school)
        except School.DoesNotExist as exc:
            raise CommandError(f"No school with the slug {school!r}.") from exc
        with school_scope(school=school_row):
            holder = _holder(school_row, account)
            try:
                token, raw = services.api_token_create(school=school_row, account=holder, name=name, scope=scope)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Issued {token.name!r} at {school_row.name}, acting for {holder.username}; shown once:")
        self.stdout.write(raw)


def _holder(school: School, username: str | None) -> Account:
    if username:
        account = Account.objects.filter(username__iexact=username, deleted_at__isnull=True).first()
        if account is None or not Membership.objects.filter(school=school, account=account).exists():
            raise CommandError(f"{username!r} is not a member of {school.name}.")
        return account
    admin = (
        RoleAssignment.objects.filter(school=school, role_id="centre_admin", membership__account__is_active=True)
        .select_related("membership__account")
        .order_by("membership__created_at")
        .first()
    )
    if admin is None:
        raise CommandError(f"{school.name} has no Centre Admin: name the account with --account USERNAME.")
    return admin.membership.account
