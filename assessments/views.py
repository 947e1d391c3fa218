"""Assessment screens. Thin: look things up through the school, call a selector or a service, render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.decorators import require_perm
from accounts.models import Membership
from accounts.permissions import Perm
from accounts.selectors import membership_get
from assessments import certificates as rendering
from assessments import exports, selectors, services
from assessments.models import Assessment, Certificate, ProgressStatus, Section
from assessments.services import reminders
from tenancy.models import Job
from tenancy.selectors import job_get

# --- Taking ---------------------------------------------------------------------------------------------


@require_perm(Perm.ASSESSMENTS_TAKE)
def assessments_home(request, school_slug):
    rows = selectors.progress_rows(school=request.school, account=request.user)
    return render(request, "assessments/assessment_list.html", {"rows": rows})


def _taker_assessment(request, assessment_id) -> Assessment:
    try:
        return selectors.assessment_for_taker(school=request.school, account=request.user, assessment_id=assessment_id)
    except Assessment.DoesNotExist as exc:
        raise Http404("No such assessment.") from exc


@require_perm(Perm.ASSESSMENTS_TAKE)
def assessment_detail(request, school_slug, assessment_id):
    assessment = _taker_assessment(request, assessment_id)
    progress = selectors.progress_get(school=request.school, account=request.user, assessment=assessment)
    status = selectors.effective_status(progress)
    certificate = selectors.latest_certificates(school=request.school, account=request.user).get(assessment.pk)
    return render(
        request,
        "assessments/assessment_detail.html",
        {
            "assessment": assessment,
            "progress": progress,
            "status": status,
            "status_label": selectors.status_label(status),
            "sections": selectors.section_rows(school=request.school, account=request.user, assessment=assessment),
            "certificate": certificate,
            "privacy_notice": request.school.organisation.privacy_notice if progress is None else "",
        },
    )


@require_POST
@require_perm(Perm.ASSESSMENTS_TAKE)
def assessment_start(request, school_slug, assessment_id):
    assessment = _taker_assessment(request, assessment_id)
    services.assessment_start(school=request.school, account=request.user, assessment=assessment)
    return redirect("assessment_take", school_slug=school_slug, assessment_id=assessment.pk)


@require_perm(Perm.ASSESSMENTS_TAKE)
def assessment_take(request, school_slug, assessment_id):
    """The section to answer next. POST marks it on the server and goes back to the overview."""
    assessment = _taker_assessment(request, assessment_id)
    progress = selectors.progress_get(school=request.school, account=request.user, assessment=assessment)
    detail = redirect("assessment_detail", school_slug=school_slug, assessment_id=assessment.pk)
    if progress is None or progress.status != ProgressStatus.STARTED:
        return detail
    if selectors.is_overdue(progress):
        services.progress_close_if_overdue(school=request.school, account=request.user, assessment=assessment)
        messages.error(request, "Time is up: this timed assessment has closed. You can start again.")
        return detail
    sections = list(assessment.sections.all())
    section = selectors.current_section(progress=progress, sections=sections)
    if section is None:
        return detail
    if request.method == "POST":
        if request.POST.get("section") != str(section.pk):
            messages.error(request, "That section was already submitted. Here is the one to answer next.")
            return redirect("assessment_take", school_slug=school_slug, assessment_id=assessment.pk)
        answers = {key[2:]: request.POST.getlist(key) for key in request.POST if key.startswith("q-")}
        try:
            result = services.section_submit(
                school=request.school,
                account=request.user,
                assessment=assessment,
                section=section,
                answers=answers,
                base_url=request.build_absolute_uri("/"),
            )
        except services.AssessmentClosed as exc:
            messages.error(request, str(exc))
            return detail
        attempt = result.attempt
        if result.certificate is not None:
            messages.success(request, f"You passed {assessment.title}. Your certificate is ready below.")
        elif attempt.passed:
            messages.success(request, f"{section.title}: {attempt.mark} / {attempt.out_of}. Passed.")
            return redirect("assessment_take", school_slug=school_slug, assessment_id=assessment.pk)
        else:
            messages.warning(
                request,
                f"{section.title}: {attempt.mark} / {attempt.out_of}, and {section.pass_mark} are needed to pass. "
                "Read the questions again and have another go.",
            )
        return detail
    questions = list(section.questions.prefetch_related("choices"))
    return render(
        request,
        "assessments/assessment_take.html",
        {
            "assessment": assessment,
            "section": section,
            "section_number": sections.index(section) + 1,
            "section_total": len(sections),
            "questions": questions,
            "progress": progress,
        },
    )


# --- Certificates -------------------------------------------------------------------------------


def _certificate_for(request, certificate_id) -> Certificate:
    """The holder sees their own; people with Certificates see the school's. Anything else is missing (404)."""
    try:
        certificate = selectors.certificate_get(school=request.school, certificate_id=certificate_id)
    except Certificate.DoesNotExist as exc:
        raise Http404("No such certificate.") from exc
    own = certificate.account_id == request.user.pk
    if not (own or Perm.CERTIFICATES_VIEW in request.school_perms):
        raise Http404("No such certificate.")
    return certificate


