"""Support staff's progress of the night: how many schools' nightly work is done, waiting, running, failed or
stopped by the mass-change guard, and which schools need someone. The page (/support/night/) and the API
(/api/support/night/) read only this.

"The night" is every school's most recent night sent by the tick (provisioning.sync.nightly), sent within the
last NIGHT_HOURS; an active school with none is "not sent yet" (its nightly time has not come).
"""

import statistics
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone
from django_scopes import scopes_disabled

from provisioning.models import SchoolNightly
from tenancy.models import School

NIGHT_HOURS = 20
LISTED = 200  # schools named per state on the page: support acts on the first ones, the counts say the rest

State = SchoolNightly.State


def night_progress(*, now: datetime | None = None) -> dict:
    """The night's counts by state, its start and last finish, the median and slowest school's time, and the
    schools that failed or were stopped by the guard (with why), newest first."""
    now = now or timezone.now()
    with scopes_disabled():  # support staff's view of every school's night
        tonight = SchoolNightly.objects.filter(sent_at__gte=now - timedelta(hours=NIGHT_HOURS), school__is_active=True)
        counts = dict(tonight.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
        schools = School.objects.filter(is_active=True).count()
        sent = sum(counts.values())
        times = sorted(s for s in tonight.filter(seconds__isnull=False).values_list("seconds", flat=True))
        first_sent = tonight.order_by("sent_at").values_list("sent_at", flat=True).first()
        last_finished = tonight.order_by("-finished_at").values_list("finished_at", flat=True).first()
        needing = {
            state: list(
                tonight.filter(state=state)
                .select_related("school")
                .order_by("-finished_at")
                .values("school__name", "school__slug", "failure", "finished_at")[:LISTED]
            )
            for state in (State.FAILED, State.GUARDED)
        }
    return {
        "schools": schools,
        "not_sent": max(schools - sent, 0),
        **{state.value: counts.get(state.value, 0) for state in State},
        "first_sent_at": first_sent,
        "last_finished_at": last_finished,
        "median_seconds": round(statistics.median(times), 3) if times else None,
        "slowest_seconds": round(times[-1], 3) if times else None,
        "failed_schools": [_school(row) for row in needing[State.FAILED]],
        "guarded_schools": [_school(row) for row in needing[State.GUARDED]],
    }


def _school(row: dict) -> dict:
    return {"name": row["school__name"], "slug": row["school__slug"], "failure": row["failure"],
            "finished_at": row["finished_at"]}  # fmt: skip
