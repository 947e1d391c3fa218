"""What applied MIS syncs did to an account, for its history on the Users screens (registered with
accounts.extensions in ProvisioningConfig.ready()): a sync's stored plan is its per-record audit trail, not
written twice. In the words of provisioning.sync.labels."""

from accounts.labels import labelled_changes, role_names
from provisioning.models import SyncRun
from provisioning.sync import labels
from provisioning.sync.selectors import records_for_account
from tenancy.models import School


def sync_history_entries(*, school: School, account, limit: int) -> list[dict]:
    records = records_for_account(school=school, account_id=account.pk).filter(run__state=SyncRun.State.APPLIED)
    roles = role_names()
    entries = []
    for record in records[:limit]:
        entries.append(
            {
                "at": record.run.applied_at or record.run.created_at,
                "what": f"MIS sync: {labels.outcome_label(record.outcome, record.entity)}",
                "who": f"Sync ({record.run.get_trigger_display().lower()})",
                "changes": labelled_changes(record.before, record.after, roles),
            }
        )
    return entries
