"""A sync's outcomes and counts in the words of a data manager, for the preview, the run report and its CSV,
the sync history and the Edit page's History. Field names and values come from accounts.labels, the one
table of field words."""

from accounts.labels import field_label, labelled_changes, value_words

PERSON_OUTCOMES = {
    "create": "New account",
    # A membership here on an account the person already has (a confirmed possible match, a second person
    # type): not a new account (found by trying it).
    "joined": "Added to this school (existing account)",
    "update": "Details changed",
    "transfer": "Moved here from another school",
    "archive": "Leaver",
    "reactivate": "Back again (reactivated)",
    "skipped": "Skipped",
    "unchanged": "Unchanged",
}
LINK_OUTCOMES = {
    "create": "Contact link made",
    "update": "Contact link changed",
    "archive": "Contact link removed",
    "skipped": "Contact link skipped",
    "unchanged": "Contact link unchanged",
}
# The counts a run keeps (SyncPlan.add): one label each, plural, as the counts read.
COUNT_LABELS = {
    "create": "New accounts",
    "update": "Details changed",
    "transfer": "Moved here from another school",
    "archive": "Leavers",
    "reactivate": "Back again (reactivated)",
    "skipped": "Skipped",
    "unchanged": "Unchanged",
    "link_create": "Contact links made",
    "link_update": "Contact links changed",
    "link_archive": "Contact links removed",
    "link_skipped": "Contact links skipped",
    "link_unchanged": "Contact links unchanged",
    "contacts_to_revoke": "Contacts moving into Ready to Revoke Access",
}
PERSON_TYPES = {"student": "Student", "staff": "Staff", "contact": "Contact"}

# The CSV's field columns, in the order a person reads a record (each as "<label> before", "<label> after").
CSV_FIELDS = [
    "username", "given_name", "family_name", "email", "upn", "mis_code", "year_group", "form", "portal_access",
    "relationship", "roles", "status",
]  # fmt: skip


def outcome_label(outcome: str, entity: str = "person") -> str:
    table = LINK_OUTCOMES if entity == "link" else PERSON_OUTCOMES
    return table.get(outcome, value_words("outcome", outcome))


def count_label(key: str) -> str:
    return COUNT_LABELS.get(key) or value_words("count", key.replace("_", " ").capitalize())


def person_type_label(person_type: str) -> str:
    return PERSON_TYPES.get(person_type, person_type.capitalize())


def record_changes(record, roles: dict[str, str]) -> list[tuple[str, str, str]]:
    return labelled_changes(record.before, record.after, roles)


def csv_header() -> list[str]:
    fields = [f"{field_label(f)} {when}" for f in CSV_FIELDS for when in ("before", "after")]
    return ["Outcome", "Person type", "MIS Code", "User Name", "Name", "Contact", "Student", "Reason", *fields]


def csv_field_cells(record, roles: dict[str, str]) -> list[str]:
    """Before and after of each CSV field: empty where the record does not touch it."""
    cells = []
    for field in CSV_FIELDS:
        if field in record.after:
            old = value_words(field, record.before.get(field), roles) if field in record.before else ""
            cells += [old, value_words(field, record.after[field], roles)]
        elif field in record.before:
            cells += [value_words(field, record.before[field], roles), ""]
        else:
            cells += ["", ""]
    return cells
