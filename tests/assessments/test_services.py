import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from assessments import selectors, services
from assessments.models import AssessmentHidden, AssessmentProgress, Certificate, ProgressStatus, SectionAttempt
from tests.assessments.conftest import answers_for, make_assessment
from tests.factories import MembershipFactory, RoleAssignmentFactory, member


def _take_all(school, account, assessment, now=None):
    services.assessment_start(school=school, account=account, assessment=assessment, now=now)
    result = None
    for section in assessment.sections.all():
        result = services.section_submit(
            school=school,
            account=account,
            assessment=assessment,
            section=section,
            answers=answers_for(section),
            now=now,
        )
    return result


def test_it_marks_a_section_on_the_server(school_a, inv_user, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    section = assessment.sections.first()
    result = services.section_submit(
        school=school_a, account=inv_user, assessment=assessment, section=section, answers=answers_for(section)
    )
    assert (result.attempt.mark, result.attempt.out_of, result.attempt.passed) == (2, 2, True)
    assert result.progress.sections_passed == 1
    assert result.progress.status == ProgressStatus.STARTED


def test_it_scores_a_multiple_choice_question_only_when_the_chosen_set_is_exactly_right(school_a, inv_user, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    section = assessment.sections.first()
    single, multiple = list(section.questions.all())
    answers = answers_for(section)
    answers[str(multiple.id)] = [str(c.id) for c in multiple.choices.all()]  # tick every box
    result = services.section_submit(
        school=school_a, account=inv_user, assessment=assessment, section=section, answers=answers
    )
    assert result.attempt.mark == 1
    assert result.attempt.passed is False


def test_it_ignores_choices_from_another_question_and_two_answers_to_a_single_choice(school_a, inv_user, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    first, second = list(assessment.sections.all())
    section = first
    single = section.questions.get(kind="single")
    foreign = second.questions.first().choices.first()
    answers = answers_for(section)
    answers[str(single.id)] = [str(c.id) for c in single.choices.all()[:2]] + [str(foreign.id)]
    result = services.section_submit(
        school=school_a, account=inv_user, assessment=assessment, section=section, answers=answers
    )
    assert str(foreign.id) not in result.attempt.answers[str(single.id)]
    assert result.attempt.mark == 1


def test_a_failed_section_can_be_retried_and_the_failed_attempts_are_kept(school_a, inv_user, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    section = assessment.sections.first()
    for _ in range(2):
        failed = services.section_submit(
            school=school_a,
            account=inv_user,
            assessment=assessment,
            section=section,
            answers=answers_for(section, right=False),
        )
        assert failed.attempt.passed is False
    passed = services.section_submit(
        school=school_a, account=inv_user, assessment=assessment, section=section, answers=answers_for(section)
    )
    assert passed.attempt.passed
    rows = selectors.section_rows(school=school_a, account=inv_user, assessment=assessment)
    assert (rows[0].status, rows[0].failed_attempts, rows[0].passed_on) == ("COMPLETED", 2, 3)
    assert rows[1].status == "Started"


def test_it_refuses_a_section_answered_out_of_order(school_a, inv_user, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    second = assessment.sections.last()
    with pytest.raises(services.AssessmentClosed):
        services.section_submit(
            school=school_a, account=inv_user, assessment=assessment, section=second, answers=answers_for(second)
        )
    assert not SectionAttempt.objects.exists()


def test_it_refuses_answers_before_start(school_a, inv_user, assessment):
    section = assessment.sections.first()
    with pytest.raises(services.AssessmentClosed):
        services.section_submit(
            school=school_a, account=inv_user, assessment=assessment, section=section, answers=answers_for(section)
        )


def test_passing_every_section_passes_the_assessment_and_issues_a_certificate(school_a, inv_user, assessment):
    now = timezone.now()
    result = _take_all(school_a, inv_user, assessment, now=now)
    assert result.progress.status == ProgressStatus.PASSED
    certificate = result.certificate
    assert certificate.holder_name == inv_user.full_name
    assert (certificate.score, certificate.out_of) == (4, 4)
    assert [m["title"] for m in certificate.section_marks] == ["Section 1", "Section 2"]
    assert certificate.status == Certificate.Status.VALID
    assert 364 <= (certificate.expires_at - certificate.issued_at).days <= 366
    assert certificate.code.startswith("RC-") and len(certificate.code) == 17
    assert AuditEvent.objects.filter(action="assessments.certificate.issued", target_id=str(inv_user.pk)).exists()


def test_a_timed_assessment_closes_at_its_duration(school_a, inv_user, timed_assessment):
    start = timezone.now() - dt.timedelta(minutes=21)
    services.assessment_start(school=school_a, account=inv_user, assessment=timed_assessment, now=start)
    section = timed_assessment.sections.first()
    with pytest.raises(services.AssessmentClosed, match="Time is up"):
        services.section_submit(
            school=school_a,
            account=inv_user,
            assessment=timed_assessment,
            section=section,
            answers=answers_for(section),
        )
    progress = AssessmentProgress.objects.get(account=inv_user, assessment=timed_assessment)
    assert progress.status == ProgressStatus.FAILED
    assert not SectionAttempt.objects.filter(progress=progress).exists()


def test_a_timed_assessment_answered_in_time_is_marked(school_a, inv_user, timed_assessment):
    start = timezone.now() - dt.timedelta(minutes=19)
    services.assessment_start(school=school_a, account=inv_user, assessment=timed_assessment, now=start)
    section = timed_assessment.sections.first()
    result = services.section_submit(
        school=school_a, account=inv_user, assessment=timed_assessment, section=section, answers=answers_for(section)
    )
    assert result.progress.status == ProgressStatus.PASSED


def test_an_overdue_timed_run_shows_failed_before_anyone_submits(school_a, inv_user, timed_assessment):
    services.assessment_start(
        school=school_a, account=inv_user, assessment=timed_assessment, now=timezone.now() - dt.timedelta(hours=1)
    )
    [row] = [r for r in selectors.progress_rows(school=school_a, account=inv_user) if r.assessment == timed_assessment]
    assert row.status_label == "Failed"


def test_starting_again_after_time_ran_out_opens_a_new_run_with_a_new_deadline(school_a, inv_user, timed_assessment):
    services.assessment_start(
        school=school_a, account=inv_user, assessment=timed_assessment, now=timezone.now() - dt.timedelta(hours=1)
    )
    progress = services.assessment_start(school=school_a, account=inv_user, assessment=timed_assessment)
    assert progress.run == 2
    assert progress.deadline > timezone.now() + dt.timedelta(minutes=19)


def test_continuing_an_open_run_changes_nothing(school_a, inv_user, assessment):
    first = services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    again = services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    assert (again.run, again.started_at) == (first.run, first.started_at)


def test_a_second_pass_issues_a_new_certificate_and_supersedes_the_first(school_a, inv_user, assessment):
    first = _take_all(school_a, inv_user, assessment).certificate
    second = _take_all(school_a, inv_user, assessment).certificate
    first.refresh_from_db()
    assert second.pk != first.pk and second.code != first.code
    assert first.status == Certificate.Status.SUPERSEDED
    assert first.superseded_by_id == second.pk
    assert selectors.verification(first).status == "Superseded"
    assert selectors.verification(second).status == "Valid"


def test_verification_says_expired_after_the_validity(school_a, inv_user, assessment):
    certificate = _take_all(school_a, inv_user, assessment).certificate
    later = certificate.expires_at + dt.timedelta(seconds=1)
    assert selectors.verification(certificate, now=later).status == "Expired"


def test_verification_says_revoked_with_the_reason(school_a, inv_user, centre_admin, assessment):
    certificate = _take_all(school_a, inv_user, assessment).certificate
    services.certificate_revoke(school=school_a, certificate=certificate, actor=centre_admin, reason="Issued in error")
    certificate.refresh_from_db()
    check = selectors.verification(certificate)
    assert (check.status, check.reason, check.show_name) == ("Revoked", "Issued in error", True)


def test_revoking_needs_a_reason(school_a, inv_user, centre_admin, assessment):
    certificate = _take_all(school_a, inv_user, assessment).certificate
    with pytest.raises(ValidationError):
        services.certificate_revoke(school=school_a, certificate=certificate, actor=centre_admin, reason="  ")


def test_a_deleted_holder_certificate_stays_verifiable_without_the_name(school_a, inv_user, assessment):
    certificate = _take_all(school_a, inv_user, assessment).certificate
    inv_user.deleted_at = timezone.now()
    inv_user.save()
    assert services.certificates_revoke_for_deleted_holder(account=inv_user) == 1
    certificate.refresh_from_db()
    check = selectors.verification(certificate)
    assert (check.status, check.reason, check.show_name) == ("Revoked", "holder account deleted", False)
    assert certificate.holder_name == ""
    assert certificate.assessment_title == assessment.title


def test_a_certificate_whose_account_row_is_gone_hides_the_name(school_a, inv_user, assessment):
    certificate = _take_all(school_a, inv_user, assessment).certificate
    inv_user.delete()
    certificate.refresh_from_db()
    assert certificate.account is None
    assert selectors.verification(certificate).show_name is False


def test_assessments_are_offered_to_the_roles_in_their_audience(school_a, inv_user, nominated_contact, assessment):
    assert selectors.assessments_offered(school=school_a, account=inv_user) == [assessment]
    assert selectors.assessments_offered(school=school_a, account=nominated_contact) == []


def test_assessments_are_offered_only_for_roles_held_at_that_school(school_a, school_b, assessment):
    membership = member(school_b, "inv")
    assert selectors.assessments_offered(school=school_a, account=membership.account) == []


def test_a_hidden_assessment_is_neither_offered_nor_reachable(school_a, centre_admin, inv_user, assessment):
    services.assessment_access_set(
        school=school_a, actor=centre_admin, account=inv_user, hidden_assessment_ids={str(assessment.pk)}
    )
    assert selectors.assessments_offered(school=school_a, account=inv_user) == []
    with pytest.raises(type(assessment).DoesNotExist):
        selectors.assessment_for_taker(school=school_a, account=inv_user, assessment_id=assessment.pk)
    event = AuditEvent.objects.get(action="assessments.access.changed")
    assert event.changes["hidden"] == [assessment.title]


def test_unticking_shows_the_assessment_again(school_a, centre_admin, inv_user, assessment):
    services.assessment_access_set(
        school=school_a, actor=centre_admin, account=inv_user, hidden_assessment_ids={assessment.pk}
    )
    changes = services.assessment_access_set(
        school=school_a, actor=centre_admin, account=inv_user, hidden_assessment_ids=set()
    )
    assert changes == {"hidden": [], "unhidden": [assessment.title]}
    assert not AssessmentHidden.objects.exists()


def test_hiding_at_one_school_does_not_hide_at_another(school_a, school_b, centre_admin, assessment):
    person = member(school_a, "inv").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=person), role_id="inv")
    services.assessment_access_set(
        school=school_a, actor=centre_admin, account=person, hidden_assessment_ids={assessment.pk}
    )
    assert selectors.assessments_offered(school=school_b, account=person) == [assessment]


def test_started_membership_ids_names_only_people_who_started(school_a, inv_user, assessment):
    idle = member(school_a, "inv")
    started = inv_user.memberships.get(school=school_a)
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    assert selectors.started_membership_ids(school=school_a, membership_ids=[idle.pk, started.pk]) == {started.pk}


def test_import_names_every_problem_and_writes_nothing(db):
    data = {
        "code": "bad",
        "title": "Bad",
        "audience": ["nobody"],
        "sections": [
            {"title": "One", "pass_mark": 5, "questions": [{"text": "Q", "choices": [{"text": "a", "correct": True}]}]}
        ],
    }
    with pytest.raises(ValidationError) as info:
        services.assessment_import(data=data)
    text = " ".join(info.value.messages)
    assert "unknown role 'nobody'" in text
    assert "section 1: 'pass_mark'" in text
    assert "section 1, question 1: at least two choices" in text
    from assessments.models import Assessment

    assert not Assessment.objects.filter(code="bad").exists()


def test_reimport_replaces_content_nobody_has_taken(db):
    make_assessment("same", sections=2)
    assessment = make_assessment("same", sections=3)
    assert assessment.sections.count() == 3


def test_reimport_refuses_content_someone_has_taken(school_a, inv_user, assessment):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    with pytest.raises(ValidationError, match="already been taken"):
        make_assessment(assessment.code)
