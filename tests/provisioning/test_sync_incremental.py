"""Planning from the lines that changed since the last applied run must give exactly the plan of comparing the
whole feed with everyone the school holds; whenever it cannot be sure, it must step aside (None)."""

import io
import zipfile
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account, ContactLink, Membership
from provisioning.models import Feed, SyncRun
from provisioning.sync import feed_diff, incremental, services
from provisioning.sync import sync_plan as planning
from provisioning.sync.feeds import parse_feed
from provisioning.sync.policy import policy_for
from tests.factories import MembershipFactory, RoleAssignmentFactory, SchoolFactory, member
from tests.provisioning.sync_helpers import contact, feed_zip, receive, run_sync, staff, student

pytestmark = pytest.mark.django_db
pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="edits by hand are named by PostgreSQL's triggers"
)


def _member(school, code):
    return Membership.objects.get(school=school, mis_code=code)


PEOPLE = [student("S1", upn="A1"), student("S2", "Bob", upn="A2"), student("S3", email="s3@x.org"),
          student("S4", "Dee", year="8", form="8B"), student("S5", "Zoë", "Ó'Brien", year="9"),
          student("S6", "Eve", leaving="2020-01-01")]  # fmt: skip
STAFF = [staff("T1", roles="eo"), staff("T2")]
CONTACTS = [contact("C1"), contact("C2", portal="no"), contact("C3", email="c3@x.org"), contact("C4")]
LINKS = [["C1", "S1", "Mother", "yes"], ["C2", "S2", "Father", "no"], ["C3", "S3", "Carer", "yes"],
         ["C4", "S4", "Aunt", "yes"], ["C4", "S5", "Aunt", "yes"]]  # fmt: skip


def base_feed(**overrides):
    parts = {"students": PEOPLE, "staff_rows": STAFF, "contacts": CONTACTS, "links": LINKS, **overrides}
    return feed_zip(**parts)


def applied(school, content=None, **policy_values):
    policy_values.setdefault("staff_roles", ["teacher_security", "eo"])
    run = run_sync(school, content or base_feed(), **policy_values)
    assert run.state == "applied", run.message
    return run


def comparable(plan):
    """Counts and items, with the fresh ids a plan gives new people and new memberships (different each time)
    blanked."""
    held = {str(pk) for pk in Membership.objects.values_list("id", flat=True)}
    items = []
    for item in plan.items:
        item = dict(item)
        if item["outcome"] == "create":
            item.pop("membership_id", None)
            item.pop("account_id", None)
        elif item["outcome"] == "transfer":
            item.pop("membership_id", None)  # the membership it opens here is new; the account is not
        ends = {k: (v if v in held else "new") for k, v in item["after"].items() if k.endswith("_membership_id")}
        items.append({**item, "after": {**item["after"], **ends}})
    return {k: v for k, v in plan.counts.items() if v}, sorted(items, key=repr)


def both_ways(school, content, *, today=None):
    """(plan from the changes, plan in full) of this feed, or (None, full plan) when the first steps aside."""
    policy = policy_for(school)
    run = SyncRun.objects.create(school=school, feed=receive(school, content), trigger="manual")
    quick = incremental.plan_changes(school=school, policy=policy, run=run, content=content, today=today)
    full = planning.make_plan(school=school, policy=policy, feed=parse_feed(content, today=today))
    return quick, full


def assert_same(school, content, *, today=None):
    quick, full = both_ways(school, content, today=today)
    assert quick is not None, "the incremental plan stepped aside"
    assert comparable(quick) == comparable(full)
    assert (quick.guard_count, quick.guard_threshold) == (full.guard_count, full.guard_threshold)
    return quick


def test_the_same_feed_again_is_all_unchanged_and_carries_the_skip(school_a):
    applied(school_a)
    plan = assert_same(school_a, base_feed())
    assert plan.counts["unchanged"] == 11 and plan.counts["link_unchanged"] == 5
    assert [(i["outcome"], i["mis_code"]) for i in plan.items] == [("skipped", "S6")]  # left before an account


