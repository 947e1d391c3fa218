"""The workbooks an upload gives back: the file with each row's outcome, and the starter codes."""

from provisioning.upload.reader import Table
from provisioning.upload.services.plan import OUTCOME_LABELS, Plan


def neutralise(value):
    """A cell as it may safely be written to a spreadsheet: no formula, no character XML forbids."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def report_workbook(table: Table, plan: Plan, labels: dict[str, str] = OUTCOME_LABELS) -> bytes:
    """The uploaded rows given back with Outcome and Message columns, the faulty cells highlighted."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    bad = PatternFill("solid", fgColor="F8C9C4")
    warn = PatternFill("solid", fgColor="FCE8B2")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Users")
    width = len(table.header)
    by_number = {row.number: row for row in plan.rows}
    index_of = {label: plan.headers.positions[key] for key, label in plan.headers.labels.items()}
    for _ in range(table.header_row - 1):
        sheet.append([])
    header = [WriteOnlyCell(sheet, neutralise(h)) for h in (*table.header, "Outcome", "Message")]
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
        out = []
        for index, value in enumerate(values[:width]):
            if index in fills:
                cell = WriteOnlyCell(sheet, neutralise(value))
                cell.fill = fills[index]
                out.append(cell)
            else:
                out.append(neutralise(value))
        out += [labels[row.outcome], neutralise(row.messages)]
        sheet.append(out)
    return _save(workbook)


def _save(workbook) -> bytes:
    import io

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def credentials_workbook(credentials: list[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Starter codes")
    sheet.append(["Username", "Given Names", "Family Name", "Email", "Starter code", "Expires"])
    for item in credentials:
        account = item["account"]
        sheet.append([neutralise(v) for v in (account.username, account.given_name, account.family_name,
                                              account.email, item["code"], f"{item['expires']:%d %b %Y}")])  # fmt: skip
    return _save(workbook)
