"""A sync that moves many contacts into Ready to Revoke Access warns the nominated contacts.

The forecast (contacts_moving_to_revoke) is checked against what really happens: each scenario plans a
feed, asks which contacts would move, applies the same feed and compares with the contacts' real states.
"""

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from accounts.models import Membership
from provisioning.contacts.selectors import ContactStatus, RevokeReason, contacts_with_state
from provisioning.models import SyncRun
from provisioning.sync import selectors, services
from provisioning.sync import sync_plan as planning
from provisioning.sync.feeds import parse_feed
from provisioning.sync.policy import policy_for
from provisioning.sync.revoke_forecast import contacts_moving_to_revoke
from tests.factories import MembershipFactory, member
from tests.provisioning.sync_helpers import contact, feed_zip, receive, run_sync, staff, student

pytestmark = pytest.mark.django_db

STUDENTS = [student("S1", "Ann"), student("S2", "Bob"), student("S3", "Cat")]
CONTACTS = [contact("C1", "Pat", "Only"), contact("C2", "Sam", "Both"), contact("C3", "Lee", "Third")]
LINKS = [["C1", "S1", "Mother", "yes"], ["C2", "S1", "Father", "yes"], ["C2", "S2", "Father", "yes"],
         ["C3", "S3", "Carer", "yes"]]  # fmt: skip


def _family(school, **policy):
    """Three students and three contacts: C1 has only S1, C2 has S1 and S2, C3 has S3. Every account gets
    a starter code, so the contacts hold credentials (Ready to Provision)."""
    run_sync(school, feed_zip(students=STUDENTS, contacts=CONTACTS, links=LINKS), **policy)
    return {m.mis_code: m for m in Membership.objects.filter(school=school, person_type="contact")}


def _items(school, content, **policy_values) -> list[dict]:
    policy = policy_for(school)
    for name, value in policy_values.items():
        setattr(policy, name, value)
    return planning.make_plan(school=school, policy=policy, feed=parse_feed(content, name="feed.zip")).items


def _states(school) -> dict[str, str]:
    return dict(contacts_with_state(school=school).values_list("mis_code", "state"))


def _forecast_then_apply(school, content, **policy) -> dict[str, str]:
    """{mis code: reason} the forecast gives; asserts that applying the feed moves exactly those contacts."""
    before = _states(school)
    movers = contacts_moving_to_revoke(school=school, items=_items(school, content, **policy))
    run_sync(school, content, confirm=True, guard_threshold=1000, **policy)
    after = _states(school)
    moved = {
        code
        for code, state in before.items()
        if state in (ContactStatus.ACTIVE, ContactStatus.READY_TO_PROVISION)
        and after[code] == ContactStatus.READY_TO_REVOKE
    }
    assert {m["mis_code"] for m in movers} == moved
    real_reasons = dict(contacts_with_state(school=school).filter(mis_code__in=moved).values_list("mis_code", "reason"))
    assert {m["mis_code"]: m["reason"] for m in movers} == real_reasons
    return {m["mis_code"]: m["reason"] for m in movers}


# --- The forecast --------------------------------------------------------------------------------------


def test_archiving_a_student_moves_their_only_parent_but_not_a_parent_with_another_child(school_a):
    _family(school_a)
    moved = _forecast_then_apply(school_a, feed_zip(students=STUDENTS[1:]), student_grace_days=0)
    assert moved == {"C1": RevokeReason.NO_STUDENTS}


def test_a_student_left_in_the_grace_period_already_ends_the_parents_access(school_a):
    _family(school_a)
    moved = _forecast_then_apply(school_a, feed_zip(students=STUDENTS[1:]), student_grace_days=14)
    assert moved == {"C1": RevokeReason.NO_STUDENTS}


def test_an_active_parent_who_chose_a_password_moves_too(school_a):
    parents = _family(school_a)
    account = parents["C3"].account
    account.set_password("a-long-chosen-passphrase")
    account.must_change_password = False
    account.save()
    assert _states(school_a)["C3"] == ContactStatus.ACTIVE
    items = _items(school_a, feed_zip(students=STUDENTS[:2]), student_grace_days=0)
    [mover] = contacts_moving_to_revoke(school=school_a, items=items)
    assert mover["mis_code"] == "C3" and mover["state"] == ContactStatus.ACTIVE and mover["given_name"] == "Lee"
    moved = _forecast_then_apply(school_a, feed_zip(students=STUDENTS[:2]), student_grace_days=0)
    assert moved == {"C3": RevokeReason.NO_STUDENTS}


