"""Pages that compose several apps: where a person starts (home, the school switcher), the dashboard (people
from accounts, what needs action from Account Manager and sync, the latest jobs), and any job's pages.

The top app (README "Layers"): it may import every other app, and none imports it.
"""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST
from django_scopes import scope

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.decorators import require_perm
from accounts.models import PersonType
from accounts.permissions import Perm, job_kinds_open_to
from assessments.models import ProgressStatus
from assessments.selectors import certificates_expiring, training_completion
from pages import data_views
from provisioning.contacts.selectors import ContactStatus, PersonStatus, contact_state_counts, person_state_counts
from provisioning.sync.selectors import attention_counts, nightly_failure
from tenancy.charts import Column, Series, Share, column_chart, share_bar
from tenancy.models import Job
from tenancy.selectors import job_get, latest_jobs


def _start_page(user, school) -> str | None:
    """The first page the person's roles open at this school, or None."""
    with scope(school=school):
        perms = account_selectors.permissions_for(school=school, account=user)
    # Only pages the person's roles open here: being support staff opens no school page (the start page must
    # never be a refusal whose "Go to your start page" leads back to it).
    if Perm.DASHBOARD_VIEW in perms:
        return reverse("dashboard", kwargs={"school_slug": school.slug})
    if Perm.ASSESSMENTS_TAKE in perms:
        try:
            return reverse("assessments_home", kwargs={"school_slug": school.slug})
        except NoReverseMatch:
            return None
    return None


@login_required
def home(request):
    """Send each person to the first place their roles open, at their first school; support staff to the
    support admin (PRODUCT.md, Later decisions); a trust role to the trust console."""
    if request.user.is_staff:
        return redirect("admin:index")
    # Trust Admins and Trust Viewers start on their organisation's console, above its schools.
    for held in account_selectors.organisation_roles_of(request.user):
        return redirect("trust_console", org_slug=held.organisation.slug)
    for school in account_selectors.schools_of(request.user):
        url = _start_page(request.user, school)
        if url:
            return redirect(url)
    return redirect("profile")


@login_required
def switch_school(request):
    """The school switcher; a school that is not the person's own falls back to their start page."""
    slug = request.GET.get("school", "")
    for school in account_selectors.schools_of(request.user):
        if school.slug == slug:
            return redirect(_start_page(request.user, school) or "profile")
    return redirect("home")


@require_perm(Perm.DASHBOARD_VIEW)
def dashboard(request, school_slug):
    perms = request.school_perms
    exams_only = Perm.ASSESSMENTS_PROGRESS in perms and Perm.ACCOUNT_MANAGER_VIEW not in perms
    return render(
        request,
        "pages/dashboard.html",
        {
            "people": None if exams_only else _people_pictures(request.school, perms),
            "training": _training_pictures(request.school) if Perm.SUMMARY_VIEW in perms else None,
            "jobs": latest_jobs(school=request.school, kinds=job_kinds_open_to(perms)),
            "can_start_census": Perm.JOBS_VIEW in perms,
            "attention": _needs_action(request.school, perms),
            "nightly_failure": nightly_failure(school=request.school),
        },
    )


def _people_pictures(school, perms) -> dict:
    """Contacts by state and students and staff by activation, in the Account Manager's words and
    definitions (provisioning.contacts.selectors): each part links to the Account Manager list it counts."""
    linked = Perm.ACCOUNT_MANAGER_VIEW in perms
    base = reverse("account_manager", kwargs={"school_slug": school.slug})

    def href(person_type, state):
        return f"{base}?type={person_type}&status={state}" if linked else ""

    contacts = contact_state_counts(school=school)
    contact_bar = share_bar(
        "Contacts", [Share(s.label, contacts[s.value], href("contact", s.value)) for s in ContactStatus]
    )
    people = []
    for person_type, label in ((PersonType.STUDENT, "Students"), (PersonType.STAFF, "Staff")):
        counts = person_state_counts(school=school, person_type=person_type)
        people.append(
            share_bar(label, [Share(s.label, counts[s.value], href(person_type.value, s.value)) for s in PersonStatus])
        )
    return {"contacts": [contact_bar], "people": people}


def _training_pictures(school) -> dict:
    """For the exams roles: training completion per assessment and certificates expiring soon, each part
    linking to the User Summary."""
    summary = reverse("user_summary", kwargs={"school_slug": school.slug})
    bars = [
        share_bar(
            assessment.title,
            [
                Share(status.label, counts[status.value], f"{summary}?assessment={assessment.pk}&status={status.value}")
                for status in ProgressStatus
            ],
        )
        for assessment, counts in training_completion(school=school)
    ]
    expiring = [
        Column(label=f"{start + 1}–{end} days", href=f"{summary}?expiring={start}-{end}", values={"certificates": n})
        for start, end, n in certificates_expiring(school=school)
    ]
    return {
        "completion": bars,
        "expiring": column_chart(expiring, [Series("certificates", "Certificates expiring")], height=120),
    }


