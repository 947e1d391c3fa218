"""One rule for a username's characters (accounts.services.usernames.username_characters_ok), asked by every
way a username enters: +Add, the API, upload, the admin; sync makes its own names, which pass it."""

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Account
from accounts.services.usernames import USERNAME_CHARACTERS, username_characters_ok
from provisioning.sync.username_policy import username_stem
from provisioning.upload.validation import COLUMNS, row_clean
from tests.accounts.test_admin import admin_url, form_data
from tests.accounts.test_input_hygiene import ADD, API, _api, _api_errors, _api_new, _form_errors
from tests.accounts.test_users_add import _form as add_form
from tests.provisioning.upload.test_row_validator import CTX

pytestmark = pytest.mark.django_db
REFUSED = ["has space", "semi;colon", "slash/name", "smile\U0001f600"]


@pytest.mark.parametrize("username", REFUSED)
def test_add_refuses_a_username_with_characters_outside_the_rule(login, centre_admin, username):
    response = login(centre_admin).post(ADD, add_form(username=username))
    assert USERNAME_CHARACTERS in _form_errors(response, "username")
    assert not Account.objects.filter(username=username).exists()


@pytest.mark.parametrize("username", REFUSED)
def test_the_api_refuses_a_username_with_characters_outside_the_rule(centre_admin, username):
    response = _api(centre_admin).post(API, _api_new(username=username), format="json")
    assert USERNAME_CHARACTERS in _api_errors(response, "username")
    assert not Account.objects.filter(username=username).exists()


@pytest.mark.parametrize("username", REFUSED)
def test_upload_refuses_a_username_with_characters_outside_the_rule(username):
    cells = {column.key: "" for column in COLUMNS} | {
        "username": username, "given_name": "Sam", "family_name": "Sample", "person_type": "Staff",
    }  # fmt: skip
    _clean, problems = row_clean(5, cells, ctx=CTX)
    assert [p.message for p in problems if p.column.startswith("User Name")] == [USERNAME_CHARACTERS]


@pytest.mark.parametrize("username", REFUSED)
def test_the_admin_refuses_a_username_with_characters_outside_the_rule(login, support_user, eo_user, username):
    support = login(support_user)
    data = form_data(support.get(admin_url(eo_user))) | {"username": username}
    response = support.post(admin_url(eo_user), data)
    assert response.status_code == 200
    assert USERNAME_CHARACTERS in " ".join(response.context["adminform"].form.errors["username"])
    eo_user.refresh_from_db()
    assert eo_user.username == "eo.alder"


@pytest.mark.parametrize("method", ["mis_code", "email_local", "initial_surname", "first_last", "surname_initial"])
@given(given_name=st.text(), family_name=st.text(), code=st.text(), prepend=st.text(max_size=5))
def test_sync_makes_only_usernames_the_rule_allows(method, given_name, family_name, code, prepend):
    policy = SimpleNamespace(username_method=method, prepend_text=prepend, postpend_text="", lowercase=False)
    person = {"given_name": given_name, "family_name": family_name, "mis_code": code, "email": f"{code}@x.uk"}
    stem = username_stem(policy, person)
    assert stem == "" or username_characters_ok(stem)
