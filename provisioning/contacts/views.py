"""Account Manager screens. Thin: parse the request, call a selector or a service, render."""

import uuid
from collections import OrderedDict

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts.decorators import require_perm
from accounts.models import PersonType
from accounts.permissions import AccountAction, Perm
from provisioning.contacts import selectors, services
from provisioning.contacts.selectors import USER_TYPES, ContactStatus, RevokeReason
from tenancy.models import Job

PAGE_SIZE = 50
LISTED_PER_GROUP = 200
ACTIONS = {
    "revoke": ("Revoke Access", Perm.ACCOUNT_MANAGER_ACT),
    "welcome_email": ("Send Welcome Email", Perm.WELCOME_EMAIL_SEND),
    "starter_code": ("Re-issue Starter Code", Perm.ACCOUNT_MANAGER_ACT),
}


def _filters(data) -> tuple[str, str]:
    person_type = data.get("type", PersonType.CONTACT)
    if person_type not in USER_TYPES:
        person_type = PersonType.CONTACT
    state = data.get("status", "")
    if state not in dict(selectors.status_choices(person_type)):
        state = ""
    return person_type, state


def _search(data) -> str:
    return data.get("q", "").strip()[:100]


def _ids(values: list[str]) -> list:
    """The valid UUIDs among posted values; anything else is ignored (never a 500)."""
    ids = []
    for raw in values:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    return ids


def _selected(request, data) -> tuple[list, dict]:
    """The rows the admin chose (ticked ids, or every row matching the filter) and the form fields
    that carry the same choice to the next page."""
    person_type, state = _filters(data)
    q = _search(data)
    carry = {"type": person_type, "status": state, "q": q}
    if data.get("all") == "1":
        rows = selectors.selection(school=request.school, person_type=person_type, state=state, q=q)
        carry["all"] = "1"
    else:
        ids = _ids(data.getlist("ids"))
        rows = selectors.selection(school=request.school, person_type=person_type, ids=ids)
        carry["ids"] = [str(i) for i in ids]
    return list(rows), carry


def _back_url(request, person_type: str, state: str, jobs=()) -> str:
    query = [("type", person_type), ("status", state), *(("job", str(j.pk)) for j in jobs)]
    return reverse("account_manager", kwargs={"school_slug": request.school.slug}) + "?" + urlencode(query)


class _Counted:
    """A queryset whose length is already known, for the Paginator."""

    def __init__(self, queryset, count: int):
        self.queryset, self._count = queryset, count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, key):
        return self.queryset[key]


@require_perm(Perm.ACCOUNT_MANAGER_VIEW)
def account_manager(request, school_slug):
    school = request.school
    person_type, state = _filters(request.GET)
    is_contacts = person_type == PersonType.CONTACT
    counts = selectors.contact_state_counts(school=school) if is_contacts else {}
    q = _search(request.GET)
    rows = selectors.account_manager_list(school=school, person_type=person_type, state=state, q=q)
    if is_contacts and not q:
        # The drop-down's counts already say how many match: no second pass over every contact's state.
        rows = _Counted(rows, counts.get(state, 0) if state else sum(counts.values()))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    reasons = selectors.revoke_reasons(school=school, contacts=list(page.object_list))
    for row in page.object_list:
        found = reasons.get(row.pk)
        row.reason_label = found.label if found else ""
        row.replacement = found.replacement if found else None
    job_ids = _ids(request.GET.getlist("job")[:5])
    perms = request.school_perms
    return render(
        request,
        "provisioning/contacts/account_manager.html",
        {
            "page": page,
            "person_type": person_type,
            "state": state,
            "q": q,
            "user_types": USER_TYPES.items(),
            "statuses": [(value, label, counts.get(value)) for value, label in selectors.status_choices(person_type)],
            "state_label": dict(selectors.status_choices(person_type)).get(state, ""),
            "is_contacts": is_contacts,
            "problems": selectors.email_problems(school=school) if is_contacts else None,
            "jobs": list(Job.objects.filter(school=school, id__in=job_ids)) if job_ids else [],
            "actions": [
                (key, label)
                for key, (label, perm) in ACTIONS.items()
                if perm in perms and (key != "revoke" or is_contacts)
            ],
            "person_type_label": PersonType(person_type).label,
        },
    )


