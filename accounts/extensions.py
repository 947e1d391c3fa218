"""What the apps above accounts add to accounts' screens, without accounts importing them.

Like accounts/erasure.py: each app registers its functions in its AppConfig.ready().
- history_source(fn): fn(school=, account=, limit=) returns entries of the account's history at the school,
  each {"at", "what", "who", "changes": [(field, before, after)]} (provisioning: what applied syncs did).
- started_assessments_source(fn): fn(school=, membership_ids=) returns those of the memberships whose person
  has started an assessment (assessments: the Users list's Info link).
- signed_in_services_source(fn): fn(account=) returns the services the account signed in to with Rollcall, each
  {"name", "last_at", "signed_out": bool, "sign_out_url"} (signon: the profile's list with Sign out).
- sign_in_ended_hook(fn): fn(account_ids=, actor=, reason=) ends whatever the accounts are signed in to beyond
  Rollcall's own session (signon: the services' tokens), at once, in the caller's transaction. Called when an
  account is locked out, un-approved or its access revoked (erasure has accounts.erasure.on_account_erased).
"""

from collections.abc import Callable, Iterable

from tenancy.models import School

HistorySource = Callable[..., list[dict]]
StartedSource = Callable[..., Iterable]
_history_sources: list[HistorySource] = []
_started_sources: list[StartedSource] = []
SignedInSource = Callable[..., list[dict]]
_signed_in_sources: list[SignedInSource] = []
SignInEnded = Callable[..., object]
_sign_in_ended: list[SignInEnded] = []


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


def sign_in_ended_hook(hook: SignInEnded) -> SignInEnded:
    if hook not in _sign_in_ended:
        _sign_in_ended.append(hook)
    return hook


def sign_in_ended(*, account_ids: list, actor, reason: str) -> None:
    """The accounts may no longer sign in: every registered app ends their sign-ins elsewhere."""
    if account_ids:
        for hook in _sign_in_ended:
            hook(account_ids=list(account_ids), actor=actor, reason=reason)


def signed_in_services_source(source: SignedInSource) -> SignedInSource:
    if source not in _signed_in_sources:
        _signed_in_sources.append(source)
    return source


def signed_in_services(*, account) -> list[dict]:
    return [entry for source in _signed_in_sources for entry in source(account=account)]
