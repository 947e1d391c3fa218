"""Every text field of +Add, Edit and the accounts API refuses one character more than its column holds, with
a message on that field: never a 500 (PostgreSQL refuses an over-long value; SQLite would keep it whole).

The fields are read from the forms and serializers themselves, and each limit from the model's column, so a
field added later is covered without anyone adding it here."""

import pytest
from django import forms
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts.api import AccountCreateSerializer, AccountUpdateSerializer
from accounts.forms import UserAddForm, UserEditForm
from accounts.models import Account, Membership
from tests.accounts.test_users_add import _form as add_form
from tests.accounts.test_users_edit import _form as edit_form
from tests.accounts.users_helpers import person

pytestmark = pytest.mark.django_db
DOMAIN = "@alder.sch.uk"


def _column_limit(name: str) -> int:
    model = Account if name in {f.name for f in Account._meta.fields} else Membership
    return model._meta.get_field(name).max_length


def _text_fields(fields: dict, text_class) -> list[str]:
    names = [n for n, f in fields.items() if isinstance(f, text_class) and n not in ("password", "password2")]
    return [n for n in names if n not in ("add_existing", "different_person")]


def _too_long(name: str) -> str:
    n = _column_limit(name) + 1
    return "a" * (n - len(DOMAIN)) + DOMAIN if name == "email" else "x" * n


ADD_FIELDS = _text_fields(UserAddForm.base_fields, forms.CharField)
EDIT_FIELDS = _text_fields(UserEditForm.base_fields, forms.CharField)
API_CREATE_FIELDS = _text_fields(AccountCreateSerializer().fields, serializers.CharField)
API_UPDATE_FIELDS = _text_fields(AccountUpdateSerializer().fields, serializers.CharField)


def test_the_fields_are_found_and_the_form_serializer_and_column_limits_agree():
    assert {"username", "email", "given_name", "family_name", "mis_code", "upn", "year_group"} <= set(ADD_FIELDS)
    assert {"email", "given_name", "family_name", "mis_code", "year_group"} <= set(EDIT_FIELDS)
    assert set(ADD_FIELDS) <= set(API_CREATE_FIELDS) and set(EDIT_FIELDS) <= set(API_UPDATE_FIELDS)
    for fields in (UserAddForm.base_fields, UserEditForm.base_fields):
        for name in _text_fields(fields, forms.CharField):
            assert fields[name].max_length == _column_limit(name), name
    for serializer in (AccountCreateSerializer(), AccountUpdateSerializer()):
        for name in _text_fields(serializer.fields, serializers.CharField):
            assert serializer.fields[name].max_length == _column_limit(name), name
    assert _column_limit("email") == 254


@pytest.mark.parametrize("name", ADD_FIELDS)
def test_add_refuses_one_character_over_the_column(login, centre_admin, name):
    data = add_form(person_type="student", **{name: _too_long(name)})
    response = login(centre_admin).post("/s/alder/users/add/", data)
    assert response.status_code == 200
    assert response.context["form"].errors[name]
    assert not Account.objects.filter(username="new.teacher").exists()


@pytest.mark.parametrize("name", EDIT_FIELDS)
def test_edit_refuses_one_character_over_the_column(login, centre_admin, school_a, name):
    pupil = person(school_a, "student_portal", person_type="student", email="p@alder.sch.uk", year_group="7")
    response = login(centre_admin).post(f"/s/alder/users/{pupil.pk}/edit/", edit_form(pupil, **{name: _too_long(name)}))
    assert response.status_code == 200
    assert response.context["form"].errors[name]


def _api(account):
    client = APIClient()
    client.force_login(account)  # the middleware resolves the school for a signed-in member
    return client


@pytest.mark.parametrize("name", API_CREATE_FIELDS)
def test_the_api_create_refuses_one_character_over_the_column(centre_admin, name):
    data = {
        "person_type": "student", "username": "api.made", "given_name": "Api", "family_name": "Made",
        "roles": [], "password_method": "starter_code", "consent": True, name: _too_long(name),
    }  # fmt: skip
    response = _api(centre_admin).post("/api/s/alder/accounts/", data, format="json")
    assert response.status_code == 400, response.content
    assert name in response.json()["errors"]
    assert not Account.objects.filter(username="api.made").exists()


@pytest.mark.parametrize("name", API_UPDATE_FIELDS)
def test_the_api_update_refuses_one_character_over_the_column(centre_admin, school_a, name):
    pupil = person(school_a, "student_portal", person_type="student", email="p@alder.sch.uk", year_group="7")
    response = _api(centre_admin).patch(f"/api/s/alder/accounts/{pupil.pk}/", {name: _too_long(name)}, format="json")
    assert response.status_code == 400, response.content
    assert name in response.json()["errors"]