def _needs_action(school, perms) -> list[dict]:
    """The counts PRODUCT.md puts on the dashboard: what someone at the school should act on."""
    items = []
    if Perm.ACCOUNT_MANAGER_VIEW in perms:
        items.append(
            {
                "label": "Contacts Ready to Revoke Access",
                "count": contact_state_counts(school=school)[ContactStatus.READY_TO_REVOKE],
                "url": reverse("account_manager", kwargs={"school_slug": school.slug})
                + f"?type=contact&status={ContactStatus.READY_TO_REVOKE.value}",
            }
        )
        items.append(
            {
                "label": "Starter codes expiring within 7 days",
                "count": account_selectors.starter_codes_expiring(school=school),
                "url": reverse("account_manager", kwargs={"school_slug": school.slug}) + "?type=student",
            }
        )
    if Perm.SYNC_HISTORY_VIEW in perms:
        sync = attention_counts(school=school)
        history = reverse("sync_history", kwargs={"school_slug": school.slug})
        items.append({"label": "Sync runs waiting for confirmation", "count": sync["runs_waiting"], "url": history})
        items.append({"label": "Feeds that failed (last 7 days)", "count": sync["feeds_failed"], "url": history})
    return items


@require_POST
@require_perm(Perm.JOBS_VIEW)
def census_start(request, school_slug):
    job = account_services.census_report_start(school=request.school, actor=request.user)
    return redirect("job_detail", school_slug=school_slug, job_id=job.pk)


@require_perm(Perm.JOBS_VIEW)
def job_list(request, school_slug):
    """Every recent job the person's roles open (the menu's Jobs), newest first."""
    jobs = latest_jobs(school=request.school, kinds=job_kinds_open_to(request.school_perms), limit=JOB_LIST_LIMIT)
    return render(
        request,
        "pages/job_list.html",
        {"jobs": jobs, "limit": JOB_LIST_LIMIT, "can_start_census": Perm.JOBS_VIEW in request.school_perms},
    )


JOB_LIST_LIMIT = 100


@require_perm(Perm.JOBS_VIEW)
def job_detail(request, school_slug, job_id):
    job = _job_or_404(request, job_id)
    return render(request, "pages/job_detail.html", {"job": job, "worked_on": _worked_on(job, school_slug)})


# Where each kind of job's work is shown: (URL name, the params key holding its id, the URL's keyword, link text).
_WORKED_ON = {
    Job.Kind.SYNC: ("sync_run_detail", "run_id", "run_id", "Open the sync run"),
    Job.Kind.SYNC_CREDENTIALS: ("sync_run_detail", "run_id", "run_id", "Open the sync run"),
    Job.Kind.UPLOAD: ("upload_result", "batch_id", "batch_id", "Open the upload"),
}


def _worked_on(job: Job, school_slug: str) -> dict | None:
    """A link to what the job worked on (its sync run, its upload, Account Manager), or None."""
    if job.kind in (Job.Kind.REVOKE, Job.Kind.WELCOME_EMAIL):
        url = reverse("account_manager", kwargs={"school_slug": school_slug})
        return {"url": f"{url}?type=contact&job={job.pk}", "label": "Open Account Manager"}
    found = _WORKED_ON.get(job.kind)
    if found is None or not job.params.get(found[1]):
        return None
    url_name, param, kwarg, label = found
    try:
        url = reverse(url_name, kwargs={"school_slug": school_slug, kwarg: job.params[param]})
    except NoReverseMatch:
        return None
    return {"url": url, "label": label}


@require_perm(Perm.JOBS_VIEW)
def job_progress_fragment(request, school_slug, job_id):
    job = _job_or_404(request, job_id)
    context = {"job": job, "polled": True, "in_list": request.GET.get("in_list") == "1"}
    return render(request, "tenancy/_job_progress.html", context)


@require_perm(Perm.JOBS_VIEW)
def job_report(request, school_slug, job_id):
    job = _job_or_404(request, job_id)
    if job.kind == Job.Kind.SCHOOL_EXPORT:  # downloadable once, audited
        return data_views.school_export_download(request, job)
    if not job.report:
        raise Http404(job.report_removed or "This job has no report.")
    return FileResponse(job.report.open("rb"), as_attachment=True, filename=job.report_name or "report")


def _job_or_404(request, job_id) -> Job:
    """The job, if its kind is one whose report the person's roles open (accounts.permissions.JOB_REPORT_PERMS):
    a certificate zip holds every certificate, whoever may see jobs. Missing and not yours look the same."""
    try:
        job = job_get(school=request.school, job_id=job_id)
    except Job.DoesNotExist as exc:
        raise Http404("No such job.") from exc
    if job.kind not in job_kinds_open_to(request.school_perms):
        raise Http404("No such job.")
    return job