def test_changed_new_and_gone_lines_plan_as_in_full(school_a):
    applied(school_a)
    changed = base_feed(
        students=[
            student("S1", "Ann", "Smith-Jones", upn="A1"),
            PEOPLE[1],
            student("S3", email="s3@x.org", year="8"),
            PEOPLE[4],
            PEOPLE[5],
            student("S7", "New"),
        ],  # fmt: skip
        staff_rows=[STAFF[0]],
        contacts=[*CONTACTS[:3], contact("C5")],
        # S4 and C4 left; C1's relationship changed; C3 gains S5; a new family.
        links=[
            ["C1", "S1", "Step-mother", "yes"],
            LINKS[1],
            LINKS[2],
            ["C3", "S5", "Aunt", "yes"],
            ["C5", "S7", "Mother", "yes"],
        ],  # fmt: skip
    )
    plan = assert_same(school_a, changed)
    outcomes = {(i["entity"], i["outcome"], i["mis_code"]) for i in plan.items}
    assert {("person", "update", "S1"), ("person", "archive", "S4"), ("person", "archive", "T2"),
            ("person", "create", "S7"), ("link", "update", "C1"), ("link", "create", "C5")} <= outcomes  # fmt: skip


def test_a_student_who_left_with_their_link_line(school_a):
    applied(school_a)
    plan = assert_same(school_a, base_feed(students=[p for p in PEOPLE if p[0] != "S2"], links=[LINKS[0], *LINKS[2:]]))
    assert ("person", "archive", "S2") in {(i["entity"], i["outcome"], i["mis_code"]) for i in plan.items}


def test_a_contact_who_returns_loses_the_links_the_export_no_longer_has(school_a):
    applied(school_a)
    applied(school_a, base_feed(contacts=CONTACTS[:3], links=LINKS[:3]))  # C4 leaves; its links are kept
    plan = assert_same(school_a, base_feed(links=[*LINKS[:3], LINKS[3]]))  # C4 is back with one of them
    assert ("link", "archive") in {(i["entity"], i["outcome"]) for i in plan.items}


def test_people_whose_line_changed_keep_their_links_unless_they_come_or_go(school_a):
    """Links are planned again only for people new to the file, gone from it, or without a membership yet;
    a changed line (a rename, an email, an inactive flag and back) leaves the person's links as they were."""
    applied(school_a, year_groups=["7", "9"])  # S4 (year 8) is skipped: no membership, its link not made
    edited = base_feed(
        students=[student("S1", "Ann", "Renamed", upn="A1"), student("S2", "Bob", upn="A2", inactive="yes"),
                  *PEOPLE[2:3], student("S4", "Dee", year="9", form="9B"), *PEOPLE[4:]],
        contacts=[contact("C1", email="c1@new.example"), *CONTACTS[1:]],
    )  # fmt: skip
    plan = assert_same(school_a, edited)
    outcomes = {(i["entity"], i["outcome"], i["mis_code"]) for i in plan.items}
    assert {("person", "update", "S1"), ("person", "archive", "S2"), ("person", "create", "S4"),
            ("link", "create", "C4")} <= outcomes  # fmt: skip
    applied(school_a, edited, year_groups=["7", "9"])
    back = base_feed(students=[student("S1", "Ann", "Renamed", upn="A1"), *PEOPLE[1:3],
                               student("S4", "Dee", year="9", form="9B"), *PEOPLE[4:]],
                     contacts=[contact("C1", email="c1@new.example"), *CONTACTS[1:]])  # fmt: skip
    plan = assert_same(school_a, back)
    assert ("person", "reactivate", "S2") in {(i["entity"], i["outcome"], i["mis_code"]) for i in plan.items}


