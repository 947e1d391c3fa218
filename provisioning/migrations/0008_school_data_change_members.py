# PostgreSQL only: each change row also names the memberships its transaction wrote to (members), so a night
# after edits by hand can still plan from what changed: the people edited by hand are planned again along with
# the feed's changed lines (provisioning/sync/incremental.py). A deleted membership, or emptying a table, makes
# the row incomplete (it cannot say whom): the next run then compares everything.
#
# A sync names no members for its own school (its run folds its own row before it commits, and a first import
# would otherwise carry 200,000 ids): it sets rollcall.sync_school for its transaction (plan.sync_writes).
# Its writes to another school's rows (a transfer closes the old school's membership) are named as any edit.
# Otherwise as 0007: one upsert per school per statement, through EXECUTE, JIT off.

from django.db import migrations

COMPARED = ["username", "given_name", "family_name", "email", "upn", "home_school_id"]

# The statement's (school_id, member) pairs are in `changed`; $1: complete, $2: the syncing school, if any.
UPSERT = """
    'INSERT INTO provisioning_schooldatachange AS c (school_id, xact, statements, members, complete)'
    ' SELECT school_id, pg_current_xact_id()::text::bigint, 1,'
    '        coalesce(array_agg(DISTINCT member) FILTER (WHERE member IS NOT NULL AND school_id::text IS DISTINCT FROM $2), ''{}''), $1'
    '   FROM (' || pairs || ') AS changed GROUP BY school_id'
    ' ON CONFLICT (school_id, xact) DO UPDATE SET statements = c.statements + 1,'
    '        members = c.members || excluded.members, complete = c.complete AND excluded.complete'
"""
SYNC_SCHOOL = "current_setting('rollcall.sync_school', true)"

FUNCTIONS_WITH_MEMBERS = f"""
CREATE OR REPLACE FUNCTION provisioning_school_rows_changed() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    source text := CASE TG_OP WHEN 'INSERT' THEN 'SELECT * FROM new_rows' WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
                   ELSE 'SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows' END;
    pairs text := CASE TG_TABLE_NAME
        WHEN 'accounts_membership' THEN 'SELECT school_id, id AS member FROM (' || source || ') AS r'
        WHEN 'accounts_roleassignment' THEN 'SELECT school_id, membership_id AS member FROM (' || source || ') AS r'
        ELSE 'SELECT school_id, contact_id AS member FROM (' || source || ') AS r'
             || ' UNION ALL SELECT school_id, student_id FROM (' || source || ') AS r' END;
BEGIN
    EXECUTE {UPSERT}
        USING NOT (TG_OP = 'DELETE' AND TG_TABLE_NAME = 'accounts_membership'), {SYNC_SCHOOL};
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION provisioning_school_accounts_changed() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    pairs text := 'SELECT school_id, id AS member FROM accounts_membership'
        ' WHERE account_id = ANY (ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id'
        ' WHERE ({", ".join(f"n.{c}" for c in COMPARED)})'
        ' IS DISTINCT FROM ({", ".join(f"o.{c}" for c in COMPARED)})))';
BEGIN
    EXECUTE {UPSERT} USING true, {SYNC_SCHOOL};
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION provisioning_school_data_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pairs text := 'SELECT id AS school_id, NULL::uuid AS member FROM tenancy_school';
BEGIN
    EXECUTE {UPSERT} USING false, NULL::text;
    RETURN NULL;
END $$;
"""


def members_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE provisioning_schooldatachange ADD COLUMN members uuid[] NOT NULL DEFAULT '{}',"
        " ADD COLUMN complete boolean NOT NULL DEFAULT true"
    )
    schema_editor.execute(FUNCTIONS_WITH_MEMBERS)


def members_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    previous = __import__("importlib").import_module("provisioning.migrations.0007_school_data_version")
    schema_editor.execute(previous.FUNCTIONS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    schema_editor.execute("ALTER TABLE provisioning_schooldatachange DROP COLUMN members, DROP COLUMN complete")


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0007_school_data_version")]

    operations = [migrations.RunPython(members_create, members_drop)]
