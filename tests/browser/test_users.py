"""The Users screens in a real browser: +Add and see the person listed, the email rule for EO vs
Centre Admin, Delete by typing DELETE, and an invigilator who reaches only Assessments."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from tests.accounts.users_helpers import person
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def teacher(school_a):
    return person(
        school_a,
        "slt",
        username="t.teacher",
        given_name="Tess",
        family_name="Teacher",
        email="tess@alder.sch.uk",
        mis_code="T100",
    )


def _row(page, username):
    return page.locator("table.users tbody tr", has=page.get_by_role("cell", name=username, exact=True))


def test_an_exams_officer_adds_a_user_and_sees_them_listed(page, eo_user, school_a):
    sign_in(page, eo_user)
    page.goto("/s/alder/users/")
    page.get_by_role("link", name="+Add").click()
    expect(page.get_by_role("heading", name="User Request (Single)")).to_be_visible()

    page.get_by_label("Staff").check()
    page.get_by_label("User Name").fill("ivy.inv")
    page.get_by_label("MIS Code").fill("E101")
    page.get_by_label("Family Name").fill("Invigilator")
    page.get_by_label("Given Names").fill("Ivy")
    page.get_by_label("Email", exact=True).fill("ivy@alder.sch.uk")
    page.get_by_label("Invigilator").check()
    page.get_by_label("Set a password now").check()
    page.locator("input[name=password]").fill("ivy-first-passphrase")
    page.locator("input[name=password2]").fill("ivy-first-passphrase")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("form .errorlist").first).to_be_visible()  # the consent tick is required

    page.locator("input[name=password]").fill("ivy-first-passphrase")
    page.locator("input[name=password2]").fill("ivy-first-passphrase")
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Submit").click()

    expect(page).to_have_url(re.compile(r"/s/alder/users/\?q=ivy.inv$"))
    row = _row(page, "ivy.inv")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Invigilator")
    expect(row).to_contain_text("E101")
    assert Account.objects.get(username="ivy.inv").must_change_password


def test_only_a_centre_admin_may_change_the_email(page, eo_user, centre_admin, teacher):
    sign_in(page, eo_user)
    page.goto("/s/alder/users/?q=t.teacher")
    _row(page, "t.teacher").get_by_role("link", name="Edit t.teacher").click()
    email = page.get_by_label("Email", exact=True)
    expect(email).not_to_be_editable()
    expect(page.get_by_text("Only a Centre Admin can change an email address.")).to_be_visible()
    page.get_by_label("Family Name").fill("Teach")
    page.get_by_role("button", name="Save").click()
    expect(_row(page, "t.teacher")).to_contain_text("Teach")
    page.context.clear_cookies()

    sign_in(page, centre_admin)
    page.goto("/s/alder/users/?q=t.teacher")
    _row(page, "t.teacher").get_by_role("link", name="Edit t.teacher").click()
    expect(page.get_by_label("Email", exact=True)).to_be_editable()
    page.get_by_label("Email", exact=True).fill("tess.new@alder.sch.uk")
    page.get_by_role("button", name="Save").click()
    page.goto("/s/alder/users/?q=t.teacher")
    expect(_row(page, "t.teacher")).to_contain_text("tess.new@alder.sch.uk")

    own = centre_admin.memberships.get()
    page.goto(f"/s/alder/users/{own.pk}/edit/")
    expect(page.get_by_label("Email", exact=True)).not_to_be_editable()
    expect(page.get_by_text("cannot change their own email")).to_be_visible()


def test_a_centre_admin_deletes_a_user_by_typing_delete(page, centre_admin, teacher):
    sign_in(page, centre_admin)
    page.goto("/s/alder/users/?q=t.teacher")
    _row(page, "t.teacher").get_by_role("link", name="Delete t.teacher").click()
    expect(page.get_by_text("Please write 'DELETE' in the below textbox to delete an account")).to_be_visible()
    page.get_by_label("Please write 'DELETE'").fill("delete")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Type DELETE (in capitals) to confirm.")).to_be_visible()

    page.get_by_label("Please write 'DELETE'").fill("DELETE")
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/s/alder/users/$"))
    expect(page.get_by_text("was deleted")).to_be_visible()
    expect(_row(page, "t.teacher")).to_have_count(0)
    assert not Account.objects.get(pk=teacher.account.pk).is_active


def test_an_invigilator_reaches_only_assessments(page, inv_user):
    sign_in(page, inv_user)
    expect(page).to_have_url(re.compile(r"/s/alder/assessments/$"))
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    for path in ["/s/alder/users/", "/s/alder/users/add/", "/s/alder/"]:
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_a_centre_admin_pages_a_filtered_list_with_next_and_previous(page, centre_admin, school_a):
    for n in range(30):
        person(school_a, person_type="student", username=f"pupil{n:02d}", family_name=f"Pupil{n:02d}")
    sign_in(page, centre_admin)
    page.goto("/s/alder/users/?person_type=student&per_page=25")
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages).to_contain_text("Page 1 of 2")
    expect(_row(page, "pupil00")).to_be_visible()
    pages.get_by_role("link", name="Next").click()
    expect(pages).to_contain_text("Page 2 of 2")
    expect(_row(page, "pupil25")).to_be_visible()
    expect(_row(page, "pupil00")).to_have_count(0)
    assert "person_type=student" in page.url and "after=" in page.url
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Previous").click()
    expect(pages).to_contain_text("Page 1 of 2")
    expect(_row(page, "pupil00")).to_be_visible()
