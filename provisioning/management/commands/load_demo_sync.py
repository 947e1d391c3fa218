"""The demo schools' sync policy (called by load_demo; safe to run again): usernames from the email's local
part, which is how the demo's staff and contacts are named (students have no email, so they keep theirs).
The sample MIS export offered on Bulk User Synchronise then plans a few changes, not a rename of everyone."""

from django.core.management.base import BaseCommand
from django_scopes import scope, scopes_disabled

from provisioning.models import SyncPolicy
from provisioning.sync.policy import policy_for
from tenancy.models import School


class Command(BaseCommand):
    help = "Set the demo schools' sync policy (only where it was never saved)."

    def handle(self, *args, **options):
        with scopes_disabled():
            schools = list(School.objects.filter(slug__in=["northfield", "riverside"]))
        for school in schools:
            with scope(school=school):
                if SyncPolicy.objects.filter(school=school).exists():
                    continue
                policy = policy_for(school)
                policy.username_method = SyncPolicy.UsernameMethod.EMAIL_LOCAL
                policy.save(update_fields=["username_method"])
        self.stdout.write("Demo sync policy set.")