@require_perm()
def certificate_detail(request, school_slug, certificate_id):
    certificate = _certificate_for(request, certificate_id)
    context = rendering.certificate_context(certificate, base_url=request.build_absolute_uri("/"))
    context["verification"] = selectors.verification(certificate)
    return render(request, "assessments/certificate_detail.html", context)


@require_perm()
def certificate_pdf(request, school_slug, certificate_id):
    certificate = _certificate_for(request, certificate_id)
    if not certificate.pdf:
        return render(request, "assessments/certificate_pending.html", {"certificate": certificate}, status=202)
    return FileResponse(
        certificate.pdf.open("rb"),
        as_attachment=request.GET.get("download") == "1",
        filename=certificate.pdf_filename,
        content_type="application/pdf",
    )


def certificate_verify(request, code):
    """Public, no sign-in: what a certificate's QR code opens."""
    certificate = selectors.certificate_by_code(rendering.normalise_code(code))
    if certificate is None:
        return render(request, "assessments/certificate_verify.html", {"code": code, "found": False}, status=404)
    check = selectors.verification(certificate)
    request.support_school = certificate.school  # the footer's support contact: the issuing organisation's
    return render(
        request,
        "assessments/certificate_verify.html",
        {"certificate": certificate, "found": True, "check": check, "code": certificate.code},
    )


# --- Assessment Access -------------------------------------------------------------------------


def _membership_or_404(request, membership_id) -> Membership:
    try:
        return membership_get(school=request.school, membership_id=membership_id)
    except Membership.DoesNotExist as exc:
        raise Http404("No such user.") from exc


@require_perm(Perm.ASSESSMENTS_ACCESS)
def assessment_access(request, school_slug, membership_id):
    """Tick an assessment to hide it from this person; untick to show it again."""
    membership = _membership_or_404(request, membership_id)
    account = membership.account
    if request.method == "POST":
        changes = services.assessment_access_set(
            school=request.school,
            actor=request.user,
            account=account,
            hidden_assessment_ids=set(request.POST.getlist("hidden")),
        )
        if changes["hidden"] or changes["unhidden"]:
            messages.success(request, f"Assessment access saved for {account.full_name}.")
        else:
            messages.info(request, "Nothing changed.")
        if "save_close" in request.POST:
            return redirect(_users_list_url(school_slug) or "assessments_home", school_slug=school_slug)
        return redirect("assessment_access", school_slug=school_slug, membership_id=membership.pk)
    offered = selectors.assessments_offered(school=request.school, account=account, include_hidden=True)
    hidden = selectors.hidden_assessment_ids(school=request.school, account=account)
    return render(
        request,
        "assessments/assessment_access.html",
        {
            "membership": membership,
            "person": account,
            "rows": [{"assessment": a, "hidden": a.pk in hidden} for a in offered],
            "users_url_name": _users_list_url(school_slug),
        },
    )


def _users_list_url(school_slug) -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("users_list", kwargs={"school_slug": school_slug})
    except NoReverseMatch:
        return None
    return "users_list"


# --- Progress -----------------------------------------------------------------------------------------


@require_perm(Perm.ASSESSMENTS_PROGRESS)
def progress_user(request, school_slug, membership_id):
    membership = _membership_or_404(request, membership_id)
    rows = selectors.progress_rows(school=request.school, account=membership.account, include_hidden=True)
    return render(
        request,
        "assessments/progress_user.html",
        {"membership": membership, "person": membership.account, "rows": rows},
    )


def _assessment_or_404(assessment_id) -> Assessment:
    try:
        return Assessment.objects.get(id=assessment_id)
    except Assessment.DoesNotExist as exc:
        raise Http404("No such assessment.") from exc


@require_perm(Perm.ASSESSMENTS_PROGRESS)
def progress_sections(request, school_slug, membership_id, assessment_id):
    membership = _membership_or_404(request, membership_id)
    assessment = _assessment_or_404(assessment_id)
    rows = selectors.section_rows(school=request.school, account=membership.account, assessment=assessment)
    return render(
        request,
        "assessments/progress_sections.html",
        {"membership": membership, "person": membership.account, "assessment": assessment, "rows": rows},
    )


