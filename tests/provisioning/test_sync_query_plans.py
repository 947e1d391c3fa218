"""A sync's transaction costs index probes as the cached pages they are (bulk.prefer_index_lookups): its
look-ups and writes of a few thousand rows by key then use the keys' indexes instead of hash-joining against a
full scan of the school's accounts. Nothing else's queries change."""

import pytest
from django.db import connection

from provisioning.models import SyncRun
from provisioning.sync import incremental, services
from tests.provisioning.sync_helpers import feed_zip, receive, student

pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL planner setting")


def random_page_cost() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        return cursor.fetchone()[0]


@pg_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_planning_and_apply_cost_index_probes_as_cached_pages_inside_the_run_only(school_a, monkeypatch):
    server_default = random_page_cost()
    seen = {}
    real_plan, real_apply = incremental.plan_changes, services.apply_plan

    def plan_spy(**kwargs):
        seen["plan"] = random_page_cost()
        return real_plan(**kwargs)

    def apply_spy(**kwargs):
        seen["apply"] = random_page_cost()
        return real_apply(**kwargs)

    monkeypatch.setattr(incremental, "plan_changes", plan_spy)
    monkeypatch.setattr(services, "apply_plan", apply_spy)
    feed = receive(school_a, feed_zip(students=[student("S1"), student("S2", "Bo")]))
    run = SyncRun.objects.create(school=school_a, feed=feed, trigger="scheduled", dry_run=False)
    services.sync_plan(run=run)

    assert run.state == SyncRun.State.APPLIED and run.counts["create"] == 2
    assert seen == {"plan": "1.1", "apply": "1.1"}
    assert random_page_cost() == server_default != "1.1"  # local to the run's transaction
