"""The mass-change guard: a run that would archive or rename many accounts waits for a person to confirm it.

Its one rule: the count is the plan's archives plus its renames; the threshold is the policy's, or 10% of
the school's active memberships rounded up, at most 500; a run whose count is over the threshold stops at
Needs confirmation, its nominated contacts are emailed (notifications.py), and Apply asks for the
confirmation. The revoke warning (revoke_warning.py) holds the contacts a run moves into Ready to Revoke
Access to the same threshold.
"""

from provisioning.sync.plan_item import Outcome


def threshold_for(policy, active_count: int) -> int:
    if policy.guard_threshold is not None:
        return policy.guard_threshold
    return min(-(-active_count // 10), 500)  # 10% rounded up, at most 500


def count(counts: dict, items: list[dict]) -> int:
    """Archives and renames: what the guard counts in a plan (its counts per outcome and its items)."""
    renames = sum(1 for item in items if item["outcome"] == Outcome.UPDATE and "username" in item["after"])
    return counts.get(Outcome.ARCHIVE, 0) + renames


def exceeds(count: int, threshold: int) -> bool:
    return count > threshold


def stops(run) -> bool:
    """Over the guard: the run (or plan) waits for a person to confirm it."""
    return exceeds(run.guard_count, run.guard_threshold)


def confirmation_needed(run) -> str:
    """Apply's refusal of a stopped run that was not confirmed."""
    return (
        f"This run would archive or rename {run.guard_count} accounts, more than the {run.guard_threshold} "
        "allowed without confirmation. Tick the confirmation to apply it."
    )