@require_perm(Perm.ASSESSMENTS_PROGRESS)
def progress_answers(request, school_slug, membership_id, section_id):
    """The Graph icon: every go at one section, question by question, with the answers given."""
    membership = _membership_or_404(request, membership_id)
    try:
        section = Section.objects.select_related("assessment").get(id=section_id)
    except Section.DoesNotExist as exc:
        raise Http404("No such section.") from exc
    attempts = selectors.section_attempts(school=request.school, account=membership.account, section=section)
    questions = list(section.questions.prefetch_related("choices"))
    goes = []
    for n, attempt in enumerate(attempts, start=1):
        items = []
        for question in questions:
            chosen = set(attempt.answers.get(str(question.id), []))
            choices = [
                {"text": c.text, "chosen": str(c.id) in chosen, "correct": c.is_correct} for c in question.choices.all()
            ]
            right = all(ch["chosen"] == ch["correct"] for ch in choices)
            items.append({"question": question, "choices": choices, "right": right})
        goes.append({"number": n, "attempt": attempt, "items": items})
    return render(
        request,
        "assessments/progress_answers.html",
        {"membership": membership, "person": membership.account, "section": section, "goes": goes},
    )


# --- User Summary ------------------------------------------------------------------------------


@require_perm(Perm.SUMMARY_VIEW)
def user_summary(request, school_slug):
    assessments = selectors.summary_assessments(school=request.school)
    narrowed = selectors.summary_filter(params=request.GET)
    people = selectors.summary_people_filtered(school=request.school, filter=narrowed)
    page = Paginator(people, 100).get_page(request.GET.get("page"))
    rows = selectors.summary_rows(school=request.school, memberships=page.object_list, assessments=assessments)
    return render(
        request,
        "assessments/user_summary.html",
        {
            "assessments": assessments,
            "rows": rows,
            "page": page,
            "narrowed": narrowed.words(),
            "filter_query": narrowed.query(),
            "can_download_certificates": Perm.CERTIFICATES_VIEW in request.school_perms,
            "today": timezone.localdate(),
        },
    )


@require_perm(Perm.CERTIFICATES_VIEW)
def certificates_expiring(request, school_slug):
    """Certificates expiring within 30 days or expired in the last 30, with the reminders sent and a link to
    each assessment (assessments/services/reminders.py)."""
    rows = reminders.expiring_certificates(school=request.school)
    # A link only to an assessment the viewer may open (offered to their roles, not hidden from them).
    offered = set()
    if Perm.ASSESSMENTS_TAKE in request.school_perms:
        offered = {a.pk for a in selectors.assessments_offered(school=request.school, account=request.user)}
    context = {"rows": rows, "days": reminders.DAYS_BEFORE, "offered": offered}
    return render(request, "assessments/certificates_expiring.html", context)


@require_perm(Perm.SUMMARY_VIEW)
def user_summary_xlsx(request, school_slug):
    content = exports.summary_xlsx(school=request.school)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    name = f"user-summary-{request.school.slug}-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@require_perm(Perm.SUMMARY_VIEW, Perm.CERTIFICATES_VIEW)
def certificate_zip_start(request, school_slug):
    assessment_id = request.POST.get("assessment") or None
    if assessment_id:
        try:
            assessment_id = _assessment_or_404(assessment_id).pk
        except (Http404, ValidationError):
            messages.error(request, "Choose an assessment from the list.")
            return redirect("user_summary", school_slug=school_slug)
    job = services.certificate_zip_start(school=request.school, actor=request.user, assessment_id=assessment_id)
    return redirect("certificate_zip_detail", school_slug=school_slug, job_id=job.pk)


def _zip_job(request, job_id) -> Job:
    try:
        job = job_get(school=request.school, job_id=job_id)
    except Job.DoesNotExist as exc:
        raise Http404("No such download.") from exc
    if job.kind != Job.Kind.CERTIFICATE_ZIP:
        raise Http404("No such download.")
    return job


@require_perm(Perm.SUMMARY_VIEW, Perm.CERTIFICATES_VIEW)
def certificate_zip_detail(request, school_slug, job_id):
    return render(request, "assessments/certificate_zip.html", {"job": _zip_job(request, job_id)})


@require_perm(Perm.SUMMARY_VIEW, Perm.CERTIFICATES_VIEW)
def certificate_zip_progress(request, school_slug, job_id):
    return render(request, "assessments/_zip_progress.html", {"job": _zip_job(request, job_id)})


@require_perm(Perm.SUMMARY_VIEW, Perm.CERTIFICATES_VIEW)
def certificate_zip_download(request, school_slug, job_id):
    job = _zip_job(request, job_id)
    if not job.report:
        raise Http404("The zip is not ready yet.")
    return FileResponse(job.report.open("rb"), as_attachment=True, filename=job.report_name or "certificates.zip")
