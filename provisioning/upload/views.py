"""+Upload Users and Download Template: thin views over provisioning.upload.services."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import audit_record
from accounts.decorators import require_perm
from accounts.permissions import Perm
from provisioning.models import UploadBatch
from provisioning.upload import selectors, services
from provisioning.upload.reader import UploadRefused, check_size

PREVIEW_LIST_LIMIT = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _batch_or_404(request, batch_id) -> UploadBatch:
    try:
        return selectors.upload_batch_get(school=request.school, batch_id=batch_id)
    except UploadBatch.DoesNotExist as exc:
        raise Http404("No such upload.") from exc


@require_perm(Perm.USERS_UPLOAD)
def upload_template(request, school_slug):
    if request.GET.get("format") == "csv":
        data = services.template_csv(school=request.school, account=request.user)
        response = HttpResponse(data, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="UserUploadTemplate.csv"'
        return response
    data = services.template_workbook(school=request.school, account=request.user)
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="UserUploadTemplate.xlsx"'
    return response


@require_http_methods(["GET", "POST"])
@require_perm(Perm.USERS_UPLOAD)
def upload_start(request, school_slug):
    services.upload_credentials_purge(school=request.school)
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = "Choose a file to upload."
        else:
            try:
                check_size(upload.size)  # before reading a byte of it
                batch = services.upload_receive(
                    school=request.school, actor=request.user, file_name=upload.name, data=upload.read()
                )
                for column in batch.dropped_columns:
                    messages.info(request, f"{column}: a password column, cut out and not stored.")
                return redirect("upload_preview", school_slug=school_slug, batch_id=batch.pk)
            except UploadRefused as exc:
                error = exc.message
    context = {"error": error, "recent": selectors.upload_batches_recent(school=request.school)}
    return render(request, "provisioning/upload/upload_start.html", context, status=400 if error else 200)


@require_perm(Perm.USERS_UPLOAD)
def upload_preview(request, school_slug, batch_id):
    batch = _batch_or_404(request, batch_id)
    if batch.state != UploadBatch.State.PREVIEWED:
        return redirect("upload_result", school_slug=school_slug, batch_id=batch.pk)
    mode = request.GET.get("mode") if request.GET.get("mode") in UploadBatch.Mode.values else batch.mode
    try:
        plan = services.upload_preview(school=request.school, account=request.user, batch=batch, mode=mode)
    except UploadRefused as exc:
        return render(request, "provisioning/upload/upload_start.html", {"error": exc.message}, status=400)
    return render(request, "provisioning/upload/upload_preview.html", _preview_context(request, batch, plan, mode))


def _preview_context(request, batch, plan, mode, error=None) -> dict:
    counts = plan.counts
    sections = [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "rows": plan.by_outcome(key)[:PREVIEW_LIST_LIMIT],
            "more": max(0, counts[key] - PREVIEW_LIST_LIMIT),
        }
        for key, label in services.PREVIEW_LABELS.items()
    ]
    return {
        "batch": batch,
        "plan": plan,
        "mode": mode,
        "modes": UploadBatch.Mode.choices,
        "password_methods": UploadBatch.PasswordMethod.choices,
        "sections": sections,
        "counts": counts,
        "ignored_columns": plan.headers.ignored,
        "privacy_notice": request.school.organisation.privacy_notice,
        "error": error,
    }


@require_POST
@require_perm(Perm.USERS_UPLOAD)
def upload_apply(request, school_slug, batch_id):
    batch = _batch_or_404(request, batch_id)
    mode = request.POST.get("mode", "")
    try:
        services.upload_apply_start(
            school=request.school,
            actor=request.user,
            batch=batch,
            mode=mode,
            password_method=request.POST.get("password_method", ""),
            add_existing=request.POST.get("add_existing") == "on",
            consent=request.POST.get("consent") == "on",
            base_url=request.build_absolute_uri("/"),
        )
    except UploadRefused as exc:
        batch.refresh_from_db()
        if batch.state != UploadBatch.State.PREVIEWED:
            return redirect("upload_result", school_slug=school_slug, batch_id=batch.pk)
        mode = mode if mode in UploadBatch.Mode.values else batch.mode
        plan = services.upload_preview(school=request.school, account=request.user, batch=batch, mode=mode)
        context = _preview_context(request, batch, plan, mode, error=exc.message)
        return render(request, "provisioning/upload/upload_preview.html", context, status=400)
    return redirect("upload_result", school_slug=school_slug, batch_id=batch.pk)


@require_perm(Perm.USERS_UPLOAD)
def upload_result(request, school_slug, batch_id):
    batch = _batch_or_404(request, batch_id)
    services.upload_credentials_purge(school=request.school)
    batch.refresh_from_db()
    return render(
        request,
        "provisioning/upload/upload_result.html",
        {"batch": batch, "job": batch.job, "may_download_credentials": _may_download_credentials(request, batch)},
    )


@require_perm(Perm.USERS_UPLOAD)
def upload_report(request, school_slug, batch_id):
    """The preview as a workbook: the admin's own rows with Outcome and Message, faulty cells marked."""
    batch = _batch_or_404(request, batch_id)
    try:
        table = services.batch_table(batch)
        plan = services.upload_plan(school=request.school, account=request.user, table=table, mode=batch.mode,
                                    add_existing=batch.add_existing)  # fmt: skip
    except UploadRefused as exc:
        raise Http404(exc.message) from exc
    stem = batch.file_name.rsplit(".", 1)[0]
    response = HttpResponse(services.report_workbook(table, plan, services.CHECKED_LABELS), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{stem}-checked.xlsx"'
    return response


def _may_download_credentials(request, batch) -> bool:
    expires = batch.credentials_expire_at
    return bool(batch.credentials and expires and expires > timezone.now() and batch.created_by_id == request.user.pk)


@require_perm(Perm.USERS_UPLOAD)
def upload_credentials(request, school_slug, batch_id):
    """The starter codes sheet: only for the person who uploaded, for 24 hours, then deleted."""
    batch = _batch_or_404(request, batch_id)
    services.upload_credentials_purge(school=request.school)
    batch.refresh_from_db()
    if not batch.credentials:
        raise Http404("The credentials sheet has expired and was deleted.")
    if batch.created_by_id != request.user.pk:
        raise PermissionDenied("Only the person who uploaded the file may download its starter codes.")
    audit_record(action="provisioning.upload.credentials_downloaded", actor=request.user, school=request.school,
                 target_type="upload", target_id=str(batch.pk), target_label=batch.file_name)  # fmt: skip
    stem = batch.file_name.rsplit(".", 1)[0]
    return FileResponse(batch.credentials.open("rb"), as_attachment=True, filename=f"{stem}-starter-codes.xlsx")
