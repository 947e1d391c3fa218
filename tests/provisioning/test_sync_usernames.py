"""Usernames the sync gives and keeps: Keep existing usernames, renames only when asked, transfers, and names
in any script (issue 19, "Usernames and people")."""

from types import SimpleNamespace

import pytest

from accounts.models import Account, Membership
from provisioning.models import SyncPolicy, SyncRecord
from provisioning.sync.policy import policy_for
from provisioning.sync.username_policy import username_stem
from tests.factories import member
from tests.provisioning.sync_helpers import feed_zip, run_sync, student

pytestmark = pytest.mark.django_db


def _member(school, code, person_type="student"):
    return Membership.objects.select_related("account").get(school=school, person_type=person_type, mis_code=code)


def _renames(run):
    return [r for r in SyncRecord.objects.filter(run=run) if "username" in r.after]


def _school_with_accounts(school, n=3):
    """Accounts made by +Add or upload before the school's first sync: usernames of their own making."""
    for i in range(n):
        names = {"username": f"pupil.{i}", "given_name": f"G{i}", "family_name": "Old"}
        held = member(school, "student_portal", person_type="student", **names)
        Membership.objects.filter(pk=held.pk).update(mis_code=f"S{i}", year_group="7", form="7A")


def test_the_first_sync_of_a_school_with_accounts_renames_nobody_but_plans_the_real_changes(school_a):
    _school_with_accounts(school_a)
    feed = feed_zip(students=[student("S0", "G0", "New"), student("S1", "G1", "Old", year="8"),
                              student("S2", "G2", "Old")])  # fmt: skip
    run = run_sync(school_a, feed, apply=False)
    assert policy_for(school_a).keep_usernames is True  # the default for a school that already holds accounts
    assert _renames(run) == []
    changes = {r.mis_code: r.after for r in SyncRecord.objects.filter(run=run, outcome="update")}
    assert changes == {"S0": {"family_name": "New"}, "S1": {"year_group": "8"}}
    assert run.counts["unchanged"] == 1


def test_without_keep_a_username_made_elsewhere_is_still_not_renamed(school_a):
    """A school that turned Keep existing usernames off still keeps the names the sync did not make."""
    _school_with_accounts(school_a, 1)
    run = run_sync(school_a, feed_zip(students=[student("S0", "G0", "New")]), keep_usernames=False,
                   username_method="initial_surname")  # fmt: skip
    assert _renames(run) == [] and run.counts == {"update": 1}
    assert _member(school_a, "S0").account.username == "pupil.0"


def test_a_school_without_accounts_starts_with_usernames_that_follow_names(school_a):
    assert policy_for(school_a).keep_usernames is False


def test_without_keep_a_username_follows_a_change_of_name(school_a):
    run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith")]), username_method="initial_surname")
    run = run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Jones")]), guard_threshold=5)
    assert [r.after for r in _renames(run)] == [{"family_name": "Jones", "username": "ajones"}]
    assert _member(school_a, "S1").account.username == "ajones"


def test_with_keep_a_change_of_name_changes_the_name_not_the_username(school_a):
    run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith")]), username_method="initial_surname")
    run = run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Jones")]), keep_usernames=True)
    assert _renames(run) == [] and run.counts == {"update": 1}
    account = _member(school_a, "S1").account
    assert (account.username, account.family_name) == ("asmith", "Jones")


def test_rename_existing_renames_once_then_the_request_is_cleared(school_a):
    run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith"), student("S2", "Bob", "Jones")]))
    asked = {"keep_usernames": True, "rename_existing": True, "guard_threshold": 5}
    run = run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith"), student("S2", "Bob", "Jones")]),
                   username_method="first_last", **asked)  # fmt: skip
    assert run.renames_asked and run.state == "applied"
    assert sorted((r.before["username"], r.after["username"]) for r in _renames(run)) == [
        ("s1", "ann.smith"), ("s2", "bob.jones")]  # fmt: skip
    assert SyncPolicy.objects.get(school=school_a).rename_existing is False
    again = run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith"), student("S2", "Bob", "Jones")]),
                     username_method="initial_surname")  # fmt: skip
    assert _renames(again) == [] and _member(school_a, "S1").account.username == "ann.smith"


