import io
import zipfile

import pytest
from django.urls import reverse

from assessments import services
from assessments.models import AssessmentHidden, AssessmentProgress, Certificate, ProgressStatus
from tests.assessments.conftest import answers_for
from tests.factories import member
from tests.spreadsheet_checks import assert_no_formulas


def url(name, school, **kwargs):
    return reverse(name, kwargs={"school_slug": school.slug, **kwargs})


def _pass(school, account, assessment, capture=None):
    services.assessment_start(school=school, account=account, assessment=assessment)
    result = None
    for section in assessment.sections.all():
        result = services.section_submit(
            school=school, account=account, assessment=assessment, section=section, answers=answers_for(section)
        )
    return result.certificate


@pytest.fixture
def slt_user(school_a):
    return member(school_a, "slt", username="slt.alder").account


@pytest.fixture
def inv_membership(inv_user, school_a):
    return inv_user.memberships.get(school=school_a)


# --- who may open what ------------------------------------------------------------------------------

PAGES = {
    "home": lambda s, m, a: url("assessments_home", s),
    "detail": lambda s, m, a: url("assessment_detail", s, assessment_id=a.pk),
    "access": lambda s, m, a: url("assessment_access", s, membership_id=m.pk),
    "progress": lambda s, m, a: url("progress_user", s, membership_id=m.pk),
    "sections": lambda s, m, a: url("progress_sections", s, membership_id=m.pk, assessment_id=a.pk),
    "summary": lambda s, m, a: url("user_summary", s),
    "xlsx": lambda s, m, a: url("user_summary_xlsx", s),
}

EXPECTED = {
    # persona: {page: status}
    "inv_user": {
        "home": 200,
        "detail": 200,
        "access": 403,
        "progress": 403,
        "sections": 403,
        "summary": 403,
        "xlsx": 403,
    },
    "eo_user": {
        "home": 200,
        "detail": 200,
        "access": 403,
        "progress": 200,
        "sections": 200,
        "summary": 200,
        "xlsx": 200,
    },
    "slt_user": {
        "home": 200,
        "detail": 200,
        "access": 403,
        "progress": 200,
        "sections": 200,
        "summary": 200,
        "xlsx": 200,
    },
    "centre_admin": {
        "home": 200,
        "detail": 200,
        "access": 200,
        "progress": 200,
        "sections": 200,
        "summary": 200,
        "xlsx": 200,
    },
    "nominated_contact": {
        "home": 403,
        "detail": 403,
        "access": 403,
        "progress": 403,
        "sections": 403,
        "summary": 403,
        "xlsx": 403,
    },
    "other_school_admin": dict.fromkeys(PAGES, 404),
}


@pytest.mark.parametrize("persona", EXPECTED)
def test_each_persona_opens_only_what_their_roles_allow(
    request, persona, login, school_a, inv_membership, assessment, slt_user
):
    account = request.getfixturevalue(persona)
    client = login(account)
    for page, expected in EXPECTED[persona].items():
        response = client.get(PAGES[page](school_a, inv_membership, assessment))
        assert response.status_code == expected, f"{persona} {page}: {response.status_code}"


def test_a_membership_of_another_school_is_not_found(login, centre_admin, school_a, school_b, assessment):
    elsewhere = member(school_b, "inv")
    client = login(centre_admin)
    assert client.get(url("assessment_access", school_a, membership_id=elsewhere.pk)).status_code == 404
    assert client.get(url("progress_user", school_a, membership_id=elsewhere.pk)).status_code == 404


# --- taking ---------------------------------------------------------------------------------------------


