"""Decisions on newcomers the sync held as possible matches (plan_newcomers.py): kept for the runs that follow.

A decision is taken on a record of one of the school's own runs, never on an account named by the browser: the
account is the one the plan found in the school's organisation, so nobody can point it at anyone else.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Account
from accounts.permissions import AccountAction
from accounts.services.actor import Actor
from accounts.services.authority import check_may_act_on_account
from provisioning.models import NewcomerMatch, SyncRecord, SyncRun
from provisioning.sync.plan_item import Outcome
from provisioning.sync.plan_newcomers import NEEDS_DECISION
from tenancy.models import School

GONE = "That newcomer is no longer waiting for a decision in this preview. Press Synchronise Users for a fresh one."


def held_record(*, school: School, run: SyncRun, person_type: str, mis_code: str) -> SyncRecord | None:
    """The run's record of a newcomer held as a possible match, or None."""
    return (
        SyncRecord.objects.filter(
            school=school,
            run=run,
            entity="person",
            outcome=Outcome.SKIPPED,
            person_type=person_type,
            mis_code=mis_code,
            reason__startswith=NEEDS_DECISION,
            account_id__isnull=False,
        )
        .order_by("id")
        .first()
    )


@transaction.atomic
def newcomer_match_decide(
    *, school: School, actor: Account, run: SyncRun, person_type: str, mis_code: str, decision: str
) -> NewcomerMatch:
    """Same person (a membership at this school for the account found) or Different person (a new account).

    Same person must be within the decider's authority over that account (accounts.services.authority): adding
    another school's Centre Admin to this school is refused. Audited on the account either way."""
    if decision not in NewcomerMatch.Decision.values:
        raise ValidationError("Choose Same person or Different person.")
    record = held_record(school=school, run=run, person_type=person_type, mis_code=mis_code)
    if record is None:
        raise ValidationError(GONE)
    account = Account.objects.filter(pk=record.account_id, deleted_at__isnull=True).first()
    if account is None:
        raise ValidationError(GONE)
    if decision == NewcomerMatch.Decision.SAME:
        check_may_act_on_account(actor=Actor(account=actor, school=school), account=account, action=AccountAction.ROLES)
    match, _ = NewcomerMatch.objects.update_or_create(
        school=school,
        person_type=person_type,
        mis_code=mis_code,
        defaults={"account": account, "decision": decision, "decided_by": actor},
    )
    audit_record(
        action="provisioning.newcomer_match.decided",
        actor=actor,
        school=school,
        target=account,
        changes={
            "decision": [None, match.get_decision_display()],
            "person_type": [None, person_type],
            "mis_code": [None, mis_code],
        },
    )
    return match
