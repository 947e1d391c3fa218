"""A plan's items and outcomes: the SyncPlan every planning stage adds to, and what one item holds.

An item is a plain dict (stored as a SyncRecord as it is); SyncPlan counts each outcome as it is added and
keeps every item that changes or skips something.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from provisioning.models import SyncRecord

Outcome = SyncRecord.Outcome


@dataclass
class SyncPlan:
    items: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fingerprint: str = ""
    guard_count: int = 0
    guard_threshold: int = 0
    reactivations: list[dict] = field(default_factory=list)  # of accounts another school runs, to settle
    # Usernames (lower case) this plan gives, to newcomers and renames alike: none may be given twice.
    usernames_given: set[str] = field(default_factory=set)

    def add(self, item: dict) -> None:
        key = item["outcome"] if item["entity"] == "person" else f"link_{item['outcome']}"
        self.counts[key] += 1
        if item["outcome"] != Outcome.UNCHANGED:
            self.items.append(item)


def plan_item(
    outcome: Outcome,
    person_type,
    code,
    *,
    membership_id="",
    account_id="",
    username="",
    before=None,
    after=None,
    reason="",
    entity="person",
) -> dict:
    return {
        "entity": entity,
        "outcome": outcome.value,  # the plain text a stored record holds: plans compare equal however made
        "person_type": person_type,
        "mis_code": code,
        "membership_id": membership_id,
        "account_id": account_id,
        "username": username,
        "before": before or {},
        "after": after or {},
        "reason": reason,
    }


def wanted_values(person_type: str, person: dict) -> tuple[dict, dict]:
    """Account and membership values the feed asks for (empty optional values keep what is held)."""
    account = {"given_name": person["given_name"], "family_name": person["family_name"]}
    if person["email"]:
        account["email"] = person["email"]
    if person_type == "student" and person.get("upn"):
        account["upn"] = person["upn"]
    membership = {}
    if person_type == "student":
        membership = {"year_group": person["year_group"], "form": person["form"]}
    elif person_type == "contact":
        membership = {"portal_access": person["portal_access"]}
    return account, membership
