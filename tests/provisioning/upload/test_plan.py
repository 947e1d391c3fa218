"""What each row would do, decided against the registry for the whole file at once."""

import pytest

from provisioning.upload import services
from provisioning.upload.reader import read_upload
from tests.factories import AccountFactory, MembershipFactory, RoleAssignmentFactory, member
from tests.provisioning.upload.helpers import csv_bytes, staff_row, xlsx_bytes


def here(school, *roles, mis_code="", **account):
    membership = member(school, *roles, **account)
    membership.mis_code = mis_code
    membership.save()
    return membership


def plan_of(school, account, rows, mode="add_update", header=None, **kw):
    table = read_upload(xlsx_bytes(rows, header=header), "u.xlsx")
    return services.upload_plan(school=school, account=account, table=table, mode=mode, **kw)


def test_duplicates_within_the_file_stop_both_rows(school_a, eo_user):
    rows = [staff_row(1), staff_row(2), ["NEW.PERSON1", "A", "B", "a@alder.sch.uk", "Staff", "INV", "S99"]]
    plan = plan_of(school_a, eo_user, rows)
    assert [r.outcome for r in plan.rows] == ["error", "create", "error"]
    assert "appears more than once in the file (rows 2, 4)" in plan.rows[0].messages


def test_duplicate_mis_codes_within_the_file(school_a, eo_user):
    rows = [staff_row(1), [*staff_row(2)[:6], "S00001"]]
    plan = plan_of(school_a, eo_user, rows)
    assert [r.outcome for r in plan.rows] == ["error", "error"]
    assert "MIS code S00001 appears more than once" in plan.rows[1].messages


def test_a_username_taken_at_another_school_is_a_collision(school_a, school_b, eo_user):
    member(school_b, username="Taken.Name", email="someone@birch.sch.uk")
    plan = plan_of(school_a, eo_user, [["taken.name", "A", "B", "a@alder.sch.uk", "Staff", "INV", "Q1"]])
    row = plan.rows[0]
    assert row.outcome == "error"
    assert str(row.problems[0]) == "row 2, User Name: the username taken.name is already taken by another account"


def test_the_same_person_at_another_school_is_offered_to_add(school_a, school_b, eo_user):
    other = member(school_b, username="pat.teacher", email="pat@trust.org.uk").account
    plan = plan_of(school_a, eo_user, [["pat.teacher", "Pat", "T", "PAT@trust.org.uk", "Staff", "INV", "Q1"]])
    row = plan.rows[0]
    assert row.outcome == "add_existing"
    assert row.account["id"] == other.pk
    assert "add this person to your school" in row.message


def test_a_verified_email_elsewhere_offers_that_account_not_a_duplicate(school_a, school_b, eo_user):
    other = member(school_b, username="p.smith", email="p.smith@trust.org.uk", email_verified=True).account
    plan = plan_of(school_a, eo_user, [["psmith2", "P", "Smith", "P.Smith@trust.org.uk", "Staff", "INV", "Q1"]])
    row = plan.rows[0]
    assert row.outcome == "add_existing" and row.account["id"] == other.pk
    assert "Already registered as p.smith at another school" in row.message
    skipped = plan_of(school_a, eo_user, [["psmith2", "P", "Smith", "p.smith@trust.org.uk", "Staff", "INV", ""]],
                      add_existing=False)  # fmt: skip
    assert skipped.rows[0].outcome == "skip"


def test_already_registered_here_is_unchanged_or_updated(school_a, eo_user):
    existing = here(school_a, "inv", username="kim.here", email="kim@alder.sch.uk", given_name="Kim",
                      family_name="Here", mis_code="K1")  # fmt: skip
    same = ["kim.here", "Kim", "Here", "kim@alder.sch.uk", "Staff", "INV", "K1"]
    assert plan_of(school_a, eo_user, [same]).rows[0].outcome == "unchanged"
    changed = ["KIM.HERE", "Kimberley", "Here", "kim@alder.sch.uk", "Staff", "INV, SLT", "K1"]
    row = plan_of(school_a, eo_user, [changed]).rows[0]
    assert row.outcome == "update"
    assert row.account_changes == {"given_name": ["Kim", "Kimberley"]}
    assert row.roles_to_add == ("slt",)
    assert row.membership["id"] == existing.pk
    assert plan_of(school_a, eo_user, [changed], mode="add_new").rows[0].outcome == "skip"


