"""The workbooks an upload gives back: the file with each row's outcome, and the starter codes."""

from provisioning.upload.reader import Table
from provisioning.upload.services.plan import OUTCOME_LABELS, UploadPlan
from tenancy import spreadsheets


def report_workbook(table: Table, plan: UploadPlan, labels: dict[str, str] = OUTCOME_LABELS) -> bytes:
    """The uploaded rows given back with Outcome and Message columns, the faulty cells highlighted."""
    bad, warn = spreadsheets.fill_style(0), spreadsheets.fill_style(1)
    width = len(table.header)
    by_number = {row.number: row for row in plan.rows}
    index_of = {label: plan.headers.positions[key] for key, label in plan.headers.labels.items()}

    def rows():
        for _ in range(table.header_row - 1):
            yield []
        yield [(v, spreadsheets.BOLD) for v in (*table.header, "Outcome", "Message")]
        next_number = table.header_row + 1
        for number, cells in table.rows:
            for _ in range(number - next_number):
                yield []
            next_number = number + 1
            row = by_number[number]
            out = [*cells[:width], *[None] * (width - len(cells)), labels[row.outcome], row.messages]
            for problem in row.problems:
                at = index_of.get(problem.column)
                if at is not None and not isinstance(out[at], tuple):
                    out[at] = (out[at], warn if problem.warning else bad)
                elif at is not None and not problem.warning:
                    out[at] = (out[at][0], bad)  # an error outranks a warning on the same cell
            yield out

    return spreadsheets.row_workbook("Users", rows(), fills=("F8C9C4", "FCE8B2"))


def credentials_workbook(credentials: list[dict]) -> bytes:
    header = ["User Name", "Given Names", "Family Name", "Email", "Starter code", "Expires"]
    rows = [header] + [
        [c["username"], c["given_name"], c["family_name"], c["email"], c["code"], f"{c['expires']:%d %b %Y}"]
        for c in credentials
    ]
    return spreadsheets.row_workbook("Starter codes", rows)
