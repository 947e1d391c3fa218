# Drops the single-column indexes Django gave these foreign keys where another index already starts with
# the same column, or no query uses them; an MIS sync's initial import writes 100,000 rows into each of
# these tables and every index costs it about as much as the rows themselves.
#
# Only the indexes go: the database side is DROP INDEX (AlterField would drop and re-add every foreign key
# constraint too, re-checking whole tables under lock). The reverse re-creates them.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, index, column): the names Django generated in 0001/0002, the same on PostgreSQL and SQLite.
DROPPED = [
    # contact_link_once (contact_id, student_id) starts with it.
    ("accounts_contactlink", "accounts_contactlink_contact_id_e00cee77", "contact_id"),
    # membership_once_per_type, membership_mis_code_unique and the four school indexes start with it.
    ("accounts_membership", "accounts_membership_school_id_8e4efe2f", "school_id"),
    # Replaced by role_assignment_granter_idx, which leaves out the sync's rows (no granter).
    ("accounts_roleassignment", "accounts_roleassignment_granted_by_id_2f0dcb23", "granted_by_id"),
    # role_assignment_once (membership_id, role_id) starts with it.
    ("accounts_roleassignment", "accounts_roleassignment_membership_id_5dc72314", "membership_id"),
    # Every query by role names the school too: role_assignment_role_idx (school_id, role_id).
    ("accounts_roleassignment", "accounts_roleassignment_role_id_9ce8e4dd", "role_id"),
    # role_assignment_role_idx (school_id, role_id) starts with it.
    ("accounts_roleassignment", "accounts_roleassignment_school_id_cc699e06", "school_id"),
    # starter_code_lookup_idx (account_id, code_hash) starts with it.
    ("accounts_startercode", "accounts_startercode_account_id_cc63190a", "account_id"),
    # starter_code_expiry_idx (school_id, expires_at) starts with it.
    ("accounts_startercode", "accounts_startercode_school_id_f11bd073", "school_id"),
]
# PostgreSQL only: a LIKE index on role codes, which nothing searches with LIKE.
DROPPED_PG = [
    ("accounts_roleassignment", "accounts_roleassignment_role_id_9ce8e4dd_like", "role_id varchar_pattern_ops"),
]


def _dropped(schema_editor):
    return DROPPED + (DROPPED_PG if schema_editor.connection.vendor == "postgresql" else [])


def drop_indexes(apps, schema_editor):
    for _table, index, _column in _dropped(schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(index)}")


def recreate_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, index, column in _dropped(schema_editor):
        name, *opclass = column.split()
        schema_editor.execute(f"CREATE INDEX {quote(index)} ON {quote(table)} ({quote(name)} {' '.join(opclass)})")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_users_list_status_deleted_indexes"),
        ("tenancy", "0002_api_token"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactlink",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="student_links",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="membership",
                    name="school",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.school",
                    ),
                ),
                migrations.AlterField(
                    model_name="roleassignment",
                    name="granted_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="roleassignment",
                    name="membership",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="role_assignments",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="roleassignment",
                    name="role",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.role",
                    ),
                ),
                migrations.AlterField(
                    model_name="roleassignment",
                    name="school",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.school",
                    ),
                ),
                migrations.AlterField(
                    model_name="startercode",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="starter_codes",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="startercode",
                    name="school",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.school",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, recreate_indexes)],
        ),
        migrations.AddIndex(
            model_name="roleassignment",
            index=models.Index(
                condition=models.Q(("granted_by__isnull", False)),
                fields=["granted_by"],
                name="role_assignment_granter_idx",
            ),
        ),
    ]