def test_a_leaving_date_that_came_due_since_makes_a_leaver(school_a):
    soon = (date.today() + timedelta(days=3)).isoformat()
    content = base_feed(students=[*PEOPLE, student("S8", "Fay", leaving=soon)])
    applied(school_a, content)
    assert_same(school_a, content)  # not due yet: unchanged
    plan = assert_same(school_a, content, today=date.today() + timedelta(days=5))
    assert ("archive", "S8") in {(i["outcome"], i["mis_code"]) for i in plan.items}


@pytest.mark.parametrize(
    "policy_values",
    [{"year_groups": ["7", "9"]}, {"overwrite_existing": False}, {"archive_inactive": False}],
)
def test_skips_of_the_last_run_are_carried_over_as_in_full(school_a, policy_values):
    applied(school_a)
    edited = base_feed(students=[student("S1", "Ann", "Renamed", upn="A1"), *PEOPLE[1:4], PEOPLE[5]],
                       contacts=CONTACTS[:3], links=LINKS[:3])  # fmt: skip
    applied(school_a, edited, **policy_values)  # the run whose skips are carried
    assert_same(school_a, edited)
    assert_same(school_a, base_feed(students=[student("S1", "Ann", "Renamed", upn="A1"), *PEOPLE[1:5]]))


def test_files_left_out_of_the_export_resolve_links_as_in_full(school_a):
    applied(school_a)
    only_links = feed_zip(students=PEOPLE, links=LINKS)
    applied(school_a, only_links)
    assert_same(school_a, feed_zip(students=PEOPLE, links=[*LINKS[:3], ["C1", "S2", "Uncle", "no"]]))


def test_quoted_cells_and_duplicate_link_lines(school_a):
    people = [*PEOPLE, student("S9", "Mary, Ann", 'O"Hara')]
    links = [*LINKS, ["C1", "S9", "Mother", "yes"], ["C1", "S9", "Duplicate", "no"]]
    applied(school_a, base_feed(students=people, links=links))
    assert_same(school_a, base_feed(students=people, links=[links[-1], *links[:-2]]))


def test_an_edit_by_hand_since_plans_as_in_full(school_a):
    """PostgreSQL's change rows name whom an edit touched, so those people are planned again with the changed
    lines; SQLite cannot tell, and steps aside."""
    applied(school_a)
    Account.objects.filter(memberships__school=school_a, memberships__mis_code="S1").update(given_name="Edited")
    quick, full = both_ways(school_a, base_feed())
    assert full.counts["update"] == 1
    if connection.vendor != "postgresql":
        assert quick is None
        return
    assert comparable(quick) == comparable(full)


def _by_hand(school, edit, content=None):
    applied(school)
    edit()
    content = content or base_feed(students=[student("S1", "Ann", "Renamed", upn="A1"), *PEOPLE[1:]])
    return assert_same(school, content)


def _outcomes(plan):
    return {(i["entity"], i["outcome"], i["mis_code"]) for i in plan.items}


@pg_only
def test_a_role_granted_by_hand_plans_as_in_full(school_a):
    _by_hand(
        school_a, lambda: RoleAssignmentFactory(school=school_a, membership=_member(school_a, "T2"), role_id="inv")
    )


@pg_only
def test_a_person_added_by_hand_with_a_code_the_export_lacks_is_a_leaver_as_in_full(school_a):
    plan = _by_hand(school_a, lambda: MembershipFactory(school=school_a, person_type="staff", mis_code="T9"))
    assert ("person", "archive", "T9") in _outcomes(plan)


@pg_only
def test_links_edited_or_removed_by_hand_plan_as_in_full(school_a):
    def edit():
        ContactLink.objects.filter(school=school_a, contact__mis_code="C1").update(portal_access=False)
        ContactLink.objects.filter(school=school_a, contact__mis_code="C3").delete()

    # Both ends of C1's link change their own lines too: changed lines alone would not bring the link back.
    content = base_feed(students=[student("S1", "Ann", "Renamed", upn="A1"), *PEOPLE[1:]],
                        contacts=[contact("C1", email="c1@new.example"), *CONTACTS[1:]])  # fmt: skip
    plan = _by_hand(school_a, edit, content)
    assert {("link", "update", "C1"), ("link", "create", "C3")} <= _outcomes(plan)


