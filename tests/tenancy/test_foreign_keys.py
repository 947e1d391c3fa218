"""School-owned rows point at their school, role and job through real database foreign keys: a row can
never be left pointing at something that is gone (they were once dropped for import speed)."""

import pytest
from django.db import connection

from accounts.models import Account, ContactLink, Membership, RoleAssignment, StarterCode
from provisioning.models import SyncRecord

pytestmark = pytest.mark.django_db

LINKS = [
    (Account, "home_school", "tenancy_school"),
    (Membership, "school", "tenancy_school"),
    (RoleAssignment, "school", "tenancy_school"),
    (RoleAssignment, "role", "accounts_role"),
    (ContactLink, "school", "tenancy_school"),
    (StarterCode, "school", "tenancy_school"),
    (StarterCode, "job", "tenancy_job"),
    (SyncRecord, "school", "tenancy_school"),
    (SyncRecord, "run", "provisioning_syncrun"),
]


@pytest.mark.parametrize(("model", "field", "target"), LINKS, ids=[f"{m.__name__}.{f}" for m, f, _ in LINKS])
def test_the_link_has_a_foreign_key_constraint_in_the_database(model, field, target):
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    assert any(
        c["foreign_key"] and c["foreign_key"][0] == target and c["columns"] == [column] for c in constraints.values()
    ), f"{model._meta.db_table}.{column} has no foreign key to {target}"


def test_every_school_link_of_a_school_owned_model_is_constrained():
    """A new school-owned model, or one of these made unconstrained again, fails here too."""
    from django.apps import apps

    from tenancy.models import School

    unconstrained = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is School and not field.db_constraint
    ]
    # The sync's change bookkeeping, written by database triggers: a school's deletion writes rows of
    # its own there as it goes, so they must not be checked against it (provisioning/models.py).
    assert sorted(unconstrained) == ["SchoolDataChange.school", "SchoolDataVersion.school"]
