"""After DELETE the school's leaver timers take over: archived after the staff grace days, erased after the
policy's erase days; an account that belongs to another organisation too is never erased."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, Membership
from provisioning.sync.leavers import leaver_timers
from provisioning.sync.policy import policy_for
from scim.resources import CORE_URN, EXTENSION_URN

pytestmark = pytest.mark.django_db


def _remove(call, username):
    _, created = call("post", "Users", {
        "schemas": [CORE_URN, EXTENSION_URN], "userName": username, "emails": [{"value": f"{username}@oak.sch.uk"}],
        "active": True, EXTENSION_URN: {"school": "oak-secondary"},
    })  # fmt: skip
    assert call("delete", f"Users/{created['id']}")[0].status_code == 204
    return Account.objects.get(username=username)


def _nights(school):
    policy = policy_for(school)
    policy.staff_grace_days, policy.staff_erase_days = 7, 30
    policy.save()
    today = timezone.localdate()
    leaver_timers(school=school, today=today + timedelta(days=8))  # archived
    leaver_timers(school=school, today=today + timedelta(days=40))  # erased


def test_the_leaver_timers_erase_someone_wholly_the_organisations(scim, trust_token, trust):
    account = _remove(scim(trust_token[1]), "gone")

    _nights(trust.schools.get(slug="oak-secondary"))

    account.refresh_from_db()
    assert account.deleted_at is not None and account.username.startswith("deleted-")


def test_they_never_erase_an_account_another_organisation_holds(scim, trust_token, trust, other_trust):
    account = _remove(scim(trust_token[1]), "shared")
    Membership.objects.create(school=other_trust.schools.get(), account=account, person_type="staff")

    _nights(trust.schools.get(slug="oak-secondary"))

    account.refresh_from_db()
    assert account.deleted_at is None and account.username == "shared"
    assert not Membership.objects.filter(account=account, school__organisation=trust).exists()
