"""The row validator on hostile input: it never raises, and what it keeps is safe to store."""

import datetime as dt
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.upload.validation import COLUMNS, RowContext, cell_text, header_map, row_clean

CTX = RowContext(
    role_lookup={
        "eo": "eo",
        "slt": "slt",
        "inv": "inv",
        "centre admin": "centre_admin",
        "centre_admin": "centre_admin",
    },
    role_labels={"eo": "EO", "slt": "SLT", "inv": "INV", "centre_admin": "Centre Admin"},
    grantable=frozenset({"eo", "slt", "inv"}),
    email_domains=("alder.sch.uk",),
)
KEYS = [c.key for c in COLUMNS]
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        [
            "=1+1",
            "+SUM(A1)",
            "-1",
            "@cmd",
            "'=x",
            "\u202egnp.exe",
            "a\x00b",
            "Robert'); DROP TABLE--",
            "<script>alert(1)</script>",
            "  ",
            "\ufeffname",
            "x" * 10_000,
            "é" * 151,
        ]
    ),  # fmt: skip
)
cell = st.one_of(
    st.none(),
    hostile_text,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({key: cell for key in KEYS}))
def test_it_never_raises_and_keeps_only_safe_values(cells):
    clean, problems = row_clean(5, cells, ctx=CTX)
    for column in COLUMNS:
        value = clean[column.key]
        if column.key == "roles":
            assert set(value) <= CTX.grantable  # never Centre Admin, never an unknown role
            continue
        assert isinstance(value, str)
        assert len(value) <= column.max_length
        assert not CONTROL.search(value)
    for problem in problems:
        assert problem.row == 5 and problem.column and problem.message
    if not [p for p in problems if not p.warning]:
        assert re.fullmatch(r"[\w.@+-]+", clean["username"])
        assert clean["given_name"] and clean["family_name"]
        assert clean["person_type"] in ("student", "staff", "contact")
        assert clean["person_type"] != "staff" or clean["email"]


@given(hostile_text)
def test_header_matching_never_raises(text):
    header_map([text, "Username", text.upper()])


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e14, max_value=1e14))
def test_whole_numbers_lose_the_excel_point_zero(value):
    text, refusal = cell_text(float(int(value)))
    assert refusal is None and text == str(int(value))


def test_a_date_is_refused_with_a_reason():
    text, refusal = cell_text(dt.date(2024, 9, 1))
    assert text == "" and "holds a date" in refusal


def test_centre_admin_is_never_granted_by_upload():
    clean, problems = row_clean(
        2,
        {"username": "a.b", "given_name": "A", "family_name": "B", "email": "a@alder.sch.uk", "roles": "Centre Admin"},
        ctx=CTX,
    )
    assert clean["roles"] == ()
    assert [str(p) for p in problems] == ["row 2, Roles: you may not grant Centre Admin in an upload"]


def test_unknown_role_and_person_type_name_the_choices():
    _clean, problems = row_clean(
        9,
        {
            "username": "a.b",
            "given_name": "A",
            "family_name": "B",
            "email": "a@x.org",
            "person_type": "Alien",
            "roles": "Wizard",
        },  # fmt: skip
        ctx=CTX,
    )
    messages = [str(p) for p in problems]
    assert 'row 9, Person Type: "Alien" is not a person type; use Student, Staff or Contact' in messages
    assert 'row 9, Roles: "Wizard" is not a role; use EO, SLT, INV' in messages


def test_staff_on_another_domain_is_a_warning_not_an_error():
    clean, problems = row_clean(
        2, {"username": "a.b", "given_name": "A", "family_name": "B", "email": "a@gmail.com"}, ctx=CTX
    )
    assert [p.warning for p in problems] == [True]
    assert "not on the school's email domains" in problems[0].message


def test_bad_email_is_named():
    _clean, problems = row_clean(
        4, {"username": "a.b", "given_name": "A", "family_name": "B", "email": "not-an-email"}, ctx=CTX
    )
    assert [str(p) for p in problems] == ["row 4, Email: not-an-email is not a valid email address"]
