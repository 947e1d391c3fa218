"""Issue 20's screens in a real browser, one main path per defect: the Users list at 1280 px, Account Manager's
search and its list after a job, where support staff land, links a role may open, the Edit page's groups, the
labels and role descriptions, the support contact on public pages, and the Jobs list."""

import re

import pytest
from playwright.sync_api import expect

from accounts.credentials import set_password_link_issue
from provisioning.models import ContactJobItem
from tenancy.models import Job
from tests.accounts.users_helpers import person
from tests.browser.helpers import sign_in
from tests.provisioning.contacts.conftest import make_contact, make_student

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 800}


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_users_list_fits_1280_px_with_status_tags_for_the_exceptions(page, centre_admin, school_a):
    locked = person(
        school_a,
        "slt",
        username="a.very.long.username.for.width",
        given_name="Bartholomew-Alexander",
        family_name="Featherstonehaugh-Worthington",
        email="bartholomew-alexander.featherstonehaugh-worthington@alder-academy.sch.uk",
        mis_code="T-00000000000123",
    )
    locked.account.locked_out, locked.account.approved = True, False
    locked.account.save()
    page.set_viewport_size(LAPTOP)
    sign_in(page, centre_admin)
    page.goto("/s/alder/users/")

    assert _no_sideways_scroll(page)
    row = page.locator("tr", has=page.get_by_role("cell", name="a.very.long.username.for.width"))
    edit = row.get_by_role("link", name="Edit a.very.long.username.for.width")
    box = edit.bounding_box()
    assert box is not None and box["x"] + box["width"] <= LAPTOP["width"], box  # the Action column is on screen
    expect(row.locator(".tag")).to_have_text(["Not Approved", "Locked Out"])
    # Everyone else is approved and not locked: no tag, and no True/False anywhere.
    own = page.locator("tr", has=page.get_by_role("cell", name="ca.alder", exact=True))
    expect(own.locator(".tag")).to_have_count(0)
    expect(page.locator("table.users td").filter(has_text=re.compile(r"^(True|False)$"))).to_have_count(0)


def test_account_manager_finds_one_contact_by_mis_code(page, nominated_contact, school_a):
    student = make_student(school_a)
    for username, code in [("pat.one", "C777"), ("sam.two", "C888")]:
        contact = make_contact(school_a, students=[student], username=username)
        contact.mis_code = code
        contact.save(update_fields=["mis_code"])
    sign_in(page, nominated_contact)
    page.goto("/s/alder/account-manager/?type=contact")
    table = page.locator("table.account-manager")
    expect(table.locator("tbody tr")).to_have_count(2)

    page.get_by_label("Search").fill("C777")
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("pat.one")
    expect(page.get_by_text("1 contact matching “C777”.")).to_be_visible()


def test_account_manager_reloads_its_list_when_the_job_on_it_ends(page, nominated_contact, school_a):
    """The list under a running Revoke Access job still shows the contact as Ready to Revoke Access; when the
    job ends the page reloads by itself and the contact has left that list."""
    gone = make_contact(school_a, students=[], username="old.parent")
    job = Job.objects.create(
        school=school_a, kind=Job.Kind.REVOKE, state=Job.State.RUNNING, progress_total=1, created_by=nominated_contact
    )
    sign_in(page, nominated_contact)
    page.goto(f"/s/alder/account-manager/?type=contact&status=ready_to_revoke&job={job.pk}")
    expect(page.get_by_role("heading", name=re.compile(r"^Revoke Access, started .* by "))).to_be_visible()
    table = page.locator("table.account-manager")
    expect(table).to_contain_text("old.parent")

    ContactJobItem.objects.create(
        school=school_a, job=job, kind="revoke", membership=gone, outcome=ContactJobItem.Outcome.REVOKED
    )
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED, progress_done=1, counts={"Access revoked": 1})
    expect(table).not_to_contain_text("old.parent", timeout=15_000)
    expect(page.locator(f"#job-{job.pk}")).to_contain_text("Access revoked")


def test_support_staff_start_in_the_support_admin_never_on_a_refusal(page, support_user):
    sign_in(page, support_user)
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/admin/$"))


def test_the_refusal_page_leads_to_a_start_page_that_opens(page, inv_user):
    sign_in(page, inv_user)
    response = page.goto("/s/alder/users/")
    assert response.status == 403
    page.get_by_role("link", name="Go to your start page").click()
    expect(page).to_have_url(re.compile(r"/s/alder/assessments/$"))
    expect(page.get_by_role("heading", name="Not allowed")).to_have_count(0)


def test_an_exams_officer_is_shown_no_link_to_bulk_user_synchronise(page, eo_user, centre_admin):
    sign_in(page, eo_user)
    for path in ["/s/alder/users/", "/s/alder/users/add/", "/s/alder/users/upload/"]:
        page.goto(path)
        expect(page.get_by_role("link", name="Bulk User Synchronise")).to_have_count(0)
    expect(page.get_by_text("The nightly MIS sync is the preferred way")).to_be_visible()
    page.context.clear_cookies()
    sign_in(page, centre_admin)
    page.goto("/s/alder/users/")
    expect(page.get_by_role("main").get_by_role("link", name="Bulk User Synchronise")).to_be_visible()