def test_update_only_skips_new_people(school_a, eo_user):
    plan = plan_of(school_a, eo_user, [staff_row(1)], mode="update_only")
    assert plan.rows[0].outcome == "skip"


def test_an_eo_cannot_change_an_email_by_upload(school_a, eo_user, centre_admin):
    here(school_a, "inv", username="lee.here", email="lee@alder.sch.uk", given_name="Lee", family_name="H",
           mis_code="L1")  # fmt: skip
    row = ["lee.here", "Lee", "H", "lee.new@alder.sch.uk", "Staff", "INV", "L1"]
    refused = plan_of(school_a, eo_user, [row]).rows[0]
    assert refused.outcome == "error"
    assert "only a Centre Admin can change an email address" in refused.messages
    assert plan_of(school_a, centre_admin, [row]).rows[0].outcome == "update"


def test_a_centre_admin_cannot_change_their_own_email_by_upload(school_a, centre_admin):
    # The rule is accounts.services.authority's, as on the Users screens and the API.
    row = [centre_admin.username, centre_admin.given_name, centre_admin.family_name, "me.new@alder.sch.uk", "Staff",
           "", ""]  # fmt: skip
    refused = plan_of(school_a, centre_admin, [row]).rows[0]
    assert refused.outcome == "error"
    assert "a Centre Admin cannot change their own email address" in refused.messages


def test_a_mis_code_held_by_someone_else_here_is_an_error(school_a, eo_user):
    here(school_a, username="holder", mis_code="S00001")
    row = plan_of(school_a, eo_user, [staff_row(1)]).rows[0]
    assert row.outcome == "error"
    assert "MIS code S00001 already belongs to holder here" in row.messages


def test_deleted_accounts_keep_their_username(school_a, eo_user):
    from django.utils import timezone

    AccountFactory(username="gone.person", deleted_at=timezone.now())
    row = plan_of(school_a, eo_user, [["gone.person", "G", "P", "g@alder.sch.uk", "Staff", "INV", ""]]).rows[0]
    assert row.outcome == "error" and "deleted account" in row.messages


def test_the_sample_row_is_skipped(school_a, eo_user):
    row = plan_of(school_a, eo_user, [["sample.person", "Sam", "Sample", "", "Staff", "EO", ""]]).rows[0]
    assert row.outcome == "skip" and "sample row" in row.message


def test_a_contact_can_share_a_mis_code_with_a_student(school_a, nominated_contact):
    MembershipFactory(school=school_a, person_type="student", mis_code="C1")
    header = ["Username", "Given Names", "Family Name", "Email", "Person Type", "Role", "MIS Code"]
    plan = plan_of(school_a, nominated_contact, [["mum.one", "M", "One", "", "Contact", "", "C1"]], header=header)
    assert plan.rows[0].outcome == "create"
    assert plan.rows[0].clean["roles"] == ("parent",)  # the default role, which a nominated contact may grant


