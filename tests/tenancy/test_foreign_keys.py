"""School-owned rows point at their school, role and job through real database foreign keys: a row can
never be left pointing at something that is gone (they were once dropped for import speed). A row hanging
off a school-owned parent names its school through it, in one key of two columns (tenancy.constraints)."""

import pytest
from django.db import connection

from accounts.models import Account, ContactLink, Membership, RoleAssignment, StarterCode
from provisioning.models import SyncRecord
from tenancy.constraints import CompositeForeignKey

pytestmark = pytest.mark.django_db

LINKS = [
    (Account, "home_school", "tenancy_school"),
    (Membership, "school", "tenancy_school"),
    (RoleAssignment, "role", "accounts_role"),
    (StarterCode, "school", "tenancy_school"),
    (StarterCode, "job", "tenancy_job"),
]
# (model, its fields, the parent they reference, the parent's columns): the row's parent, at the row's school.
COMPOSITE = [
    (RoleAssignment, ["membership", "school"], "accounts_membership", ["id", "school_id"]),
    (ContactLink, ["contact", "school"], "accounts_membership", ["id", "school_id"]),
    (ContactLink, ["student", "school"], "accounts_membership", ["id", "school_id"]),
    (SyncRecord, ["run", "school"], "provisioning_syncrun", ["id", "school_id"]),
]


def _constraints(model):
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, model._meta.db_table)


@pytest.mark.parametrize(("model", "field", "target"), LINKS, ids=[f"{m.__name__}.{f}" for m, f, _ in LINKS])
def test_the_link_has_a_foreign_key_constraint_in_the_database(model, field, target):
    column = model._meta.get_field(field).column
    assert any(
        c["foreign_key"] and c["foreign_key"][0] == target and c["columns"] == [column]
        for c in _constraints(model).values()
    ), f"{model._meta.db_table}.{column} has no foreign key to {target}"


def _foreign_keys(model) -> set[tuple]:
    """(columns, referenced table, referenced columns) of each key, read from the database itself: Django's
    introspection splits a key of two columns into two on SQLite."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            keys = {}  # one row per column, in order, under the key's id
            for key_id, _seq, to_table, column, to_column, *_ in cursor.execute(f"PRAGMA foreign_key_list({table})"):
                _to, columns, to_columns = keys.setdefault(key_id, (to_table, [], []))
                columns.append(column)
                to_columns.append(to_column)
            return {(tuple(cols), to_table, tuple(to_cols)) for to_table, cols, to_cols in keys.values()}
        cursor.execute(
            """SELECT array(SELECT attname FROM unnest(conkey) WITH ORDINALITY AS k(n, i)
                            JOIN pg_attribute ON attrelid = conrelid AND attnum = n ORDER BY i),
                      confrelid::regclass::text,
                      array(SELECT attname FROM unnest(confkey) WITH ORDINALITY AS k(n, i)
                            JOIN pg_attribute ON attrelid = confrelid AND attnum = n ORDER BY i)
                 FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass""",
            [table],
        )
        return {(tuple(cols), to_table, tuple(to_cols)) for cols, to_table, to_cols in cursor.fetchall()}


@pytest.mark.parametrize(
    ("model", "fields", "target", "target_columns"), COMPOSITE, ids=[f"{m.__name__}.{f[0]}" for m, f, *_ in COMPOSITE]
)
def test_the_link_and_its_school_are_one_foreign_key_in_the_database(model, fields, target, target_columns):
    columns = tuple(model._meta.get_field(f).column for f in fields)
    assert (columns, target, tuple(target_columns)) in _foreign_keys(model)


def test_every_school_link_of_a_school_owned_model_is_constrained():
    """A new school-owned model, or one of these made unconstrained again, fails here too."""
    from django.apps import apps

    from tenancy.models import School

    def in_a_composite_key(model, field):
        return any(isinstance(c, CompositeForeignKey) and field.name in c.fields for c in model._meta.constraints)

    unconstrained = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation
        and field.related_model is School
        and not field.db_constraint
        and not in_a_composite_key(model, field)
    ]
    # The sync's change bookkeeping, written by database triggers: a school's deletion writes rows of
    # its own there as it goes, so they must not be checked against it (provisioning/models.py).
    assert sorted(unconstrained) == ["SchoolDataChange.school", "SchoolDataVersion.school"]
