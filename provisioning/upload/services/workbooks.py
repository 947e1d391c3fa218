"""The workbooks an upload gives back: the file with each row's outcome, and the starter codes."""

from provisioning.upload.reader import Table
from provisioning.upload.services.plan import OUTCOME_LABELS, UploadPlan
from tenancy import spreadsheets
from tenancy.spreadsheets import text_cell, text_cells


def report_workbook(table: Table, plan: UploadPlan, labels: dict[str, str] = OUTCOME_LABELS) -> bytes:
    """The uploaded rows given back with Outcome and Message columns, the faulty cells highlighted."""
    from openpyxl.styles import Font, PatternFill

    bad = PatternFill("solid", fgColor="F8C9C4")
    warn = PatternFill("solid", fgColor="FCE8B2")
    workbook = spreadsheets.workbook(write_only=True)
    sheet = workbook.create_sheet("Users")
    width = len(table.header)
    by_number = {row.number: row for row in plan.rows}
    index_of = {label: plan.headers.positions[key] for key, label in plan.headers.labels.items()}
    for _ in range(table.header_row - 1):
        sheet.append([])
    header = text_cells(sheet, (*table.header, "Outcome", "Message"))
    for cell in header:
        cell.font = Font(bold=True)
    sheet.append(header)
    next_number = table.header_row + 1
    for number, cells in table.rows:
        for _ in range(number - next_number):
            sheet.append([])
        next_number = number + 1
        row = by_number[number]
        fills = {}
        for problem in row.problems:
            if problem.column in index_of:
                fills[index_of[problem.column]] = (
                    warn if problem.warning and fills.get(index_of[problem.column]) is None else bad
                )
        values = list(cells) + [None] * (width - len(cells))
        out = text_cells(sheet, [*values[:width], labels[row.outcome], row.messages])
        for index, fill in fills.items():
            out[index].fill = fill
        sheet.append(out)
    return _save(workbook)


def _save(workbook) -> bytes:
    return spreadsheets.xlsx_bytes(workbook)


def credentials_workbook(credentials: list[dict]) -> bytes:
    workbook = spreadsheets.workbook(write_only=True)
    sheet = workbook.create_sheet("Starter codes")
    sheet.append(text_cells(sheet, ["User Name", "Given Names", "Family Name", "Email", "Starter code", "Expires"]))
    for item in credentials:
        sheet.append([text_cell(sheet, v) for v in (item["username"], item["given_name"], item["family_name"],
                                              item["email"], item["code"], f"{item['expires']:%d %b %Y}")])  # fmt: skip
    return _save(workbook)
