"""One definition of a valid new account and one audit shape, for +Add, the API and upload
(accounts.services.new_account)."""

import pytest

from accounts.models import AuditEvent
from accounts.services.new_account import new_account_problems
from provisioning.upload.validation import COLUMNS, row_clean
from tests.accounts.test_input_hygiene import ADD, API, _api, _api_errors, _api_new, _form_errors
from tests.accounts.test_users_add import _form as add_form
from tests.provisioning.upload.helpers import staff_row, xlsx_bytes
from tests.provisioning.upload.test_apply import apply, receive
from tests.provisioning.upload.test_row_validator import CTX

pytestmark = pytest.mark.django_db
INVALID = [
    ("email", {"person_type": "staff", "email": ""}, "is required for staff"),
    ("family_name", {"family_name": "Smith\u202enhoj"}, "control characters"),
    ("username", {"username": "has space"}, "may contain only letters"),
]


@pytest.mark.parametrize(("field", "bad", "phrase"), INVALID)
def test_the_rule_itself(field, bad, phrase):
    fields = {"username": "ok.name", "person_type": "staff", "email": "a@b.uk", "family_name": "Smith"} | bad
    assert phrase in new_account_problems(**fields)[field]


@pytest.mark.parametrize(("field", "bad", "phrase"), INVALID)
def test_add_and_the_api_refuse_what_the_rule_refuses(login, centre_admin, field, bad, phrase):
    assert phrase in _form_errors(login(centre_admin).post(ADD, add_form(**bad)), field)
    assert phrase in _api_errors(_api(centre_admin).post(API, _api_new(**bad), format="json"), field)


@pytest.mark.parametrize(("field", "bad", "phrase"), INVALID)
def test_upload_refuses_what_the_rule_refuses(field, bad, phrase):
    cells = {column.key: "" for column in COLUMNS} | {
        "username": "ok.name", "given_name": "Sam", "family_name": "Sample", "person_type": "Staff",
        "email": "ok.name@alder.sch.uk",
    } | {key: "Staff" if key == "person_type" else value for key, value in bad.items()}  # fmt: skip
    _clean, problems = row_clean(5, cells, ctx=CTX)
    label = next(c.label for c in COLUMNS if c.key == field)
    assert [p.message for p in problems if p.column == label and phrase in p.message]


def test_add_and_upload_write_one_audit_shape(login, school_a, eo_user, django_capture_on_commit_callbacks):
    login(eo_user).post(ADD, add_form(password_method="starter_code", password="", password2=""))
    apply(school_a, eo_user, receive(school_a, eo_user, xlsx_bytes([staff_row(1)])), django_capture_on_commit_callbacks)
    added, uploaded = AuditEvent.objects.filter(action="accounts.account.created").order_by("at")
    # +Add records the consent on the account; upload once per file (provisioning.upload.consent_acknowledged).
    assert set(added.changes) - {"consent"} == set(uploaded.changes) == {
        "username", "person_type", "given_name", "family_name", "email", "mis_code", "password",
    }  # fmt: skip
