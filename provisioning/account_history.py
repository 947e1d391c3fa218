"""What applied MIS syncs did to an account, for its history on the Users screens (registered with
accounts.extensions in ProvisioningConfig.ready()): a sync's stored plan is its per-record audit trail, not
written twice."""

from provisioning.models import SyncRun
from provisioning.sync.selectors import records_for_account
from tenancy.models import School


def sync_history_entries(*, school: School, account, limit: int) -> list[dict]:
    records = records_for_account(school=school, account_id=account.pk).filter(run__state=SyncRun.State.APPLIED)
    entries = []
    for record in records[:limit]:
        before, after = record.before or {}, record.after or {}
        entries.append(
            {
                "at": record.run.applied_at or record.run.created_at,
                "what": f"MIS sync: {record.get_outcome_display()}",
                "who": f"sync run ({record.run.get_trigger_display()})",
                "changes": [
                    (field, before.get(field), after[field]) for field in after if before.get(field) != after[field]
                ],
            }
        )
    return entries
