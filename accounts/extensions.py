"""What the apps above accounts add to accounts' screens, without accounts importing them.

Like accounts/erasure.py: each app registers its functions in its AppConfig.ready().
- history_source(fn): fn(school=, account=, limit=) returns entries of the account's history at the school,
  each {"at", "what", "who", "changes": [(field, before, after)]} (provisioning: what applied syncs did).
- started_assessments_source(fn): fn(school=, membership_ids=) returns those of the memberships whose person
  has started an assessment (assessments: the Users list's Info link).
"""

from collections.abc import Callable, Iterable

from tenancy.models import School

HistorySource = Callable[..., list[dict]]
StartedSource = Callable[..., Iterable]
_history_sources: list[HistorySource] = []
_started_sources: list[StartedSource] = []


def history_source(source: HistorySource) -> HistorySource:
    if source not in _history_sources:
        _history_sources.append(source)
    return source


def started_assessments_source(source: StartedSource) -> StartedSource:
    if source not in _started_sources:
        _started_sources.append(source)
    return source


def history_entries(*, school: School, account, limit: int) -> list[dict]:
    """Every other app's entries of the account's history at this school (at most `limit` each)."""
    return [entry for source in _history_sources for entry in source(school=school, account=account, limit=limit)]


def started_assessment_ids(*, school: School, membership_ids: list) -> set:
    return {pk for source in _started_sources for pk in source(school=school, membership_ids=membership_ids)}
