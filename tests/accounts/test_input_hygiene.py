"""What enters the registry is clean the same way on the form and the API (and upload, sync where cheap):
usernames in one spelling, names without control or text-direction characters, year groups from the school's
year list, MIS codes that clash whatever their case and spacing."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Membership
from accounts.services.usernames import username_normalise
from tests.accounts.test_users_add import _form as add_form
from tests.accounts.test_users_edit import _form as edit_form
from tests.accounts.users_helpers import person
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
ADD = "/s/alder/users/add/"
API = "/api/s/alder/accounts/"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "Smith" + RLO + "nhoj" shows as "Smithjohn"


def _api(account):
    client = APIClient()
    client.force_login(account)
    return client


def _api_new(**overrides):
    data = {
        "person_type": "staff", "username": "api.made", "given_name": "Api", "family_name": "Made",
        "email": "api.made@alder.sch.uk", "roles": [], "password_method": "starter_code", "consent": True,
    }  # fmt: skip
    return data | overrides


def _form_errors(response, field):
    assert response.status_code == 200, response.get("Location")
    return " ".join(response.context["form"].errors.get(field, []))


def _api_errors(response, field):
    assert response.status_code == 400, response.content
    return " ".join(response.json()["errors"][field])


# --- usernames ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,spelled",
    [("ｅｏ.northfield", "eo.northfield"), ("  Eo.Northfield ", "Eo.Northfield"), ("strauß", "strauss"),
     ("ﬁona", "fiona")],
)  # fmt: skip
def test_a_username_has_one_spelling(raw, spelled):
    assert username_normalise(raw) == spelled


@pytest.fixture
def held_elsewhere(school_b):
    return AccountFactory(username="eo.northfield", home_school=school_b)


def test_add_refuses_a_full_width_twin_of_a_taken_username(login, centre_admin, held_elsewhere):
    response = login(centre_admin).post(ADD, add_form(username="ｅｏ.northfield"))
    assert "already taken" in _form_errors(response, "username")
    assert Account.objects.filter(username__iexact="eo.northfield").count() == 1


def test_the_api_refuses_a_full_width_twin_of_a_taken_username(centre_admin, held_elsewhere):
    response = _api(centre_admin).post(API, _api_new(username="ＥＯ.Northfield"), format="json")
    assert "already taken" in _api_errors(response, "username")


def test_a_full_width_username_is_stored_in_its_one_spelling(login, centre_admin):
    login(centre_admin).post(ADD, add_form(username="ｎｅｗ.teacher"))
    _api(centre_admin).post(API, _api_new(username="ａｐｉ.made"), format="json")
    assert set(Account.objects.filter(username__in=["new.teacher", "api.made"]).values_list("username", flat=True)) == {
        "new.teacher",
        "api.made",
    }


def test_a_username_with_an_invisible_character_is_refused(login, centre_admin):
    response = login(centre_admin).post(ADD, add_form(username="new.teacher\u200b"))
    assert "letters, digits" in _form_errors(response, "username")


def test_upload_spells_usernames_the_same_way(school_a, eo_user, held_elsewhere):
    from provisioning.upload import services
    from provisioning.upload.reader import read_upload
    from tests.provisioning.upload.helpers import csv_bytes, staff_row

    row = staff_row(1)
    row[0] = "ｅｏ.northfield"
    plan = services.upload_plan(school=school_a, account=eo_user, table=read_upload(csv_bytes([row]), "u.csv"),
                                mode="add_new")  # fmt: skip
    assert plan.rows[0].outcome == services.ERROR
    assert "the username eo.northfield is already taken" in " ".join(str(p) for p in plan.rows[0].problems)


def test_the_admin_spells_usernames_the_same_way():
    assert Account.normalize_username("ｅｏ.northfield") == "eo.northfield"


# --- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["given_name", "family_name"])
@pytest.mark.parametrize(
    "bad",
    [
        f"Smith{RLO}nhoj",
        "Smith\u2066x",
        "Smi\x07th",
        "Smith\u200f",
        "Smi\u200bth",
        "\ufeffSmith",
        "Sm\u2060ith",
        "Tom\u200c",
        "Sm\u00adith",
        "\u3164",
        "Sm\u2062ith",
        "Sm\u034fith",
    ],
)
def test_add_and_the_api_refuse_control_and_direction_characters_in_names(login, centre_admin, field, bad):
    response = login(centre_admin).post(ADD, add_form(**{field: bad}))
    assert "control characters" in _form_errors(response, field)
    response = _api(centre_admin).post(API, _api_new(**{field: bad}), format="json")
    assert "control characters" in _api_errors(response, field)
    assert not Account.objects.filter(username__in=["new.teacher", "api.made"]).exists()


@pytest.mark.parametrize("field", ["given_name", "family_name"])
def test_edit_and_the_api_refuse_a_direction_override_in_a_name(login, centre_admin, school_a, field):
    pupil = person(school_a, "student_portal", person_type="student", given_name="Ann", family_name="Lee")
    response = login(centre_admin).post(f"/s/alder/users/{pupil.pk}/edit/", edit_form(pupil, **{field: f"X{RLO}Y"}))
    assert "control characters" in _form_errors(response, field)
    response = _api(centre_admin).patch(f"{API}{pupil.pk}/", {field: f"X{RLO}Y"}, format="json")
    assert "control characters" in _api_errors(response, field)
    pupil.account.refresh_from_db()
    assert (pupil.account.given_name, pupil.account.family_name) == ("Ann", "Lee")


def test_upload_and_the_sync_feed_refuse_a_direction_override_in_a_name(school_a, eo_user):
    from provisioning.sync.feeds import parse_feed
    from provisioning.upload import services
    from provisioning.upload.reader import read_upload
    from tests.provisioning.sync_helpers import feed_zip, student
    from tests.provisioning.upload.helpers import csv_bytes, staff_row

    row = staff_row(1)
    row[2] = f"Smith{RLO}nhoj"
    plan = services.upload_plan(school=school_a, account=eo_user, table=read_upload(csv_bytes([row]), "u.csv"),
                                mode="add_new")  # fmt: skip
    assert "control characters" in " ".join(str(p) for p in plan.rows[0].problems)
    parsed = parse_feed(feed_zip([student("S1", family=f"Smith{RLO}nhoj")]), name="f.zip", org_identifier="")
    assert "control characters" in str(parsed.errors)  # the row is refused (left out), not the whole feed
    assert parsed.people["student"] == [] and parsed.rejected == {"student": {"S1"}}


# --- year groups --------------------------------------------------------------------------------------


def _student(**overrides):
    return add_form(person_type="student", email="", roles=[], **overrides)


def test_add_and_the_api_check_the_year_group_against_the_schools_year_list(login, centre_admin, school_a):
    response = login(centre_admin).post(ADD, _student(year_group="7x"))
    assert "not one of this school's year groups" in _form_errors(response, "year_group")
    response = _api(centre_admin).post(API, _api_new(person_type="student", year_group="Year 77"), format="json")
    assert "not one of this school's year groups" in _api_errors(response, "year_group")
    # A year of the list, typed in another case, is stored as the list spells it.
    _api(centre_admin).post(API, _api_new(person_type="student", year_group="r"), format="json")
    assert Membership.objects.get(school=school_a, account__username="api.made").year_group == "R"


def test_a_year_the_schools_people_are_in_is_on_its_list(login, centre_admin, school_a):
    person(school_a, "student_portal", person_type="student", year_group="Y7 Blue")
    response = login(centre_admin).post(ADD, _student(year_group="y7 blue"))
    assert response.status_code == 302
    assert Membership.objects.get(school=school_a, account__username="new.teacher").year_group == "Y7 Blue"


def test_edit_and_the_api_check_a_changed_year_group(login, centre_admin, school_a):
    pupil = person(school_a, "student_portal", person_type="student", year_group="7")
    response = login(centre_admin).post(f"/s/alder/users/{pupil.pk}/edit/", edit_form(pupil, year_group="77"))
    assert "not one of this school's year groups" in _form_errors(response, "year_group")
    response = _api(centre_admin).patch(f"{API}{pupil.pk}/", {"year_group": "77"}, format="json")
    assert "not one of this school's year groups" in _api_errors(response, "year_group")
    pupil.refresh_from_db()
    assert pupil.year_group == "7"


def test_upload_checks_the_year_group_against_the_schools_year_list(school_a, eo_user):
    from provisioning.upload import services
    from provisioning.upload.reader import read_upload
    from tests.provisioning.upload.helpers import csv_bytes

    header = ["User Name", "Given Names *", "Family Name *", "Email", "Person Type", "Role", "MIS Code", "Year"]
    rows = [
        ["p.one", "Pat", "One", "", "Student", "", "P1", "7x"],
        ["p.two", "Pat", "Two", "", "Student", "", "P2", "r"],
    ]
    table = read_upload(csv_bytes(rows, header=header), "u.csv")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert "7x is not one of your school's year groups" in " ".join(str(p) for p in plan.rows[0].problems)
    assert plan.rows[1].outcome == services.CREATE and plan.rows[1].clean["year_group"] == "R"


# --- MIS codes -----------------------------------------------------------------------------------------


@pytest.fixture
def holder(school_a):
    return person(school_a, "inv", mis_code="S1038")


@pytest.mark.parametrize("code", ["s1038", " S 1038 ", "S1038", "Ｓ１０３８"])
def test_add_and_the_api_find_a_mis_code_clash_whatever_its_case_and_spacing(login, centre_admin, holder, code):
    response = login(centre_admin).post(ADD, add_form(mis_code=code))
    assert "already used by another person here" in _form_errors(response, "mis_code")
    response = _api(centre_admin).post(API, _api_new(mis_code=code), format="json")
    assert "already used by another person here" in _api_errors(response, "mis_code")


def test_edit_and_the_api_find_a_mis_code_clash_whatever_its_case(login, centre_admin, school_a, holder):
    other = person(school_a, "inv", mis_code="T2")
    response = login(centre_admin).post(f"/s/alder/users/{other.pk}/edit/", edit_form(other, mis_code="s1038"))
    assert "already used by another person here" in _form_errors(response, "mis_code")
    response = _api(centre_admin).patch(f"{API}{other.pk}/", {"mis_code": "s 1038"}, format="json")
    assert "already used by another person here" in _api_errors(response, "mis_code")
    other.refresh_from_db()
    assert other.mis_code == "T2"


def test_a_person_keeps_their_own_mis_code_in_another_case(login, centre_admin, holder):
    response = login(centre_admin).post(f"/s/alder/users/{holder.pk}/edit/", edit_form(holder, mis_code="s1038"))
    assert response.status_code == 302


def test_year_7_yr_7_and_y7_are_year_7_spelled_as_the_school_already_does(login, centre_admin, school_a):
    response = _api(centre_admin).post(API, _api_new(person_type="student", year_group="Year 7"), format="json")
    assert response.status_code == 201, response.content
    assert Membership.objects.get(school=school_a, account__username="api.made").year_group == "7"
    # Once the school's MIS spells it "Year 8", a typed "Yr 8" is stored that way too.
    person(school_a, "student_portal", person_type="student", year_group="Year 8")
    response = login(centre_admin).post(ADD, _student(year_group="Yr 8"))
    assert Membership.objects.get(school=school_a, account__username="new.teacher").year_group == "Year 8"


def test_a_zero_width_joiner_in_a_persian_name_is_a_name(login, centre_admin, school_a):
    response = login(centre_admin).post(ADD, add_form(given_name="\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627"))
    assert response.status_code == 302, response.content


# --- MIS codes in one spelling wherever they enter (found by an outside test) ---------------------------------


def test_a_full_width_mis_code_is_its_ascii_code_in_a_feed_and_an_upload(school_a, eo_user):
    from provisioning.sync.feeds import parse_feed
    from provisioning.upload import services as upload_services
    from provisioning.upload.reader import read_upload
    from tests.provisioning.sync_helpers import feed_zip, student
    from tests.provisioning.upload.helpers import csv_bytes

    feed = parse_feed(feed_zip([student("Ｓ１０３８")]), name="export.zip")
    assert [p["mis_code"] for p in feed.people["student"]] == ["S1038"]
    refused = parse_feed(feed_zip([student("S\u00ad1038"), student("S\u200c99")]), name="export.zip")
    assert [e["column"] for e in refused.errors] == ["mis_code", "mis_code"]
    person(school_a, "inv", mis_code="T2681", username="t.holder")
    row = ["new.one", "Nia", "New", "nia@alder.sch.uk", "Staff", "INV", "Ｔ２６８１"]
    plan = upload_services.upload_plan(school=school_a, account=eo_user, table=read_upload(csv_bytes([row]), "u.csv"),
                                       mode="add_new")  # fmt: skip
    assert plan.rows[0].outcome == "error"


def test_the_api_refuses_an_invisible_character_in_a_mis_code(centre_admin, school_a):
    response = _api(centre_admin).post(API, _api_new(person_type="student", mis_code="S\u200c1"), format="json")
    assert response.status_code == 400 and "invisible" in str(response.json())