@require_POST
@require_perm(Perm.ACCOUNT_MANAGER_VIEW)
def account_manager_confirm(request, school_slug):
    """The Confirm page every action shows first. Changes nothing."""
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, "Choose an action from the Actions... menu.")
        return redirect(_back_url(request, *_filters(request.POST)))
    label, perm = ACTIONS[action]
    if perm not in request.school_perms:
        raise PermissionDenied("Your roles at this school do not allow this.")
    rows, carry = _selected(request, request.POST)
    if not rows:
        messages.error(request, "Select at least one person first.")
        return redirect(_back_url(request, carry["type"], carry["status"]))
    context = {"action": action, "action_label": label, "carry": carry, "selected_count": len(rows)}
    strict = AccountAction.STARTER_CODE if action == "starter_code" else None
    rows, left_out = services.in_reach(school=request.school, actor=request.user, memberships=rows, action=strict)
    context["left_out_count"], context["left_out_reason"] = len(left_out), services.OUT_OF_REACH
    if action == "revoke":
        context.update(_revoke_context(request, rows))
    elif action == "welcome_email":
        welcome = [m for m in rows if services.may_receive_welcome(m)]
        context.update(
            {
                "targets": welcome[:LISTED_PER_GROUP],
                "target_count": len(welcome),
                "reminders": sum(1 for m in welcome if m.state == ContactStatus.ACTIVE and m.person_type == "contact"),
                "without_email": [m for m in welcome if not m.account.email][:LISTED_PER_GROUP],
            }
        )
    else:
        context.update({"targets": rows[:LISTED_PER_GROUP], "target_count": len(rows)})
    context["skipped_count"] = len(rows) - context["target_count"]
    return render(request, "provisioning/contacts/confirm.html", context)


def _revoke_context(request, rows) -> dict:
    targets = [m for m in rows if m.person_type == PersonType.CONTACT and m.state == ContactStatus.READY_TO_REVOKE]
    reasons = selectors.revoke_reasons(school=request.school, contacts=targets)
    groups = OrderedDict((reason, []) for reason in RevokeReason)
    for m in targets:
        found = reasons[m.pk]
        m.replacement = found.replacement
        groups[RevokeReason(found.reason)].append(m)
    replacements = {m.replacement.pk: m.replacement for m in targets if m.replacement is not None}
    return {
        "groups": [
            {"reason": reason, "count": len(members), "members": members[:LISTED_PER_GROUP]}
            for reason, members in groups.items()
            if members
        ],
        "target_count": len(targets),
        "replacements": list(replacements.values()),
        "can_welcome": Perm.WELCOME_EMAIL_SEND in request.school_perms,
        "needs_typed_count": len(targets) > services.REVOKE_WARNING_OVER,
        "warning": services.revoke_warning(len(targets)) if len(targets) > services.REVOKE_WARNING_OVER else "",
    }


def _say_left_out(request, count: int) -> None:
    if count:
        messages.warning(
            request, f"{count} of the selected {'was' if count == 1 else 'were'} left out: {services.OUT_OF_REACH}."
        )


@require_POST
@require_perm(Perm.ACCOUNT_MANAGER_ACT)
def account_manager_revoke(request, school_slug):
    rows, carry = _selected(request, request.POST)
    typed = request.POST.get("confirm_count", "").replace(",", "").strip()
    try:
        job = services.revoke_start(
            school=request.school,
            actor=request.user,
            memberships=rows,
            confirm_count=int(typed) if typed.isdigit() else None,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back_url(request, carry["type"], carry["status"]))
    jobs = [job]
    replacement_ids = _ids(request.POST.getlist("replacement_ids"))
    if replacement_ids and Perm.WELCOME_EMAIL_SEND in request.school_perms:
        replacements = list(
            selectors.selection(school=request.school, person_type=PersonType.CONTACT, ids=replacement_ids)
        )
        try:
            jobs.append(
                services.welcome_email_start(
                    school=request.school,
                    actor=request.user,
                    memberships=replacements,
                    base_url=request.build_absolute_uri("/"),
                )
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    n = job.progress_total
    messages.success(request, f"Revoke Access started for {n} contact{pluralize(n)}.")
    _say_left_out(request, job.left_out)
    return redirect(_back_url(request, carry["type"], carry["status"], jobs))


@require_POST
@require_perm(Perm.WELCOME_EMAIL_SEND)
def account_manager_welcome(request, school_slug):
    rows, carry = _selected(request, request.POST)
    try:
        job = services.welcome_email_start(
            school=request.school, actor=request.user, memberships=rows, base_url=request.build_absolute_uri("/")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back_url(request, carry["type"], carry["status"]))
    n = job.progress_total
    messages.success(request, f"Send Welcome Email started for {n} {'person' if n == 1 else 'people'}.")
    _say_left_out(request, job.left_out)
    return redirect(_back_url(request, carry["type"], carry["status"], [job]))


@require_POST
@require_perm(Perm.ACCOUNT_MANAGER_ACT)
def account_manager_starter_codes(request, school_slug):
    rows, carry = _selected(request, request.POST)
    try:
        issued, left_out = services.starter_codes_reissue(school=request.school, actor=request.user, memberships=rows)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back_url(request, carry["type"], carry["status"]))
    response = render(
        request,
        "provisioning/contacts/starter_codes.html",
        {
            "issued": issued,
            "left_out": left_out[:LISTED_PER_GROUP],
            "left_out_count": len(left_out),
            "left_out_reason": services.OUT_OF_REACH,
            "back_url": _back_url(request, carry["type"], carry["status"]),
        },
    )
    response["Cache-Control"] = "no-store"  # the codes are shown once
    return response