def test_the_contacts_own_portal_flag_turned_off_moves_them(school_a):
    _family(school_a)
    contacts = [contact("C1", "Pat", "Only", portal="no"), *CONTACTS[1:]]
    moved = _forecast_then_apply(school_a, feed_zip(contacts=contacts))
    assert moved == {"C1": RevokeReason.WRONG_CONTACT}


def test_the_links_flag_turned_off_moves_the_parent_only_when_no_flagged_link_is_left(school_a):
    _family(school_a)
    links = [["C1", "S1", "Mother", "no"], ["C2", "S1", "Father", "no"], *LINKS[2:]]
    moved = _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS, links=links))
    assert moved == {"C1": RevokeReason.FLAG_CHANGED}


def test_a_link_gone_from_the_mis_moves_a_parent_left_without_links(school_a):
    _family(school_a)
    moved = _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS, links=LINKS[1:]))
    assert moved == {"C1": RevokeReason.WRONG_CONTACT}


def test_a_parent_linked_to_a_new_student_in_the_same_run_keeps_access(school_a):
    _family(school_a)
    students = [*STUDENTS[1:], student("S9", "New")]
    links = [["C1", "S9", "Mother", "yes"], *LINKS[2:]]
    moved = _forecast_then_apply(school_a, feed_zip(students=students, contacts=CONTACTS, links=links))
    assert moved == {}


def test_a_parent_linked_to_another_current_student_in_the_same_run_keeps_access(school_a):
    _family(school_a)
    links = [["C1", "S2", "Mother", "yes"], *LINKS[2:]]
    moved = _forecast_then_apply(school_a, feed_zip(students=STUDENTS[1:], contacts=CONTACTS, links=links))
    assert moved == {}


def test_a_contact_archived_with_nothing_left_has_no_access_rather_than_revoke(school_a):
    _family(school_a)
    moved = _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS[1:]), contact_grace_days=0)
    assert moved == {}
    assert _states(school_a)["C1"] == ContactStatus.NO_ACCESS


def test_a_contact_left_in_the_grace_period_keeps_a_sign_in_to_revoke(school_a):
    _family(school_a)
    moved = _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS[1:]), contact_grace_days=7)
    assert moved == {"C1": RevokeReason.NO_STUDENTS}


def test_an_archived_contact_who_is_also_staff_keeps_a_sign_in_to_revoke(school_a):
    parents = _family(school_a)
    MembershipFactory(school=school_a, account=parents["C1"].account, person_type="staff", mis_code="T1")
    moved = _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS[1:]), contact_grace_days=0)
    assert moved == {"C1": RevokeReason.NO_STUDENTS}


def test_a_contact_never_given_credentials_has_no_access_rather_than_revoke(school_a):
    _family(school_a, password_method="none")
    assert _states(school_a)["C1"] == ContactStatus.READY_TO_PROVISION
    moved = _forecast_then_apply(school_a, feed_zip(students=STUDENTS[1:]), student_grace_days=0)
    assert moved == {}
    assert _states(school_a)["C1"] == ContactStatus.NO_ACCESS


def test_a_plan_that_ends_nobodys_access_costs_no_query(school_a, django_assert_num_queries):
    _family(school_a)
    items = _items(school_a, feed_zip(students=[*STUDENTS, student("S9", "New")]))
    assert items
    with django_assert_num_queries(0):
        assert contacts_moving_to_revoke(school=school_a, items=items) == []
    with django_assert_num_queries(0):
        assert contacts_moving_to_revoke(school=school_a, items=[]) == []


