# PostgreSQL only: the Users list search's four account trigram indexes (username, family name, given
# name, email; 0006) become one, over the four columns joined by spaces. Every account a sync writes went
# into all four GIN indexes (a 100,000-person first import; each name change after it, never a HOT
# update); now into one. The search matches each word against this same expression; a word never holds
# a space, so it cannot match across two columns. The MIS code keeps its own index (another table).
#
# The expression is what the search's icontains compiles to: UPPER(<ACCOUNT_SEARCH_TEXT in
# accounts/selectors.py>::text), where Django's Concat wraps each part in COALESCE (the columns are never
# NULL, so it changes nothing). Written out rather than generated, so that a Django whose Concat compiles
# differently fails tests/accounts/test_users_list.py (which checks the plan uses this index) instead of
# quietly leaving existing databases with an index no query matches.

from django.db import migrations

SEARCH_INDEX = "account_search_trgm_idx"
SEARCH_EXPRESSION = """UPPER((
    COALESCE("username", '') || COALESCE((COALESCE(' ', '') || COALESCE((
    COALESCE("family_name", '') || COALESCE((COALESCE(' ', '') || COALESCE((
    COALESCE("given_name", '') || COALESCE((COALESCE(' ', '') || COALESCE("email", '')), '')), '')), '')), '')), ''
)))"""
# (name, column) as 0006 created them.
REPLACED = [
    ("account_username_trgm_idx", "username"),
    ("account_family_trgm_idx", "family_name"),
    ("account_given_trgm_idx", "given_name"),
    ("account_email_trgm_idx", "email"),
]


def one_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON accounts_account USING gin (({SEARCH_EXPRESSION}) gin_trgm_ops)"
    )
    for name, _column in REPLACED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def four_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in REPLACED:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON accounts_account USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
    schema_editor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_school_role_job_links_unconstrained"),
    ]

    operations = [migrations.RunPython(one_search_index, four_search_indexes)]
