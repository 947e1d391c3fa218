"""Two runs for one school never overlap: each holds the school's SyncPolicy row lock (PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled

from provisioning.models import SyncRun
from provisioning.sync import services
from provisioning.sync.policy import policy_lock
from tests.provisioning.sync_helpers import feed_zip, receive, student

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises writers)")
def test_a_second_run_waits_for_the_first_to_finish(school_a):
    feed = receive(school_a, feed_zip([student("S1")]))
    run = SyncRun.objects.create(school=school_a, feed=feed, trigger="manual", dry_run=True)
    holding, release, order = threading.Event(), threading.Event(), []

    def first():
        with scopes_disabled(), transaction.atomic():
            policy_lock(school_a)
            holding.set()
            release.wait(5)
            order.append("first done")
        connection.close()

    def second():
        holding.wait(5)
        with scopes_disabled():
            services.sync_plan(run=run)
        order.append("second planned")
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    assert order == []  # the second run is waiting on the lock, not running alongside
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first done", "second planned"]