@pg_only
def test_a_membership_deleted_by_hand_makes_it_step_aside(school_a):
    applied(school_a)
    ContactLink.objects.filter(school=school_a, contact__mis_code="C4").delete()
    _member(school_a, "C4").delete()
    quick, _full = both_ways(school_a, base_feed())
    assert quick is None


@pg_only
def test_an_edit_by_hand_of_someone_without_an_mis_code_makes_it_step_aside(school_a):
    applied(school_a)
    MembershipFactory(school=school_a, person_type="staff", mis_code="")
    quick, _full = both_ways(school_a, base_feed())
    assert quick is None


def test_sign_ins_since_the_last_run_do_not_make_it_step_aside(school_a):
    """A sign-in rewrites the account row (last_login) but nothing the sync compares: on a school where people
    sign in every day, the nightly run must still plan from the changed lines."""
    applied(school_a)
    Account.objects.filter(memberships__school=school_a).update(last_login=timezone.now())
    assert_same(school_a, base_feed(students=[student("S1", "Ann-Marie", upn="A1"), *PEOPLE[1:]]))


def test_it_steps_aside_when_the_policy_changed_since(school_a):
    applied(school_a)
    policy = policy_for(school_a)
    policy.username_method = "first_last"
    policy.save()
    quick, _full = both_ways(school_a, base_feed())
    assert quick is None


def test_it_steps_aside_for_an_empty_username_skip(school_a):
    nameless = student("★", "", "")  # no letter in the names and nothing usable in the MIS code either
    applied(school_a, base_feed(students=[*PEOPLE, nameless]), username_method="initial_surname")
    quick, _full = both_ways(school_a, base_feed(students=[*PEOPLE, nameless]))
    assert quick is None


def test_a_nightly_resync_through_the_service_uses_it_and_applies_the_same(school_a, monkeypatch):
    applied(school_a)
    used = []
    real = incremental.plan_changes
    monkeypatch.setattr(incremental, "plan_changes", lambda **kw: used.append(real(**kw)) or used[-1])

    def nightly(content):
        run = SyncRun.objects.create(school=school_a, feed=receive(school_a, content), trigger="scheduled",
                                     dry_run=False)  # fmt: skip
        return services.sync_plan(run=run)

    run = nightly(base_feed(contacts=CONTACTS[:3], links=LINKS[:3]))
    assert used and used[-1] is not None and run.state == "applied"
    assert run.counts["archive"] == 1 and not run.counts.get("link_archive")  # a leaver's links stay, as in full
    assert Membership.objects.get(school=school_a, mis_code="C4").status == "archived"
    assert ContactLink.objects.filter(school=school_a, contact__mis_code="C4").count() == 2
    again = nightly(base_feed(contacts=CONTACTS[:3], links=LINKS[:3]))
    assert used[-1] is not None
    assert {k: v for k, v in again.counts.items() if v} == {"unchanged": 10, "link_unchanged": 3, "skipped": 1}


@pg_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nights_after_edits_by_hand_committed_on_their_own_plan_from_the_changes(school_a, monkeypatch):
    """As in production: each sync and each edit is a transaction of its own (the sync's mark of its own writes
    ends with its transaction), and the night after an edit plans the edited person again and undoes the edit."""
    used = []
    real = incremental.plan_changes
    monkeypatch.setattr(incremental, "plan_changes", lambda **kw: used.append(real(**kw)) or used[-1])

    def nightly():
        run = SyncRun.objects.create(school=school_a, feed=receive(school_a, base_feed()), trigger="scheduled",
                                     dry_run=False)  # fmt: skip
        return services.sync_plan(run=run)

    applied(school_a)
    Account.objects.filter(memberships__school=school_a, memberships__mis_code="S2").update(family_name="By hand")
    run = nightly()
    assert used[-1] is not None and run.state == "applied" and run.counts["update"] == 1
    assert Account.objects.get(memberships__school=school_a, memberships__mis_code="S2").family_name == "Smith"
    quiet = nightly()
    assert used[-1] is not None and not quiet.counts.get("update")


