"""Assessment Access: which assessments a person may take at a school."""

from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Account
from accounts.permissions import AccountAction
from accounts.services import Actor, check_may_act_on_account
from assessments import selectors
from assessments.models import (
    AssessmentHidden,
)
from tenancy.models import School

# --- Assessment Access ----------------------------------------------------------------------------


@transaction.atomic
def assessment_access_set(
    *, school: School, actor: Account, account: Account, hidden_assessment_ids: set
) -> dict[str, list[str]]:
    """Ticked = hidden. Only assessments that the person could be offered are considered."""
    check_may_act_on_account(
        actor=Actor(account=actor, school=school), account=account, action=AccountAction.ASSESSMENT_ACCESS
    )
    offered = {a.pk: a for a in selectors.assessments_offered(school=school, account=account, include_hidden=True)}
    wanted = {pk for pk in offered if str(pk) in {str(h) for h in hidden_assessment_ids}}
    current = set(
        AssessmentHidden.objects.filter(school=school, account=account, assessment_id__in=offered).values_list(
            "assessment_id", flat=True
        )
    )
    to_hide, to_show = wanted - current, current - wanted
    AssessmentHidden.objects.bulk_create(
        AssessmentHidden(school=school, account=account, assessment_id=pk, hidden_by=actor) for pk in to_hide
    )
    AssessmentHidden.objects.filter(school=school, account=account, assessment_id__in=to_show).delete()
    changes = {
        "hidden": sorted(offered[pk].title for pk in to_hide),
        "unhidden": sorted(offered[pk].title for pk in to_show),
    }
    if to_hide or to_show:
        audit_record(action="assessments.access.changed", actor=actor, school=school, target=account, changes=changes)
    return changes
