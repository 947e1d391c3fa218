"""A sample MIS export to try Bulk User Synchronise with, offered as a download on its page.

Made from what the school holds, so its first preview shows a handful of sensible changes (a joiner with a
contact, a leaver, a form change, a contact whose parent portal access was turned off), not a rename of
everyone: each other row says what the school already holds. A school that holds nobody yet gets three
invented students and a contact. Staff are left out: a file not sent leaves staff untouched (docs/mis-export.md).
"""

from accounts.models import ContactLink, Membership, PersonType
from provisioning.sync.feeds import bundle_csv_files
from tenancy.models import School
from tenancy.spreadsheets import csv_bytes

STUDENT_COLUMNS = ["mis_code", "upn", "given_name", "family_name", "email", "year_group", "form"]
CONTACT_COLUMNS = ["mis_code", "given_name", "family_name", "email", "portal_access"]
LINK_COLUMNS = ["contact_code", "student_code", "relationship", "portal_access"]
INVENTED = [
    ["SAMPLE1", "", "Lucy", "Adachi", "lucy.adachi@example.org", "7", "7A"],
    ["SAMPLE2", "", "Zoë", "O'Brien-Best", "zoe.obrien@example.org", "7", "7B"],
    ["SAMPLE3", "", "Kwame", "Mensah", "kwame.mensah@example.org", "8", "8A"],
]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def sample_feed(*, school: School) -> bytes:
    """A .zip of students.csv, contacts.csv and relationships.csv."""
    active = Membership.objects.filter(school=school, status=Membership.Status.ACTIVE, account__deleted_at__isnull=True)
    fields = ["mis_code", "account__upn", "account__given_name", "account__family_name", "account__email"]
    students = [
        [*row[:5], row[5], row[6]]
        for row in active.filter(person_type=PersonType.STUDENT)
        .order_by("mis_code")
        .values_list(*fields, "year_group", "form")
    ]
    contacts = [
        [*row[:1], *row[2:5], _yes(row[5])]
        for row in active.filter(person_type=PersonType.CONTACT)
        .order_by("mis_code")
        .values_list(*fields, "portal_access")
    ]
    codes = {s[0] for s in students} | {c[0] for c in contacts}
    links = [
        [c, s, rel, _yes(flag)]
        for c, s, rel, flag in ContactLink.objects.filter(school=school)
        .order_by("contact__mis_code", "student__mis_code")
        .values_list("contact__mis_code", "student__mis_code", "relationship", "portal_access")
        if c in codes and s in codes
    ]
    if not students:
        students = [list(row) for row in INVENTED]
        contacts, links = [["SAMPLEC1", "Ken", "Adachi", "ken.adachi@example.org", "yes"]], []
        links = [["SAMPLEC1", "SAMPLE1", "Father", "yes"]]
    else:
        _a_few_changes(students, contacts, links)
    return bundle_csv_files(
        {
            "students.csv": csv_bytes([STUDENT_COLUMNS, *students], bom=True),
            "contacts.csv": csv_bytes([CONTACT_COLUMNS, *contacts], bom=True),
            "relationships.csv": csv_bytes([LINK_COLUMNS, *links], bom=True),
        }
    )


def _a_few_changes(students: list, contacts: list, links: list) -> None:
    """What a term's export typically brings: one joiner (and a parent), one leaver, one form change, one
    contact's portal access turned off."""
    first = students[0]
    year, form = first[5], first[6]
    new_code = _free_code("SNEW", {s[0] for s in students})
    students.append([new_code, "", "Ada", "Newcombe", "ada.newcombe@example.org", year, form])
    parent_code = _free_code("CNEW", {c[0] for c in contacts})
    contacts.append([parent_code, "Grace", "Newcombe", "grace.newcombe@example.org", "yes"])
    links.append([parent_code, new_code, "Mother", "yes"])
    if len(students) > 3:
        leaver = students.pop(-2)  # the last held student: missing from a full snapshot means a leaver
        links[:] = [link for link in links if link[1] != leaver[0]]
        mover = students[1]
        mover[6] = f"{mover[6]}X" if mover[6] else "New form"
    eligible = [c for c in contacts if c[4] == "yes" and c[0] != parent_code]
    if len(eligible) > 2:
        eligible[len(eligible) // 2][4] = "no"


def _free_code(stem: str, taken: set) -> str:
    n = 1
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"