def test_a_plan_that_only_archives_staff_costs_no_query(school_a, django_assert_num_queries):
    teachers = [staff("T1"), staff("T2")]
    run_sync(school_a, feed_zip(students=STUDENTS, staff_rows=teachers, contacts=CONTACTS, links=LINKS))
    items = _items(school_a, feed_zip(staff_rows=teachers[1:]), staff_grace_days=0)
    assert [(item["person_type"], item["outcome"]) for item in items] == [("staff", "archive")]
    with django_assert_num_queries(0):
        assert contacts_moving_to_revoke(school=school_a, items=items) == []


def test_a_removed_link_whose_item_does_not_name_the_contact_is_followed_to_it(school_a):
    _family(school_a)
    items = _items(school_a, feed_zip(contacts=CONTACTS, links=LINKS[1:]))
    for item in items:
        if item["entity"] == "link":
            item["before"].pop("contact_membership_id", None)
            item["after"].pop("contact_membership_id", None)
    [mover] = contacts_moving_to_revoke(school=school_a, items=items)
    assert mover["mis_code"] == "C1" and mover["reason"] == RevokeReason.WRONG_CONTACT


@pytest.mark.parametrize("size", [10, 300])
def test_the_forecast_costs_the_same_few_queries_for_10_or_300_families(school_a, size, django_assert_max_num_queries):
    students = [student(f"S{i}", f"G{i}") for i in range(size)]
    contacts = [contact(f"C{i}", f"P{i}") for i in range(size)]
    links = [[f"C{i}", f"S{i}", "Parent", "yes"] for i in range(size)]
    run_sync(school_a, feed_zip(students=students, contacts=contacts, links=links))
    # Half the students leave; a tenth of their parents are linked to a student still here instead, and
    # another tenth leave themselves (kept in their grace period).
    keep, tenth = size // 2, size // 10
    new_links = [[f"C{i}", f"S{i - keep}", "Parent", "yes"] for i in range(keep, keep + tenth)]
    content = feed_zip(students=students[:keep], contacts=contacts[: size - tenth], links=links[:keep] + new_links)
    policy = {"student_grace_days": 0, "contact_grace_days": 7}
    items = _items(school_a, content, **policy)
    with django_assert_max_num_queries(4):
        movers = contacts_moving_to_revoke(school=school_a, items=items)
    assert len(movers) == size - keep - tenth
    assert len(_forecast_then_apply(school_a, content, **policy)) == size - keep - tenth


# --- The warning through the sync ------------------------------------------------------------------------


def _flags_off(codes):
    """The contacts file with Parent portal access turned off for these contacts."""
    return feed_zip(contacts=[contact(*row[:3], portal="no") if row[0] in codes else row for row in CONTACTS])


def _plan_run(school, content, *, dry_run=True, **policy_values) -> SyncRun:
    policy = policy_for(school)
    for name, value in policy_values.items():
        setattr(policy, name, value)
    policy.save()
    run = SyncRun.objects.create(school=school, feed=receive(school, content), trigger="manual", dry_run=dry_run)
    services.sync_plan(run=run)
    run.refresh_from_db()
    return run


def test_over_the_threshold_the_run_warns_and_emails_the_nominated_contacts(
    school_a, mailoutbox, django_capture_on_commit_callbacks
):
    member(school_a, "nominated_contact", email="nc@alder.sch.uk")
    _family(school_a)
    with django_capture_on_commit_callbacks(execute=True):
        run = _plan_run(school_a, _flags_off({"C1", "C2", "C3"}), guard_threshold=2)
    assert run.state == "planned" and run.guard_count == 0  # flags are not the mass-change guard's business
    assert run.counts["contacts_to_revoke"] == 3
    warning = selectors.run_warnings(run)
    assert warning == [
        "This run moves 3 contacts into Ready to Revoke Access (more than the 2 allowed without a warning). "
        "Check the students archived in this run before revoking them in Account Manager."
    ]
    [email] = [m for m in mailoutbox if "Ready to Revoke Access" in m.subject]
    assert email.to == ["nc@alder.sch.uk"]
    assert warning[0] in email.body and "Nothing has been changed yet" in email.body


