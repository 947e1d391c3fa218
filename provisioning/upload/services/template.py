"""Download Template: the upload's columns, as .xlsx (with drop-downs and instructions) or .csv."""

from accounts.models import Account
from provisioning.upload import selectors
from provisioning.upload.validation import COLUMNS, SAMPLE_USERNAME, RowContext
from tenancy import spreadsheets
from tenancy.models import School


def template_rows(*, ctx: RowContext, school: School) -> tuple[list[str], list[str]]:
    domain = ctx.email_domains[0] if ctx.email_domains else "example.sch.uk"
    role = next((ctx.role_labels[c] for c in ("eo", "slt", "inv") if c in ctx.grantable), "")
    sample = {
        "username": SAMPLE_USERNAME, "given_name": "Sam", "family_name": "Sample",
        "email": f"{SAMPLE_USERNAME}@{domain}", "person_type": "Staff", "roles": role,
        "mis_code": "", "year_group": "", "form": "", "upn": "",
    }  # fmt: skip
    header = [f"{c.label} *" if c.required else c.label for c in COLUMNS]
    return header, [sample[c.key] for c in COLUMNS]


def template_workbook(*, school: School, account: Account) -> bytes:
    """UserUploadTemplate.xlsx for this school and this person's grantable roles."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ctx = selectors.row_context(school=school, account=account)
    header, sample = template_rows(ctx=ctx, school=school)
    workbook = spreadsheets.workbook()
    sheet = workbook.active
    sheet.title = "Users"
    sheet.append(spreadsheets.text_cells(sheet, header))
    sheet.append(spreadsheets.text_cells(sheet, sample))
    keys = [c.key for c in COLUMNS]
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="FFFFFF" if column.required else "000000")
        cell.fill = PatternFill("solid", fgColor="1F4E8C" if column.required else "D6DBE4")
        sheet.column_dimensions[letter].width = max(14, len(column.label) + 4)
        if column.key in ("mis_code", "year_group", "upn"):
            for row in range(2, 1002):  # Text, so Excel keeps 007 and 10-11 as typed
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    type_list = DataValidation(type="list", formula1='"Student,Staff,Contact"', allow_blank=True)
    type_list.error, type_list.errorTitle = "Choose Student, Staff or Contact.", "Person Type"
    role_labels = [ctx.role_labels[c] for c in ctx.role_labels if c in ctx.grantable]
    # Several roles may be typed with commas, so a value outside the list only warns.
    role_list = DataValidation(type="list", formula1='"' + ",".join(role_labels) + '"', allow_blank=True,
                               errorStyle="warning")  # fmt: skip
    role_list.error = "Roles you may grant: " + ", ".join(role_labels)
    for validation, key in ((type_list, "person_type"), (role_list, "roles")):
        letter = get_column_letter(keys.index(key) + 1)
        validation.add(f"{letter}2:{letter}5001")
        sheet.add_data_validation(validation)
    notes = workbook.create_sheet("Instructions")
    notes.append(["UserUploadTemplate", f"for {school.name}"])
    notes["A1"].font = Font(bold=True, size=14)
    lines = [
        "Fill in one row per person on the Users sheet, save the file, and upload it with +Upload Users.",
        "Columns marked * are required. Delete the sample row (sample.person) before uploading.",
        "Leave User Name blank, or leave the column out, and your username policy (Bulk User Synchronise) makes "
        "one as the MIS sync does; the preview shows it before anything changes. Staff may sign in with their "
        "user name or their email.",
        f"Roles you may grant: {', '.join(role_labels) or 'none'}. Give EO to people who will create and manage "
        "user accounts; people acting only as invigilators get INV, which opens the Assessments area only.",
        "You must have each person's permission to create their account and use their email address, and have told "
        "them their information and assessment results are kept and may be shared with stakeholders.",
        "The nightly MIS sync (Bulk User Synchronise) is the preferred way to keep accounts up to date.",
    ]
    for line in lines:
        notes.append([line])
    notes.append([])
    notes.append(["Column", "Required", "What to enter"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        notes.append([column.label, "Yes" if column.required else "No", column.help])
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["C"].width = 110
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    return spreadsheets.xlsx_bytes(workbook)


def template_csv(*, school: School, account: Account) -> bytes:
    ctx = selectors.row_context(school=school, account=account)
    header, sample = template_rows(ctx=ctx, school=school)
    return spreadsheets.csv_bytes([header, sample], bom=True)  # the BOM tells Excel it is UTF-8
