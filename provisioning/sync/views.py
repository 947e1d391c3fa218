"""Bulk User Synchronise, its runs and their previews: thin views over provisioning.sync.services."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import require_perm
from accounts.permissions import Perm
from accounts.selectors import grantable_roles
from accounts.services import SignInMethodsRefused, school_sign_in_methods_set
from accounts.services.names import school_year_list
from provisioning.models import SyncRun
from provisioning.sync import charts, labels, matches, night, selectors, services, starter_slips
from provisioning.sync.feed_intake import feed_receive, feed_too_large, newest_feed
from provisioning.sync.feeds import bundle_csv_files
from provisioning.sync.forms import RosterSourceForm, SignInMethodsForm, SyncPolicyForm
from provisioning.sync.oneroster_rest import roster_pull_start, roster_source_for, roster_source_save
from provisioning.sync.plan_newcomers import NEEDS_DECISION
from provisioning.sync.policy import policy_for, policy_save, username_preview
from provisioning.sync.sample_feed import sample_feed

SAMPLES = [
    {"mis_code": "S798236", "given_name": "Lucy", "family_name": "Adachi", "email": "lucy.adachi@example.org"},
    {"mis_code": "S833954", "given_name": "Zoë", "family_name": "O'Brien-Best", "email": ""},
    {"mis_code": "T1042", "given_name": "Violet", "family_name": "Boyce", "email": "vboyce@school.example"},
]


def _run_or_404(request, run_id) -> SyncRun:
    try:
        return selectors.run_get(school=request.school, run_id=run_id)
    except SyncRun.DoesNotExist as exc:
        raise Http404("No such run.") from exc


def _policy_form(request, policy, data=None):
    return SyncPolicyForm(
        data,
        instance=policy,
        grantable=grantable_roles(school=request.school, account=request.user),
        years=school_year_list(school=request.school),
    )


@require_http_methods(["GET", "POST"])
@require_perm(Perm.SYNC_MANAGE)
def sync_policy(request, school_slug):
    """The Bulk User Synchronise page: feeds, settings (Save), Synchronise Users and the latest preview."""
    policy = policy_for(request.school)
    form = _policy_form(request, policy, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            policy_save(
                school=request.school,
                actor=request.user,
                values=form.policy_values(),
                default_password=form.cleaned_data["default_password"],
                confirm_student_admin_roles=form.cleaned_data["confirm_student_admin_roles"],
            )
        except ValidationError as exc:
            _errors_to_form(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Bulk User Synchronise settings saved.")
            return redirect("sync_policy", school_slug=school_slug)
    return render(request, "provisioning/sync/policy.html", _policy_context(request, policy, form))


@require_POST
@require_perm(Perm.SIGN_IN_METHODS_MANAGE)
def sync_sign_in_methods(request, school_slug):
    """Save "Sign in with Microsoft 365 or Google only" (a Centre Admin's), shown on Bulk User Synchronise."""
    form = SignInMethodsForm(request.POST)
    form.is_valid()  # a tick box: anything but "on" is off
    on = bool(form.cleaned_data.get("sign_in_microsoft_google_only"))
    try:
        school_sign_in_methods_set(school=request.school, actor=request.user, microsoft_google_only=on)
    except SignInMethodsRefused as exc:
        messages.error(request, f"Not saved: {exc}")
        return redirect("sync_policy", school_slug=school_slug)
    if on:
        messages.success(request, "Saved: people at this school now sign in with Microsoft 365 or Google only.")
    else:
        messages.success(request, "Saved: people at this school may sign in with their Rollcall password again.")
    return redirect("sync_policy", school_slug=school_slug)


def _errors_to_form(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _policy_context(request, policy, form, source_form=None) -> dict:
    feeds = list(selectors.feed_list(school=request.school, limit=5))
    source = roster_source_for(request.school)
    return {
        "source": source,
        "source_form": source_form or RosterSourceForm(instance=source),
        "form": form,
        "policy": policy,
        "feeds": feeds,
        "newest_feed": newest_feed(request.school),
        "open_run": selectors.latest_open_run(school=request.school),
        "samples": username_preview(policy=policy, samples=SAMPLES),
        "can_view_history": Perm.SYNC_HISTORY_VIEW in request.school_perms,
        "can_change_sign_in_methods": Perm.SIGN_IN_METHODS_MANAGE in request.school_perms,
        "sign_in_form": SignInMethodsForm(
            initial={"sign_in_microsoft_google_only": request.school.sign_in_microsoft_google_only}
        ),
    }


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_feed_source(request, school_slug):
    """Save the Feed source (a OneRoster server); with "Pull now", pull from it at once as a job."""
    source = roster_source_for(request.school)
    form = RosterSourceForm(request.POST, instance=source)
    if form.is_valid():
        try:
            roster_source_save(
                school=request.school,
                actor=request.user,
                values=form.source_values(),
                secret=form.cleaned_data["client_secret"],
            )
            if request.POST.get("action") == "pull":
                job = roster_pull_start(school=request.school, actor=request.user)
                messages.success(request, "Pulling the feed from the OneRoster server.")
                return redirect("job_detail", school_slug=school_slug, job_id=job.pk)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, "Feed source saved.")
            return redirect("sync_policy", school_slug=school_slug)
    policy = policy_for(request.school)
    context = _policy_context(request, policy, _policy_form(request, policy), source_form=form)
    return render(request, "provisioning/sync/policy.html", context, status=400)


@require_GET
@require_perm(Perm.SYNC_MANAGE)
def sync_sample_feed(request, school_slug):
    """A sample MIS export made from what the school holds: its first preview shows a few sensible changes."""
    response = HttpResponse(sample_feed(school=request.school), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="sample-mis-export-{school_slug}.zip"'
    return response


@require_GET
@require_perm(Perm.SYNC_MANAGE)
def sync_export_format(request, school_slug):
    """The MIS export's description (docs/feed-rollcall.md), as a text file a school can open and pass on."""
    text = (settings.BASE_DIR / "docs" / "feed-rollcall.md").read_bytes()
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rollcall-mis-export-format.txt"'
    return response


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_username_preview(request, school_slug):
    """htmx: the usernames the settings on screen would give, before they are saved."""
    policy = policy_for(request.school)
    form = _policy_form(request, policy, request.POST)
    form.is_valid()
    for name in ("username_method", "lowercase", "prepend_text", "postpend_text"):
        if name in form.cleaned_data:
            setattr(policy, name, form.cleaned_data[name])
    samples = username_preview(policy=policy, samples=SAMPLES)
    return render(request, "provisioning/sync/_username_preview.html", {"samples": samples})


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_feed_upload(request, school_slug):
    uploads = request.FILES.getlist("files")
    if not uploads:
        messages.error(request, "Choose the MIS export to upload.")
        return redirect("sync_policy", school_slug=school_slug)
    if too_large := feed_too_large(sum(f.size for f in uploads)):
        messages.error(request, f"{too_large} Split it or ask support.")
        return redirect("sync_policy", school_slug=school_slug)
    if len(uploads) == 1 and not uploads[0].name.lower().endswith(".csv"):
        name, content = uploads[0].name, uploads[0].read()
    else:
        name, content = "export.zip", bundle_csv_files({f.name: f.read() for f in uploads})
    feed = feed_receive(school=request.school, actor=request.user, name=name, content=content, source="upload")
    if feed.state == feed.State.VALID and feed.errors:
        rows = "row has" if len(feed.errors) == 1 else "rows have"
        messages.warning(request, f"{feed.file_name} accepted, but {len(feed.errors)} {rows} errors and will be left "
                         "out (those people are kept as they are). See the problems below, then press Synchronise "
                         "Users.")  # fmt: skip
    elif feed.state == feed.State.VALID:
        messages.success(request, f"{feed.file_name} accepted. Press Synchronise Users to see what it would do.")
    else:
        messages.error(request, f"{feed.file_name} was rejected: nothing was changed. See the problems below.")
    return redirect("sync_policy", school_slug=school_slug)


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_start(request, school_slug):
    """Synchronise Users: a dry run that stores the plan and shows the preview."""
    try:
        run = services.sync_start(school=request.school, actor=request.user, trigger=SyncRun.Trigger.MANUAL,
                                  dry_run=True)  # fmt: skip
    except services.SyncRefused as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("sync_policy", school_slug=school_slug)
    return redirect("sync_run_detail", school_slug=school_slug, run_id=run.pk)


@require_perm(Perm.SYNC_HISTORY_VIEW)
def sync_history(request, school_slug):
    runs = list(selectors.run_list(school=request.school))
    for run in runs:
        run.labelled_counts = selectors.labelled_counts(run.counts)
    return render(
        request, "provisioning/sync/history.html", {"runs": runs, "chart": charts.runs_chart(request.school, runs)}
    )


@require_perm(Perm.SYNC_HISTORY_VIEW)
def sync_run_detail(request, school_slug, run_id):
    run = _run_or_404(request, run_id)
    outcome = request.GET.get("outcome", "")
    records = selectors.run_records(school=request.school, run=run, outcome=outcome)
    page = Paginator(records, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "provisioning/sync/run_detail.html",
        {
            "run": run,
            "counts": selectors.labelled_counts(run.counts),
            "warnings": selectors.run_warnings(run),
            "rows_left_out": selectors.run_rows_left_out(run),
            "outcome": outcome,
            "outcome_label": labels.count_label(outcome) if outcome else "",
            "page": page,
            "rows": _with_decisions(selectors.record_rows(school=request.school, run=run, records=page.object_list)),
            "can_manage": Perm.SYNC_MANAGE in request.school_perms,
            **_starter_codes(request, run),
        },
    )


def _with_decisions(rows: list[dict]) -> list[dict]:
    """A held newcomer (a possible match) offers the two choices: same person, or a different one."""
    for row in rows:
        row["needs_decision"] = row["outcome"] == "skipped" and row["reason"].startswith(NEEDS_DECISION)
        row["person_type_code"] = row["record"].person_type
    return rows


def _starter_codes(request, run) -> dict:
    """What the starter-codes box shows: the codes' run and their "Prepare starter codes" job."""
    shown = Perm.SYNC_MANAGE in request.school_perms and bool(run.credentials) and not run.credentials_downloaded_at
    job = starter_slips.credentials_job(school=request.school, run=run) if shown else None
    # Once taken, the section stays and says by whom and when, rather than vanishing.
    taken = selectors.credentials_taken(school=request.school, run=run) if not shown else None
    return {
        "run": run,
        "codes_shown": shown or taken is not None,
        "codes_job": job,
        "codes_ready": starter_slips.credentials_ready(job),
        "codes_taken": taken,
    }


@require_perm(Perm.SYNC_HISTORY_VIEW)
def sync_run_status(request, school_slug, run_id):
    """htmx: the run's progress until it stops, then the page reloads with the preview."""
    run = _run_or_404(request, run_id)
    response = render(request, "provisioning/sync/_run_status.html", {"run": run})
    if run.state not in (SyncRun.State.QUEUED, SyncRun.State.PLANNING, SyncRun.State.APPLYING):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_apply(request, school_slug, run_id):
    """Apply (or, for a run the guard stopped, Confirm) a stored plan."""
    run = _run_or_404(request, run_id)
    try:
        services.sync_apply_start(
            school=request.school, actor=request.user, run=run, confirm=request.POST.get("confirm") == "yes"
        )
    except services.SyncRefused as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("sync_run_detail", school_slug=school_slug, run_id=run.pk)


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_match_decide(request, school_slug, run_id):
    """A held newcomer's possible match: Same person or Different person, kept for the next runs."""
    run = _run_or_404(request, run_id)
    code, person_type = request.POST.get("mis_code", ""), request.POST.get("person_type", "")
    try:
        match = matches.newcomer_match_decide(
            school=request.school,
            actor=request.user,
            run=run,
            person_type=person_type,
            mis_code=code,
            decision=request.POST.get("decision", ""),
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(
            request,
            f"{code}: {match.get_decision_display()}. Saved for the next runs; press Synchronise Users for a "
            "preview that acts on it.",
        )
    return redirect("sync_run_detail", school_slug=school_slug, run_id=run.pk)


@require_perm(Perm.SYNC_HISTORY_VIEW)
def sync_run_report(request, school_slug, run_id):
    run = _run_or_404(request, run_id)
    data = selectors.run_report_csv(school=request.school, run=run)
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sync-{run.created_at:%Y%m%d-%H%M}.csv"'
    return response


@require_POST
@require_perm(Perm.SYNC_MANAGE)
def sync_credentials(request, school_slug, run_id):
    """Download starter codes: starts "Prepare starter codes" (or shows the one already started)."""
    run = _run_or_404(request, run_id)
    try:
        starter_slips.credentials_prepare_start(
            school=request.school, actor=request.user, run=run, base_url=request.build_absolute_uri("/")
        )
    except starter_slips.CredentialsGone as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("sync_run_detail", school_slug=school_slug, run_id=run.pk)


@require_perm(Perm.SYNC_MANAGE)
def sync_credentials_progress(request, school_slug, run_id):
    """htmx: the starter-codes box, polled while its job runs, then with the download."""
    run = _run_or_404(request, run_id)
    return render(request, "provisioning/sync/_starter_codes.html", _starter_codes(request, run))


@require_GET
@require_perm(Perm.SYNC_MANAGE)
def sync_credentials_download(request, school_slug, run_id):
    """The prepared zip, once, within 24 hours; then the codes are gone. GET only: a HEAD would take them."""
    run = _run_or_404(request, run_id)
    try:
        download = starter_slips.credentials_take(school=request.school, actor=request.user, run=run)
    except starter_slips.CredentialsGone as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("sync_run_detail", school_slug=school_slug, run_id=run.pk)
    return FileResponse(download.file, as_attachment=True, filename=download.filename, content_type="application/zip")


@require_GET
@login_required
def night_progress_page(request):
    """Support staff only: every school's night (provisioning.sync.night), as it stands when the page loads."""
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied("The progress of the night is for Rollcall support staff only.")
    return render(request, "provisioning/sync/night.html", {"night": night.night_progress()})
