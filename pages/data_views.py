"""Data protection screens of a school: the school export, the audit log, the retention page, and a person's
subject access file (offered on the Edit page). Each asks the permission table (accounts/permissions.py)."""

import datetime as dt
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import audit_log
from accounts import selectors as account_selectors
from accounts.decorators import require_perm
from accounts.models import Membership
from accounts.permissions import Perm
from pages import retention, school_export, subject_access
from pages.forms import AuditFilterForm
from tenancy import spreadsheets

# --- School export ------------------------------------------------------------------------------------


@require_perm(Perm.SCHOOL_EXPORT)
def school_export_page(request, school_slug):
    return render(
        request,
        "pages/school_export.html",
        {"exports": school_export.latest_exports(school=request.school), "tables": school_export.TABLES},
    )


@require_POST
@require_perm(Perm.SCHOOL_EXPORT)
def school_export_start(request, school_slug):
    job = school_export.school_export_start(school=request.school, actor=request.user)
    return redirect("job_detail", school_slug=school_slug, job_id=job.pk)


def school_export_download(request, job):
    """The job page's "Download report" for a school export: once, then the file is gone."""
    if Perm.SCHOOL_EXPORT not in request.school_perms:
        raise Http404("No such job.")
    try:
        name, file = school_export.school_export_take(school=request.school, actor=request.user, job=job)
    except school_export.ExportGone as exc:
        messages.error(request, exc.messages[0])
        return redirect("job_detail", school_slug=request.school.slug, job_id=job.pk)
    return FileResponse(file, as_attachment=True, filename=name)


# --- Audit log ----------------------------------------------------------------------------------------


def _audit_form(request) -> AuditFilterForm:
    return AuditFilterForm(request.GET or None, actions=audit_log.audit_actions(school=request.school))


@require_perm(Perm.AUDIT_VIEW)
def audit_log_page(request, school_slug):
    form = _audit_form(request)
    page, rows = audit_log.audit_page(school=request.school, filters=form.filters(), page=request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "pages/audit_log.html", {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    )


@require_perm(Perm.AUDIT_VIEW)
def audit_log_export(request, school_slug):
    form = _audit_form(request)
    body = audit_log.audit_log_export(school=request.school, actor=request.user, filters=form.filters())
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-log-{request.school.slug}-{dt.date.today():%Y%m%d}.xlsx"'
    )
    return response


# --- Retention ----------------------------------------------------------------------------------------


@require_perm(Perm.RETENTION_VIEW)
def retention_page(request, school_slug):
    school = request.school
    return render(
        request,
        "pages/retention.html",
        {
            "schedule": retention.retention_schedule(school=school),
            "due": retention.retention_due(school=school),
            "erased": retention.erased_counts(school=school),
            "report": retention.erasure_report(school=school),
            "window": retention.WINDOW_DAYS,
        },
    )


@require_perm(Perm.RETENTION_VIEW)
def erasure_report_csv(request, school_slug):
    rows = [["When", "What", "Person type", "Why", "How many"]]
    rows += [
        [f"{r.at:%Y-%m-%d %H:%M}", r.what, r.person_type, r.why, r.count]
        for r in retention.erasure_report(school=request.school)
    ]
    response = HttpResponse(spreadsheets.csv_bytes(rows, bom=True), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="erasure-report-{request.school.slug}.csv"'
    return response


# --- Subject access -----------------------------------------------------------------------------------


@require_POST
@require_perm(Perm.USERS_VIEW, Perm.SUBJECT_ACCESS)
def subject_access_download(request, school_slug, membership_id):
    try:
        membership = account_selectors.membership_get(
            school=request.school, membership_id=uuid.UUID(str(membership_id))
        )
    except Membership.DoesNotExist as exc:
        raise Http404("No such person at this school.") from exc
    try:
        name, body, content_type = subject_access.subject_access_export(
            requester=request.user, account=membership.account, here=request.school, fmt=request.POST.get("format", "")
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or "You may not make this person's subject access file.")
        return redirect("user_edit", school_slug=school_slug, membership_id=membership.pk)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