def test_edit_groups_roles_under_their_label_and_passwords_under_password_reset(page, centre_admin, school_a):
    teacher = person(school_a, "inv", username="t.inv", given_name="Tia", family_name="Inv", email="t@alder.sch.uk")
    sign_in(page, centre_admin)
    page.goto(f"/s/alder/users/{teacher.pk}/edit/")

    roles = page.get_by_role("group", name="Roles")
    expect(roles.get_by_label(re.compile(r"Exams Officer \(EO\) Adds"))).to_be_visible()
    expect(roles.get_by_label(re.compile(r"Invigilator \(INV\) The Assessments"))).to_be_checked()
    expect(roles).to_contain_text("The Assessments area only: takes assessments open to them.")
    legend, first_role = roles.locator("legend").bounding_box(), roles.locator("input").first.bounding_box()
    assert legend["y"] < first_role["y"]  # the label sits above its list, not in the middle of it

    reset = page.get_by_role("group", name="Password reset")
    expect(reset.locator("input[name=password]")).to_be_visible()
    expect(reset.locator("input[name=password2]")).to_be_visible()
    reset.get_by_label("Set a new password").check()
    reset.locator("input[name=password]").fill("a-new-passphrase-2026")
    reset.locator("input[name=password2]").fill("a-new-passphrase-2026")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("was saved")).to_be_visible()


def test_add_describes_each_role_and_labels_exams_roles_as_product_md(page, eo_user):
    sign_in(page, eo_user)
    page.goto("/s/alder/users/add/")
    roles = page.get_by_role("group", name="Roles")
    for label in ["Exams Officer (EO)", "Senior Leadership (SLT)", "Invigilator (INV)"]:
        expect(roles.get_by_label(re.compile(re.escape(label)))).to_be_visible()
    expect(roles).to_contain_text("Views users, progress, User Summary and certificates.")
    expect(roles).not_to_contain_text("(Exams)")


def test_the_welcome_page_shows_the_organisations_support_contact(page, school_a):
    parent = make_contact(school_a, students=[make_student(school_a)], activated=False)
    path = set_password_link_issue(school=school_a, account=parent.account, purpose="welcome")
    page.goto(path)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect(page.locator("footer")).to_contain_text("Trust IT 01632 960 000")
    expect(page.locator("footer")).not_to_contain_text("support@rollcall.invalid")


def test_jobs_in_the_menu_opens_the_jobs_list_and_each_job_links_to_its_work(page, nominated_contact, school_a):
    job = Job.objects.create(
        school=school_a,
        kind=Job.Kind.SYNC,
        state=Job.State.SUCCEEDED,
        created_by=nominated_contact,
        params={"run_id": "00000000-0000-0000-0000-000000000001"},
        counts={"create": 3, "link_unchanged": 2},
    )
    sign_in(page, nominated_contact)
    page.goto("/s/alder/")
    page.get_by_role("navigation", name="School menu").get_by_role("link", name="Jobs").click()
    expect(page).to_have_url(re.compile(r"/s/alder/jobs/$"))
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    page.get_by_role("link", name="MIS sync").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job.pk}/$"))
    counts = page.locator(f"#job-{job.pk} .counts")
    expect(counts).to_contain_text("People created")
    expect(counts).to_contain_text("Contact links unchanged")
    expect(counts).not_to_contain_text("link_unchanged")
    expect(page.get_by_role("link", name="Open the sync run")).to_have_attribute(
        "href", "/s/alder/sync/runs/00000000-0000-0000-0000-000000000001/"
    )


def test_senior_leadership_get_no_empty_latest_jobs(page, school_a):
    slt = person(school_a, "slt", username="slt.alder").account
    sign_in(page, slt)
    page.goto("/s/alder/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("heading", name="Latest jobs")).to_have_count(0)
    expect(page.get_by_role("link", name="Jobs")).to_have_count(0)


def test_the_certificate_page_shows_the_pdf_by_itself_once_it_is_ready(page, inv_user, school_a):
    from assessments.models import Certificate
    from tests.assessments.conftest import make_assessment
    from tests.assessments.test_views import _pass

    certificate = _pass(school_a, inv_user, make_assessment())
    certificate.refresh_from_db()
    rendered = certificate.pdf.name
    assert rendered  # the rendering job ran on commit
    Certificate.objects.filter(pk=certificate.pk).update(pdf="")  # as while the job still runs
    sign_in(page, inv_user)
    page.goto(f"/s/alder/assessments/certificates/{certificate.pk}/")
    expect(page.get_by_text("this page shows its download buttons by itself")).to_be_visible()
    expect(page.get_by_text("refresh")).to_have_count(0)

    Certificate.objects.filter(pk=certificate.pk).update(pdf=rendered)
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible(timeout=15_000)
