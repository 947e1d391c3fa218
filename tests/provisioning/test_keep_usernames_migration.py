"""Migration 0015: which existing policies get Keep existing usernames."""

from importlib import import_module

import pytest
from django.apps import apps

from provisioning.models import SyncPolicy
from tests.factories import SchoolFactory, member

pytestmark = pytest.mark.django_db

step = import_module("provisioning.migrations.0015_keep_usernames_and_newcomer_matches").keep_where_never_chosen


def test_only_policies_nobody_chose_at_schools_with_accounts_keep_usernames(school_a, centre_admin):
    empty, chosen = SchoolFactory(), SchoolFactory()
    member(chosen)
    never_saved = SyncPolicy.objects.create(school=school_a)  # made on a first visit: nobody chose
    of_empty = SyncPolicy.objects.create(school=empty)
    saved = SyncPolicy.objects.create(school=chosen, updated_by=centre_admin)  # a person saved "off"
    step(apps, None)
    got = {p.pk: p.keep_usernames for p in SyncPolicy.objects.all()}
    assert got == {never_saved.pk: True, of_empty.pk: False, saved.pk: False}
