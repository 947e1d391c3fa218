"""One set-password email (accounts.services.emails) for every sender: +Add's invitation, upload's
invitations and the contacts' Welcome Email; its links carry the site's real scheme and host."""

import re

import pytest
from rest_framework.test import APIClient

from accounts.services.emails import site_url
from provisioning.upload import services as upload
from tests.accounts.test_users_add import _form as add_form
from tests.provisioning.contacts.conftest import make_contact, make_student
from tests.provisioning.upload.helpers import staff_row, xlsx_bytes

pytestmark = pytest.mark.django_db
LINK = re.compile(r"(\S+)(/welcome/[^/\s]+/)")


def _link_of(message) -> str:
    """The link in the text part, checked to be the same in the HTML part."""
    base, path = LINK.search(message.body).groups()
    assert base + path in message.alternatives[0][0]
    return base + path


def test_site_url_is_the_public_setting_when_set_else_the_address_in_use(settings):
    # One rule with the starter slips and certificates: they once disagreed (slips said localhost).
    settings.ROLLCALL_BASE_URL = "http://rollcall.school.test:8080"
    assert site_url("/welcome/x/", "https://seen.example/") == "http://rollcall.school.test:8080/welcome/x/"
    assert site_url("/welcome/x/") == "http://rollcall.school.test:8080/welcome/x/"
    settings.ROLLCALL_BASE_URL = ""
    assert site_url("/welcome/x/", "https://seen.example/") == "https://seen.example/welcome/x/"


def test_add_sends_the_invitation_with_the_address_in_use(
    login, eo_user, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        login(eo_user).post("/s/alder/users/add/", add_form(password_method="invitation", password="", password2=""))
    [message] = mailoutbox
    assert message.subject == "Your account at Alder Academy"
    assert _link_of(message).startswith("http://testserver/welcome/")


def test_upload_sends_the_same_invitation_with_the_address_in_use(
    login, school_a, eo_user, django_capture_on_commit_callbacks, mailoutbox
):
    client = login(eo_user)
    batch = upload.upload_receive(school=school_a, actor=eo_user, file_name="u.xlsx", data=xlsx_bytes([staff_row(1)]))
    upload.upload_preview(school=school_a, account=eo_user, batch=batch)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/s/alder/users/upload/{batch.pk}/apply/", {"mode": "add_new", "password_method": "invitations",
                                                           "consent": "on"})  # fmt: skip
    [message] = mailoutbox
    assert message.subject == "Your account at Alder Academy" and message.to == ["new.person1@alder.sch.uk"]
    assert _link_of(message).startswith("http://testserver/welcome/")
    assert "new.person1" in message.body


def test_upload_without_a_request_uses_the_setting_not_a_hard_coded_scheme(
    settings, school_a, eo_user, django_capture_on_commit_callbacks, mailoutbox
):
    settings.ROLLCALL_BASE_URL = "http://rollcall.school.test:8080"
    batch = upload.upload_receive(school=school_a, actor=eo_user, file_name="u.xlsx", data=xlsx_bytes([staff_row(1)]))
    with django_capture_on_commit_callbacks(execute=True):
        upload.upload_apply_start(school=school_a, actor=eo_user, batch=batch, mode="add_new",
                                  password_method="invitations", add_existing=True, consent=True)  # fmt: skip
    [message] = mailoutbox
    assert _link_of(message).startswith("http://rollcall.school.test:8080/welcome/")


def test_the_welcome_email_is_the_same_email_with_the_address_in_use(
    school_a, nominated_contact, django_capture_on_commit_callbacks, mailoutbox
):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False)
    client = APIClient()
    client.force_login(nominated_contact)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/s/alder/contacts/welcome-email/", {"contact_ids": [str(contact.pk)]}, format="json")
    [message] = mailoutbox
    assert message.subject == "Welcome to Alder Academy on Rollcall"
    assert _link_of(message).startswith("http://testserver/welcome/")
    assert "http://testserver/accounts/login/" in message.body
