# PostgreSQL: leave a tenth of each accounts_account page free, so an update that changes no indexed column
# (is_active when a sync archives a leaver, last_login at sign-in, the password, must_change_password) can
# write the new row version on the same page without an entry in each of the table's ten indexes (four of them
# trigram GIN indexes) - a "HOT" update. With full pages every such update inserted into all ten: a sync
# deactivating 2,000 leavers spent ~0.35 s on it, ~0.15 s with this.
#
# It applies to pages written from now on (a sync's new accounts, every updated row's new version); existing
# pages fill up to it as rows move. Nothing on SQLite.

from django.db import migrations


def _alter(schema_editor, sql):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql)


def set_fillfactor(apps, schema_editor):
    _alter(schema_editor, "ALTER TABLE accounts_account SET (fillfactor = 90)")


def reset_fillfactor(apps, schema_editor):
    _alter(schema_editor, "ALTER TABLE accounts_account RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_fk_indexes_covered_by_composites")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