def test_duplicate_link_lines_that_swap_places_plan_as_in_full(school_a):
    """The first line of a pair counts. Two lines of one pair that only swap places are neither added nor
    removed, yet the relationship now read is the other line's (found by the random nights test)."""
    links = [*LINKS, ["C1", "S1", "Step-mother", "no"]]
    applied(school_a, base_feed(links=links))
    plan = assert_same(school_a, base_feed(links=[links[-1], *links[:-1]]))
    assert ("link", "update", "C1") in _outcomes(plan)


@pytest.mark.parametrize("overwrite", [True, False])
def test_the_night_after_a_transfer_in_plans_as_in_full(school_a, school_b, overwrite):
    """A person taken over from another school keeps that school's username, that night and the next, quick or
    full (the full comparison renamed it to this school's method before, found by the random nights test)."""
    applied(school_b, feed_zip(students=[student("B7", "Sam", upn="U7")]))
    moved = base_feed(students=[*PEOPLE, student("S7", "Sam", upn="U7")])
    run = applied(school_a, moved, overwrite_existing=overwrite)
    assert run.counts["transfer"] == 1
    plan = assert_same(school_a, moved)
    assert not [i for i in plan.items if i["mis_code"] == "S7"]


def test_codes_beyond_ascii_compare_as_in_full(school_a):
    people = [*PEOPLE[:4], student("SÉ5", "Zoë")]
    contacts = [*CONTACTS[:3], contact("CÉ4")]
    links = [*LINKS[:3], ["CÉ4", "SÉ5", "Aunt", "yes"]]
    applied(school_a, base_feed(students=people, contacts=contacts, links=links))
    assert_same(
        school_a, base_feed(students=people, contacts=contacts, links=[*links[:3], ["CÉ4", "SÉ5", "Mum", "no"]])
    )
    assert_same(school_a, base_feed(students=people[:4], contacts=contacts, links=links[:3]))


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_link_codes_read_from_bytes_match_the_csv_reader(encoding):
    """The byte-level reading of link lines (no decoding) must give what the csv reader and str.strip() give,
    beyond ASCII too: accented codes, a no-break space or an ASCII separator at a code's edge."""
    text = "contact_code,student_code,relationship\nCÉ1,S1,Mère\n C2 ,\xa0S2\xa0,Père\nC3\x1f,S3,\nC4\n,S5,x\n"
    data = text.encode(encoding)
    lines = data.splitlines()
    file = feed_diff.FeedFile(header=lines[0].decode(encoding).split(","), data=data, lines=lines[1:],
                                encoding=encoding, quoted=False)  # fmt: skip
    quoted = feed_diff.FeedFile(**{**file.__dict__, "quoted": True})

    fast = feed_diff.pairs(file, file.lines, 0, 1)

    assert fast == feed_diff.pairs(quoted, quoted.lines, 0, 1)
    assert [(c.decode(encoding), s.decode(encoding)) for c, s in fast] == [
        ("CÉ1", "S1"), ("C2", "S2"), ("C3", "S3"), ("C4", ""), ("", "S5")
    ]  # fmt: skip


# --- the same lines as the last applied run's feed (its digest): that feed is not read again ----------------


def rezipped(content: bytes) -> bytes:
    """The same CSV files zipped afresh, with other dates, as an MIS agent zips its export each night."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            archive.writestr(zipfile.ZipInfo(info.filename, date_time=(2031, 2, 3, 4, 5, 6)), source.read(info))
    return out.getvalue()


def stored_feed_gone(run):
    """The applied run's feed gone from storage: a night that read it again would step aside (OSError)."""
    Feed.objects.filter(pk=run.feed_id).update(file="feeds/gone/nothing-here.zip")