def test_inv_user_takes_passes_and_gets_a_certificate_pdf(
    login, inv_user, school_a, assessment, django_capture_on_commit_callbacks
):
    client = login(inv_user)
    home = client.get(url("assessments_home", school_a))
    assert assessment.title in home.content.decode()
    response = client.post(url("assessment_start", school_a, assessment_id=assessment.pk))
    assert response.url == url("assessment_take", school_a, assessment_id=assessment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        for section in assessment.sections.all():
            page = client.get(url("assessment_take", school_a, assessment_id=assessment.pk))
            assert section.title in page.content.decode()
            form = {"section": str(section.pk)}
            for qid, choices in answers_for(section).items():
                form[f"q-{qid}"] = choices
            client.post(url("assessment_take", school_a, assessment_id=assessment.pk), form)
    progress = AssessmentProgress.objects.get(account=inv_user, assessment=assessment)
    assert progress.status == ProgressStatus.PASSED
    certificate = Certificate.objects.get(account=inv_user)
    assert certificate.pdf  # rendered by the certificate_pdf job once the pass committed
    pdf = client.get(url("certificate_pdf", school_a, certificate_id=certificate.pk) + "?download=1")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    view = client.get(url("certificate_detail", school_a, certificate_id=certificate.pk))
    assert certificate.code in view.content.decode()


def test_a_failed_section_shows_the_mark_and_can_be_retried(login, inv_user, school_a, assessment):
    client = login(inv_user)
    client.post(url("assessment_start", school_a, assessment_id=assessment.pk))
    section = assessment.sections.first()
    form = {"section": str(section.pk)}
    for qid, choices in answers_for(section, right=False).items():
        form[f"q-{qid}"] = choices
    response = client.post(url("assessment_take", school_a, assessment_id=assessment.pk), form, follow=True)
    assert "0 / 2, and 2 are needed to pass" in response.content.decode()
    again = client.get(url("assessment_take", school_a, assessment_id=assessment.pk))
    assert section.title in again.content.decode()


def test_a_hidden_assessment_is_not_listed_and_answers_404(login, inv_user, centre_admin, school_a, assessment):
    AssessmentHidden.objects.create(school=school_a, account=inv_user, assessment=assessment, hidden_by=centre_admin)
    client = login(inv_user)
    assert assessment.title not in client.get(url("assessments_home", school_a)).content.decode()
    for name in ("assessment_detail", "assessment_take"):
        assert client.get(url(name, school_a, assessment_id=assessment.pk)).status_code == 404
    assert client.post(url("assessment_start", school_a, assessment_id=assessment.pk)).status_code == 404


def test_inv_user_cannot_open_someone_elses_certificate(login, inv_user, school_a, assessment):
    other = member(school_a, "inv").account
    certificate = _pass(school_a, other, assessment)
    client = login(inv_user)
    assert client.get(url("certificate_detail", school_a, certificate_id=certificate.pk)).status_code == 404
    assert client.get(url("certificate_pdf", school_a, certificate_id=certificate.pk)).status_code == 404


def test_eo_user_opens_a_persons_certificate(login, eo_user, inv_user, school_a, assessment):
    certificate = _pass(school_a, inv_user, assessment)
    response = login(eo_user).get(url("certificate_detail", school_a, certificate_id=certificate.pk))
    assert response.status_code == 200
    assert inv_user.full_name in response.content.decode()


def test_a_pdf_not_yet_rendered_says_so(login, inv_user, school_a, assessment):
    certificate = _pass(school_a, inv_user, assessment)  # no on_commit here: the job has not run
    response = login(inv_user).get(url("certificate_pdf", school_a, certificate_id=certificate.pk))
    assert response.status_code == 202
    assert "being prepared" in response.content.decode()


# --- Assessment Access ----------------------------------------------------------------------------


def test_centre_admin_hides_with_a_tick_and_save_and_close(login, centre_admin, inv_membership, school_a, assessment):
    client = login(centre_admin)
    page = client.get(url("assessment_access", school_a, membership_id=inv_membership.pk)).content.decode()
    assert "Save &amp; Close" in page and f'value="{assessment.pk}"' in page
    response = client.post(
        url("assessment_access", school_a, membership_id=inv_membership.pk),
        {"hidden": [str(assessment.pk)], "save_close": "1"},
    )
    assert response.status_code == 302
    assert AssessmentHidden.objects.filter(account=inv_membership.account, assessment=assessment).exists()
    client.post(url("assessment_access", school_a, membership_id=inv_membership.pk), {"save": "1"})
    assert not AssessmentHidden.objects.exists()


# --- Progress ---------------------------------------------------------------------------------------------


def test_progress_shows_status_result_and_the_answers_given(
    login, eo_user, inv_user, inv_membership, school_a, assessment
):
    services.assessment_start(school=school_a, account=inv_user, assessment=assessment)
    section = assessment.sections.first()
    services.section_submit(
        school=school_a,
        account=inv_user,
        assessment=assessment,
        section=section,
        answers=answers_for(section, right=False),
    )
    client = login(eo_user)
    page = client.get(url("progress_user", school_a, membership_id=inv_membership.pk)).content.decode()
    assert "Started" in page and "0/2" in page and "See Sections" in page
    sections = client.get(
        url("progress_sections", school_a, membership_id=inv_membership.pk, assessment_id=assessment.pk)
    ).content.decode()
    assert "FAILED" in sections and "1 failed attempt" in sections and "Untimed" in sections
    answers = client.get(
        url("progress_answers", school_a, membership_id=inv_membership.pk, section_id=section.pk)
    ).content.decode()
    assert "Attempt 1: 0 / 2" in answers and "S1 question 1" in answers


def test_progress_of_a_passed_assessment_has_the_certificate_icon(
    login, eo_user, inv_user, inv_membership, school_a, assessment
):
    certificate = _pass(school_a, inv_user, assessment)
    page = login(eo_user).get(url("progress_user", school_a, membership_id=inv_membership.pk)).content.decode()
    assert "Passed" in page and "2/2" in page
    assert url("certificate_detail", school_a, certificate_id=certificate.pk) in page


# --- User Summary -------------------------------------------------------------------------------------


def test_summary_shows_status_date_and_expiry(login, eo_user, inv_user, school_a, assessment):
    _pass(school_a, inv_user, assessment)
    page = login(eo_user).get(url("user_summary", school_a)).content.decode()
    assert inv_user.full_name in page and "Passed" in page and "Expires" in page


def test_summary_marks_expiring_and_expired_certificates(login, eo_user, inv_user, school_a, assessment):
    import datetime as dt

    from django.utils import timezone

    certificate = _pass(school_a, inv_user, assessment)
    Certificate.objects.filter(pk=certificate.pk).update(expires_at=timezone.now() + dt.timedelta(days=10))
    assert "expires soon" in login(eo_user).get(url("user_summary", school_a)).content.decode()
    Certificate.objects.filter(pk=certificate.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    assert "cell-expired" in login(eo_user).get(url("user_summary", school_a)).content.decode()


def test_summary_xlsx_neutralises_formulas(login, eo_user, school_a, assessment):
    member(school_a, "inv", given_name='=HYPERLINK("http://x")', family_name="+Smith")
    response = login(eo_user).get(url("user_summary_xlsx", school_a))
    values = [value for _where, value, _type in assert_no_formulas(response.content, "summary.xlsx")]
    assert '=HYPERLINK("http://x")' in values and "+Smith" in values  # as text, exactly as sent


def test_summary_query_count_does_not_grow_with_people(
    login, eo_user, school_a, assessment, django_assert_max_num_queries
):
    for _ in range(15):
        _pass(school_a, member(school_a, "inv").account, assessment)
    client = login(eo_user)
    with django_assert_max_num_queries(20):
        assert client.get(url("user_summary", school_a)).status_code == 200


def test_slt_downloads_every_certificate_as_a_zip(
    login, slt_user, school_a, assessment, django_capture_on_commit_callbacks
):
    people = [member(school_a, "inv").account for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        certificates = [_pass(school_a, p, assessment) for p in people]
    client = login(slt_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("certificate_zip_start", school_a), {"assessment": ""})
    page = client.get(response.url).content.decode()
    assert "Download certificates-" in page
    job_id = response.url.rstrip("/").split("/")[-1]
    download = client.get(url("certificate_zip_download", school_a, job_id=job_id))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = archive.namelist()
    assert len(names) == 3
    assert all(any(c.code in n for n in names) for c in certificates)
    assert archive.read(names[0]).startswith(b"%PDF")


def test_inv_user_cannot_start_a_certificate_zip(login, inv_user, school_a):
    assert login(inv_user).post(url("certificate_zip_start", school_a)).status_code == 403


# --- Public verification ------------------------------------------------------------------------------


def test_the_verification_page_needs_no_sign_in_and_says_valid(client, inv_user, school_a, assessment):
    certificate = _pass(school_a, inv_user, assessment)
    response = client.get(reverse("certificate_verify", kwargs={"code": certificate.code.lower()}))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-status="Valid"' in page and inv_user.full_name in page


def test_the_verification_page_withholds_a_deleted_holders_name(client, inv_user, school_a, assessment):
    certificate = _pass(school_a, inv_user, assessment)
    name = inv_user.full_name
    services.certificates_revoke_for_deleted_holder(account=inv_user)
    page = client.get(reverse("certificate_verify", kwargs={"code": certificate.code})).content.decode()
    assert 'data-status="Revoked"' in page and "holder account deleted" in page
    assert name not in page and assessment.title in page


def test_an_unknown_code_is_not_found(client, db):
    response = client.get(reverse("certificate_verify", kwargs={"code": "RC-0000-0000-0000"}))
    assert response.status_code == 404
    assert "No certificate has the code" in response.content.decode()


def test_a_late_timed_submission_is_refused_with_time_is_up(login, inv_user, school_a, timed_assessment):
    import datetime as dt

    from django.utils import timezone

    client = login(inv_user)
    client.post(url("assessment_start", school_a, assessment_id=timed_assessment.pk))
    AssessmentProgress.objects.filter(account=inv_user).update(deadline=timezone.now() - dt.timedelta(minutes=5))
    section = timed_assessment.sections.first()
    form = {"section": str(section.pk)} | {f"q-{q}": c for q, c in answers_for(section).items()}
    response = client.post(url("assessment_take", school_a, assessment_id=timed_assessment.pk), form, follow=True)
    assert "Time is up" in response.content.decode()
    assert AssessmentProgress.objects.get(account=inv_user).status == ProgressStatus.FAILED
    assert "Start again" in response.content.decode()


def test_the_public_verification_page_gives_the_issuing_organisations_support_contact(
    client, inv_user, school_a, assessment
):
    certificate = _pass(school_a, inv_user, assessment)
    page = client.get(reverse("certificate_verify", kwargs={"code": certificate.code})).content.decode()
    assert "Trust IT 01632 960 000" in page  # the organisation's, set by support staff
    assert "support@rollcall.invalid" not in page
