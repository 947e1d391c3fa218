"""The trust console (/t/<org_slug>/): an organisation's schools side by side, and its people across them.

Open to the organisation roles (Trust Admin, Trust Viewer) over that organisation only: the middleware
(accounts.middleware.SchoolScopeMiddleware) answers anyone else with the 404 of a school that is not theirs,
and runs the view scoped to the organisation's schools. Every read here is set-based: the page costs the same
few queries for two schools or forty.
"""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts import trust as trust_reads
from accounts.decorators import require_org_perm
from accounts.permissions import TRUST_VIEWER, OrgPerm
from assessments.selectors import training_by_school
from provisioning.contacts.selectors import ContactStatus, ready_to_revoke_counts
from provisioning.sync.selectors import sync_overview_by_school


@require_org_perm(OrgPerm.CONSOLE_VIEW)
def trust_console(request, org_slug):
    schools = request.trust_schools
    people = trust_reads.people_counts_by_school(schools=schools)
    sync = sync_overview_by_school(schools=schools)
    revoke = ready_to_revoke_counts(schools=schools)
    training = training_by_school(schools=schools)
    rows = [
        {
            "school": school,
            "people": people[school.pk],
            "sync": sync[school.pk],
            "ready_to_revoke": revoke[school.pk],
            "training": training[school.pk],
            "urls": _school_urls(school),
        }
        for school in schools
    ]
    return render(request, "pages/trust_console.html", {"rows": rows})


def _school_urls(school) -> dict:
    """Where each column leads at the school: pages an organisation role opens there (TRUST_READ_PERMS)."""

    def at(name):
        return reverse(name, kwargs={"school_slug": school.slug})

    return {
        "dashboard": at("dashboard"),
        "users": at("users_list"),
        "sync_history": at("sync_history"),
        "ready_to_revoke": at("account_manager") + f"?type=contact&status={ContactStatus.READY_TO_REVOKE.value}",
        "summary": at("user_summary"),
    }


@require_org_perm(OrgPerm.CONSOLE_VIEW)
def trust_people(request, org_slug):
    """The trust-wide people search: each person once, with their place at each school."""
    q = request.GET.get("q", "").strip()[:200]
    found = trust_reads.trust_people_search(schools=request.trust_schools, q=q) if q else []
    limit = trust_reads.TRUST_SEARCH_LIMIT
    for person in found:
        for place in person.places:
            place.users_url = reverse("users_list", kwargs={"school_slug": place.school.slug})
    return render(
        request,
        "pages/trust_people.html",
        {"q": q, "people": found[:limit], "more": len(found) > limit, "limit": limit},
    )


@require_org_perm(OrgPerm.VIEWERS_MANAGE)
def trust_viewers(request, org_slug):
    """A Trust Admin gives Trust Viewer to staff of the organisation's schools, and takes it back."""
    holders = trust_reads.organisation_role_holders(organisation=request.organisation)
    return render(request, "pages/trust_viewers.html", {"holders": holders})


@require_POST
@require_org_perm(OrgPerm.VIEWERS_MANAGE)
def trust_viewer_add(request, org_slug):
    username = request.POST.get("username", "").strip()
    account = trust_reads.account_by_username(username)
    try:
        if account is None:
            raise ValidationError("Choose a member of staff at one of the organisation's schools.")
        account_services.organisation_role_grant(
            organisation=request.organisation, account=account, role=TRUST_VIEWER, actor=request.user
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, f"{account.full_name} is now a Trust Viewer.")
    return redirect("trust_viewers", org_slug=org_slug)


@require_POST
@require_org_perm(OrgPerm.VIEWERS_MANAGE)
def trust_viewer_remove(request, org_slug):
    held = trust_reads.organisation_role_get(
        organisation=request.organisation, role_id=_uuid_or_none(request.POST.get("id"))
    )
    if held is None:
        messages.error(request, "Choose someone from the list.")
        return redirect("trust_viewers", org_slug=org_slug)
    try:
        account_services.organisation_role_revoke(
            organisation=request.organisation, account=held.account, actor=request.user
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{held.account.full_name} is no longer a {held.get_role_display()}.")
    return redirect("trust_viewers", org_slug=org_slug)


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
