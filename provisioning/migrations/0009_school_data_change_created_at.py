# PostgreSQL only: when each change row was first written, so rows that no sync folds (a school that does not
# sync, or whose nightly run is off) can be folded by the scheduler's housekeeping after a while instead of
# piling up (plan.stale_changes_fold).

from django.db import migrations


def created_at_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE provisioning_schooldatachange ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()"
        )


def created_at_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE provisioning_schooldatachange DROP COLUMN created_at")


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0008_school_data_change_members")]

    operations = [migrations.RunPython(created_at_add, created_at_drop)]