@pytest.mark.parametrize("rows", [100, 2000])
def test_validation_is_set_based(school_a, eo_user, django_assert_max_num_queries, rows):
    table = read_upload(csv_bytes([staff_row(n) for n in range(rows)]), "u.csv")
    with django_assert_max_num_queries(12 + 3 * (rows // 500)):
        plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert plan.counts["create"] == rows


def ca_row(account, given="Changed", family="Name", role="", mis_code=""):
    return [account.username, given, family, account.email, "Staff", role, mis_code]


def test_only_another_centre_admin_changes_a_centre_admins_account(school_a, eo_user, nominated_contact,
                                                                  centre_admin, support_user):  # fmt: skip
    admin = here(school_a, "centre_admin", username="ca.two", email="ca.two@alder.sch.uk").account
    for uploader in (eo_user, nominated_contact):
        row = plan_of(school_a, uploader, [ca_row(admin)]).rows[0]
        assert row.outcome == "error"
        refusal = (
            "this person holds roles you may not grant (Centre Admin), here or at another school, so you may not "
            "change their account; leave the cell as it is or blank"
        )
        expected = [f"row 2, Given Names *: {refusal}", f"row 2, Family Name *: {refusal}"]
        assert [str(p) for p in row.problems] == expected
    for uploader in (centre_admin, support_user):
        assert plan_of(school_a, uploader, [ca_row(admin)]).rows[0].outcome == "update"


def test_a_centre_admins_row_that_changes_only_the_mis_code_is_not_refused(school_a, eo_user):
    """As on Edit: the rule guards the account (names, email, UPN) and its roles, not the school's MIS code."""
    admin = here(school_a, "centre_admin", username="ca.two", email="ca.two@alder.sch.uk").account
    unchanged_names = ca_row(admin, admin.given_name, admin.family_name, mis_code="CA2")
    row = plan_of(school_a, eo_user, [unchanged_names]).rows[0]
    assert row.outcome == "update", row.messages
    assert row.membership_changes == {"mis_code": ["", "CA2"]}
    with_role = ca_row(admin, admin.given_name, admin.family_name, role="INV", mis_code="CA2")
    row = plan_of(school_a, eo_user, [with_role]).rows[0]
    assert row.outcome == "error" and "roles you may not grant (Centre Admin)" in row.messages


def test_a_centre_admins_row_is_skipped_not_refused_when_only_adding(school_a, eo_user):
    admin = here(school_a, "centre_admin", username="ca.two", email="ca.two@alder.sch.uk").account
    row = plan_of(school_a, eo_user, [ca_row(admin)], mode="add_new").rows[0]
    assert row.outcome == "skip" and not row.problems


def test_a_former_centre_admin_archived_here_is_not_protected(school_a, eo_user):
    membership = here(school_a, "centre_admin", username="ca.gone", email="ca.gone@alder.sch.uk")
    membership.status = "archived"
    membership.save()
    assert plan_of(school_a, eo_user, [ca_row(membership.account)]).rows[0].outcome == "update"


@pytest.mark.parametrize("rows", [10, 300])
def test_protecting_centre_admins_is_set_based(school_a, eo_user, django_assert_max_num_queries, rows):
    admins = [here(school_a, "centre_admin", username=f"ca{n}", email=f"ca{n}@alder.sch.uk").account
              for n in range(rows)]  # fmt: skip
    table = read_upload(csv_bytes([ca_row(a) for a in admins]), "u.csv")
    # One more than before: a change of names or email also reads the people's memberships at other schools. Two
    # more since organisation roles: the uploader's (what they grant here, whom they reach), once each.
    with django_assert_max_num_queries(12):
        plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_update")
    assert plan.counts["error"] == rows
    assert all("roles you may not grant (Centre Admin)" in r.messages for r in plan.rows)


def test_a_row_may_not_change_an_account_holding_a_role_elsewhere_the_uploader_may_not_grant(
    school_a, school_b, eo_user, centre_admin
):
    """One account at two schools: an INV here who is Centre Admin at Birch is out of an EO's reach."""
    shared = here(school_a, "inv", username="sam.shared", email="sam@alder.sch.uk").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=shared), role_id="centre_admin")
    row = plan_of(school_a, eo_user, [ca_row(shared)]).rows[0]
    assert row.outcome == "error" and "roles you may not grant (Centre Admin)" in row.messages
    # Authority is per school: this school's Centre Admin is nobody at Birch, a Centre Admin of both may.
    assert plan_of(school_a, centre_admin, [ca_row(shared)]).rows[0].outcome == "error"
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=centre_admin), role_id="centre_admin")
    assert plan_of(school_a, centre_admin, [ca_row(shared)]).rows[0].outcome == "update"


def test_adding_someone_from_another_school_with_roles_needs_reach_over_their_roles(school_a, school_b, eo_user):
    other = here(school_b, "centre_admin", username="pat.admin", email="pat@trust.org.uk").account
    with_role = plan_of(school_a, eo_user, [["pat.admin", "Pat", "A", "pat@trust.org.uk", "Staff", "INV", "Q1"]])
    assert (
        with_role.rows[0].outcome == "error" and "roles you may not grant (Centre Admin)" in with_role.rows[0].messages
    )
    without = plan_of(school_a, eo_user, [["pat.admin", "Pat", "A", "pat@trust.org.uk", "Staff", "", "Q1"]])
    assert without.rows[0].outcome == "add_existing" and without.rows[0].account["id"] == other.pk


def test_a_username_released_within_the_year_is_held_from_a_new_upload_row(school_a, eo_user):
    """Found by an outside test: a name the sync had just renamed away was given to a new account by upload."""
    from accounts.services import Actor, account_rename

    renamed = here(school_a, "inv", username="old.name", email="old@alder.sch.uk").account
    account_rename(actor=Actor(account=None, school=school_a), account=renamed, username="new.name")
    row = plan_of(school_a, eo_user, [["old.name", "Someone", "Else", "else@alder.sch.uk", "Staff", "INV", "Q9"]]).rows[
        0
    ]
    assert row.outcome == "error" and "released recently and is held" in row.messages