def test_a_nightly_run_applied_at_once_says_so_in_the_email(school_a, mailoutbox, django_capture_on_commit_callbacks):
    member(school_a, "nominated_contact", email="nc@alder.sch.uk")
    _family(school_a)
    with django_capture_on_commit_callbacks(execute=True):
        run = _plan_run(school_a, _flags_off({"C1", "C2"}), dry_run=False, guard_threshold=1)
    assert run.state == "applied" and run.counts["contacts_to_revoke"] == 2
    [email] = [m for m in mailoutbox if "Ready to Revoke Access" in m.subject]
    assert "The run has been applied" in email.body
    assert _states(school_a)["C1"] == ContactStatus.READY_TO_REVOKE


def test_at_the_threshold_the_count_is_kept_without_a_warning_or_email(
    school_a, mailoutbox, django_capture_on_commit_callbacks
):
    member(school_a, "nominated_contact", email="nc@alder.sch.uk")
    _family(school_a)
    with django_capture_on_commit_callbacks(execute=True):
        run = _plan_run(school_a, _flags_off({"C1", "C2"}), guard_threshold=2)
    assert run.counts["contacts_to_revoke"] == 2
    assert selectors.run_warnings(run) == []
    assert not mailoutbox


def test_a_run_that_moves_nobody_keeps_its_counts_as_they_were(school_a):
    _family(school_a)
    run = _plan_run(school_a, feed_zip(students=STUDENTS, contacts=CONTACTS, links=LINKS))
    assert run.counts == {"unchanged": 6, "link_unchanged": 4}


def test_the_run_page_the_report_and_the_api_show_the_warning(
    client, login, nominated_contact, school_a, django_capture_on_commit_callbacks
):
    _family(school_a)
    run = _plan_run(school_a, _flags_off({"C1", "C2", "C3"}), guard_threshold=1)
    kwargs = {"school_slug": school_a.slug, "run_id": run.pk}
    login(nominated_contact)
    page = client.get(reverse("sync_run_detail", kwargs=kwargs)).content.decode()
    assert "This run moves 3 contacts into Ready to Revoke Access (more than the 1 allowed without a warning)" in page
    report = client.get(reverse("sync_run_report", kwargs=kwargs)).content.decode("utf-8-sig")
    assert "Contacts moving into Ready to Revoke Access,3" in report
    assert "Check the students archived in this run before revoking them in Account Manager." in report
    detail = client.get(reverse("api_sync_run_detail", kwargs=kwargs)).json()
    assert detail["counts"]["contacts_to_revoke"] == 3 and detail["warnings"] == selectors.run_warnings(run)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sync_apply", kwargs=kwargs))
    page = client.get(reverse("sync_run_detail", kwargs=kwargs)).content.decode()
    assert "status=ready_to_revoke" in page  # once applied, straight to the contacts to check


def test_a_run_under_the_threshold_shows_no_warning(login, nominated_contact, school_a):
    _family(school_a)
    run = _plan_run(school_a, _flags_off({"C1"}), guard_threshold=1)
    page = login(nominated_contact).get(
        reverse("sync_run_detail", kwargs={"school_slug": school_a.slug, "run_id": run.pk})
    )
    assert "Ready to Revoke Access" not in page.content.decode()


@pytest.mark.scoped
def test_an_archived_contact_still_a_member_of_another_school_keeps_a_sign_in_to_revoke(school_a, school_b):
    """As a sync job runs it: inside the syncing school's scope, which must not hide the other school."""
    with scopes_disabled():
        parents = _family(school_a)
        MembershipFactory(school=school_b, account=parents["C1"].account, person_type="contact", mis_code="C1")
    with scope(school=school_a):
        moved = _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS[1:]), contact_grace_days=0)
    assert moved == {"C1": RevokeReason.NO_STUDENTS}


def test_account_manager_says_the_link_ended_for_a_parent_the_mis_unlinked(school_a):
    # Not "a contact not linked to a student": that is a username put on the wrong contact, never linked.
    from provisioning.contacts.selectors import revoke_reasons

    _family(school_a)
    _forecast_then_apply(school_a, feed_zip(contacts=CONTACTS, links=LINKS[1:]))
    row = contacts_with_state(school=school_a).get(mis_code="C1")
    found = revoke_reasons(school=school_a, contacts=[row])[row.pk]
    assert found.reason == RevokeReason.LINK_ENDED
    assert found.label == "No longer linked to a student (the link ended in the MIS)"