def test_a_preview_with_the_rename_request_does_not_clear_it(school_a):
    run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith")]))
    run = run_sync(school_a, feed_zip(students=[student("S1", "Ann", "Smith")]), username_method="first_last",
                   rename_existing=True, apply=False)  # fmt: skip
    assert [r.after for r in _renames(run)] == [{"username": "ann.smith"}]
    assert SyncPolicy.objects.get(school=school_a).rename_existing is True


@pytest.mark.parametrize("keep", [True, False])
def test_a_person_transferred_in_keeps_their_username(school_a, school_b, keep):
    """The receiving school's next sync renamed them to its own method; now their username goes with them."""
    run_sync(school_b, feed_zip(students=[student("B7", "Sam", "Stone", upn="U7")]))
    moved = feed_zip(students=[student("S7", "Sam", "Stone", upn="U7")])
    first = run_sync(school_a, moved, username_method="initial_surname", keep_usernames=keep)
    assert first.counts == {"transfer": 1}
    for _night in range(2):
        run = run_sync(school_a, moved)
        assert run.counts == {"unchanged": 1} and _renames(run) == []
    assert _member(school_a, "S7").account.username == "b7"


def test_a_rename_request_leaves_a_person_transferred_in_alone(school_a, school_b):
    run_sync(school_b, feed_zip(students=[student("B7", "Sam", "Stone", upn="U7")]))
    people = [student("S1", "Ann", "Smith"), student("S7", "Sam", "Stone", upn="U7")]
    run_sync(school_a, feed_zip(students=people))
    run = run_sync(school_a, feed_zip(students=people), username_method="first_last", rename_existing=True,
                   guard_threshold=5)  # fmt: skip
    assert [(r.mis_code, r.after["username"]) for r in _renames(run)] == [("S1", "ann.smith")]
    assert _member(school_a, "S7").account.username == "b7"


# --- names in any script ---------------------------------------------------------------------------------


def _policy(method, **kw):
    return SimpleNamespace(username_method=method, prepend_text="", postpend_text="", lowercase=True, **kw)


@pytest.mark.parametrize(
    ("given", "family", "method", "expected"),
    [
        ("さくら", "たなか", "initial_surname", "stanaka"),
        ("名01", "姓01", "first_last", "ming01.xing01"),
        ("Ελένη", "Παπαδοπούλου", "first_last", "eleni.papadopoyloy"),
        ("Дмитрий", "Иванов", "surname_initial", "ivanovd"),
        ("محمد", "العلي", "first_last", "mhmd.lly"),
        ("Zoë", "Łukasz", "initial_surname", "zlukasz"),
    ],
)
def test_non_latin_names_are_transliterated(given, family, method, expected):
    person = {"mis_code": "S9", "given_name": given, "family_name": family, "email": ""}
    assert username_stem(_policy(method), person) == expected


@pytest.mark.parametrize(("given", "family"), [("★★", "☆☆"), ("01", "02"), ("♥", "Smith"), ("", "")])
@pytest.mark.parametrize("method", ["initial_surname", "first_last", "surname_initial"])
def test_a_name_with_no_letter_left_falls_back_to_the_mis_code(given, family, method):
    person = {"mis_code": "ＳＴＵ-9★", "given_name": given, "family_name": family, "email": ""}
    assert username_stem(_policy(method), person) == "stu-9"


def test_an_email_local_part_with_no_letter_falls_back_to_the_mis_code():
    person = {"mis_code": "S9", "given_name": "", "family_name": "", "email": "★@example.org"}
    assert username_stem(_policy("email_local"), person) == "s9"


def test_a_japanese_name_in_a_feed_gets_a_name_not_its_digits(school_a):
    """名01 姓01 became 01.01 before."""
    run_sync(school_a, feed_zip(students=[student("S1", "名01", "姓01"), student("S2", "★", "☆")]),
             username_method="first_last")  # fmt: skip
    assert _member(school_a, "S1").account.username == "ming01.xing01"
    assert _member(school_a, "S2").account.username == "s2"
    assert not Account.objects.filter(username__regex=r"^[0-9._-]*$").exists()