def test_a_feeds_digest_is_what_the_comparison_reads_not_the_zips_dates():
    content = base_feed()
    assert feed_diff.feed_digest(content) == feed_diff.feed_digest(rezipped(content)) != ""
    assert rezipped(content) != content
    assert feed_diff.feed_digest(base_feed(links=LINKS[:-1])) != feed_diff.feed_digest(content)
    renamed = feed_zip(students=PEOPLE, extra={"staff.csv": b"mis_code\n"})
    assert feed_diff.feed_digest(renamed) != feed_diff.feed_digest(feed_zip(students=PEOPLE, staff_rows=[]))
    assert feed_diff.feed_digest(b"mis_code,given_name\nS1,Ann\n") == ""


def test_the_same_lines_again_are_planned_without_reading_the_last_feed(school_a):
    run = applied(school_a)
    stored_feed_gone(run)
    content = rezipped(base_feed())
    assert receive(school_a, content).digest == run.feed.digest
    plan = assert_same(school_a, content)
    assert plan.counts["unchanged"] == 11 and plan.counts["link_unchanged"] == 5
    assert [(i["outcome"], i["mis_code"]) for i in plan.items] == [("skipped", "S6")]  # carried, as read again
    quick, _full = both_ways(school_a, base_feed(students=PEOPLE[:-1]))  # other lines: that feed is needed
    assert quick is None


def test_the_same_lines_after_a_policy_change_still_plan_in_full(school_a):
    stored_feed_gone(applied(school_a))
    policy = policy_for(school_a)
    policy.staff_roles = ["teacher_security"]
    policy.save()
    quick, full = both_ways(school_a, rezipped(base_feed()))
    assert quick is None


def test_the_same_lines_with_a_leaving_date_come_due_plan_the_leaver(school_a):
    soon = (date.today() + timedelta(days=3)).isoformat()
    content = base_feed(students=[*PEOPLE, student("S8", "Fay", leaving=soon)])
    stored_feed_gone(applied(school_a, content))
    assert_same(school_a, rezipped(content))  # not due yet: unchanged
    plan = assert_same(school_a, rezipped(content), today=date.today() + timedelta(days=5))
    assert ("archive", "S8") in {(i["outcome"], i["mis_code"]) for i in plan.items}


def test_the_same_lines_with_a_newcomer_held_as_a_possible_match_plan_in_full(school_a):
    """Someone may have decided on the match since (or the other account changed): only the full comparison knows."""
    sibling = SchoolFactory(organisation=school_a.organisation, name="Cedar College", slug="cedar")
    member(sibling, username="asmith", given_name="Ann", family_name="Smith", email="ann.smith@trust.org")
    content = base_feed(staff_rows=[*STAFF, staff("T9", "Ann", "Smith", email="ann.smith@trust.org")])
    run = applied(school_a, content)
    assert run.counts["skipped"] == 2  # S6, and T9 held
    stored_feed_gone(run)
    quick, _full = both_ways(school_a, rezipped(content))
    assert quick is None


@pg_only
def test_the_same_lines_after_an_edit_by_hand_plan_the_edited_person_again(school_a):
    stored_feed_gone(applied(school_a))
    Account.objects.filter(memberships__school=school_a, memberships__mis_code="S2").update(family_name="By hand")
    plan = assert_same(school_a, rezipped(base_feed()))
    assert ("person", "update", "S2") in _outcomes(plan)


def test_the_same_lines_after_a_transfer_in_plan_the_transferred_person_again(school_a, school_b):
    applied(school_b, feed_zip(students=[student("B7", "Sam", upn="U7")]))
    moved = base_feed(students=[*PEOPLE, student("S7", "Sam", upn="U7")])
    stored_feed_gone(applied(school_a, moved))
    assert_same(school_a, rezipped(moved))
