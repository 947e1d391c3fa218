"""The User Summary as a spreadsheet."""

from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from assessments import selectors
from tenancy import spreadsheets
from tenancy.models import School

EXPIRED_FILL = PatternFill("solid", fgColor="FDECEA")
EXPIRING_FILL = PatternFill("solid", fgColor="FFF4E0")


def summary_xlsx(*, school: School) -> bytes:
    assessments = selectors.summary_assessments(school=school)
    workbook = spreadsheets.workbook()
    sheet = workbook.active
    sheet.title = "User Summary"
    header = ["User Name", "Family Name", "Given Names", "Email"]
    for assessment in assessments:
        header += [f"{assessment.title}: Status", "Date", "Expires"]
    sheet.append(spreadsheets.text_cells(sheet, header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    memberships = selectors.summary_people(school=school)
    # One page of rows at a time keeps memory and queries flat for a large school.
    page_size = 500
    ids = list(memberships.values_list("id", flat=True))
    for start in range(0, len(ids), page_size):
        page = memberships.filter(id__in=ids[start : start + page_size])
        for row in selectors.summary_rows(school=school, memberships=page, assessments=assessments):
            account = row.membership.account
            values = [account.username, account.family_name, account.given_name, account.email]
            fills = []
            for cell in row.cells:
                values += [
                    cell.status_label,
                    cell.date.date() if cell.date else None,
                    cell.expires_at.date() if cell.expires_at else None,
                ]
                fills.append(EXPIRED_FILL if cell.expired else EXPIRING_FILL if cell.expiring else None)
            sheet.append(spreadsheets.text_cells(sheet, values))
            for n, fill in enumerate(fills):
                if fill is not None:
                    sheet.cell(row=sheet.max_row, column=4 + 3 * n + 3).fill = fill
    for column in range(1, len(header) + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 18
    for column in range(6, len(header) + 1, 3):
        for col in (column, column + 1):
            for cells in sheet.iter_cols(min_col=col, max_col=col, min_row=2):
                for c in cells:
                    c.number_format = "yyyy-mm-dd"
    return spreadsheets.xlsx_bytes(workbook)
