"""The sync history's picture: joiners, leavers, changes and skips per run, oldest on the left, each column
a link to its run (drawn by templates/_chart_columns.html)."""

from django.urls import reverse
from django.utils import timezone

from tenancy.charts import Column, Series, column_chart

# Which of a run's counts (SyncPlan.add) each part of a column adds up.
SERIES = [
    (Series("joiners", "Joiners"), ("create", "transfer", "reactivate")),
    (Series("leavers", "Leavers"), ("archive",)),
    (Series("changes", "Changes"), ("update", "link_create", "link_update", "link_archive")),
    (Series("errors", "Skipped or refused"), ("skipped", "link_skipped")),
]


def run_values(counts: dict) -> dict[str, int]:
    counts = counts or {}
    return {s.key: sum(counts.get(k, 0) for k in keys) for s, keys in SERIES}


def runs_chart(school, runs) -> dict | None:
    """The planned runs among `runs` (newest first, as the history lists them), or None when there are none."""
    planned = [r for r in runs if r.planned_at][::-1]
    if not planned:
        return None
    columns = [
        Column(
            label=f"{timezone.localtime(r.created_at):%-d %b %H:%M}",
            note="" if r.state == "applied" else " (preview only)",
            href=reverse("sync_run_detail", kwargs={"school_slug": school.slug, "run_id": r.pk}),
            values=run_values(r.counts),
        )
        for r in planned
    ]
    return column_chart(columns, [s for s, _keys in SERIES])
