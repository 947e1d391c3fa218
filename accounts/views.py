from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django_scopes import scope

from accounts import selectors, services
from accounts.credentials import set_password_link_find, set_password_link_use
from accounts.decorators import require_perm
from accounts.extensions import signed_in_services
from accounts.forms import UserAddForm, UserDeleteForm, UserEditForm, UserFilterForm, add_service_error
from accounts.models import Membership, PersonType, Role
from accounts.permissions import Perm
from accounts.selectors import schools_of
from tenancy import selectors as tenancy_selectors
from tenancy.models import ApiToken


@login_required
def profile(request):
    """Your own details, linked sign-ins, and (for a parent) the students linked to you."""
    linked, withdrawn = [], []
    for school in schools_of(request.user):
        with scope(school=school):
            if selectors.contact_without_portal_access(school=school, account=request.user):
                withdrawn.append(school.name)
            for link in selectors.linked_students(school=school, contact_account=request.user):
                linked.append(
                    {
                        "name": link.student.account.full_name,
                        "year_group": link.student.year_group,
                        "school": school.name,
                    }
                )
    return render(
        request,
        "accounts/profile.html",
        {
            "linked_students": linked,
            "portal_withdrawn_at": withdrawn,
            "social_accounts": SocialAccount.objects.filter(user=request.user),
            "schools": schools_of(request.user),
            "services": signed_in_services(account=request.user),
        },
    )


def set_password_from_link(request, token):
    """The page an invitation or welcome email links to: choose a password, once."""
    link = set_password_link_find(token)
    if link is None:
        return render(request, "accounts/set_password_link_invalid.html", status=410)
    request.support_school = link.school  # the footer's support contact: the school's organisation's
    refusal = services.password_signin_refusal(link.account)
    if refusal:
        # A link sent before the school moved to Microsoft 365 or Google: a password chosen here would be
        # refused at sign-in, and this page signs the person in, so it must not take one either.
        return render(request, "accounts/set_password_link_invalid.html", {"refusal": refusal}, status=410)
    form = SetPasswordForm(link.account, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = set_password_link_use(link=link, password=form.cleaned_data["new_password1"])
        except ValueError:
            return render(request, "accounts/set_password_link_invalid.html", status=410)
        login(request, account, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(
        request,
        "accounts/set_password_from_link.html",
        {"form": form, "account": link.account, "school": None, "link_school": link.school},
    )


# --- Users: the list, +Add, Edit and Delete --------------------------------------------------------


def _actor(request) -> services.Actor:
    return services.Actor(account=request.user, school=request.school)


def _membership_or_404(request, membership_id) -> Membership:
    try:
        membership = selectors.membership_get(school=request.school, membership_id=membership_id)
    except Membership.DoesNotExist as exc:
        raise Http404("No such person at this school.") from exc
    if membership.account.deleted_at is not None:
        raise Http404("This account has been deleted.")
    return membership


@require_perm(Perm.USERS_VIEW)
def users_list(request, school_slug):
    school = request.school
    roles = list(Role.objects.all())
    form = UserFilterForm(request.GET, roles=roles, year_groups=selectors.year_groups(school=school))
    filters = form.filters()
    page = selectors.user_list_page(
        school=school,
        filters=filters,
        page=request.GET.get("page"),
        per_page=form.page_size(),
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    rows = list(page.object_list)
    started = selectors.started_assessment_ids(school=school, membership_ids=[m.pk for m in rows])
    links = _row_link_patterns(school, request.school_perms)
    for membership in rows:
        membership.started_assessment = membership.pk in started
        membership.links = {name: url.replace(_ANY_ID, str(membership.pk)) for name, url in links.items()}
        if not membership.started_assessment:
            membership.links.pop("info", None)
        if membership.person_type != PersonType.STAFF:
            # Assessments are for staff (invigilators and exams roles): hiding one from a student or parent
            # means nothing.
            membership.links.pop("access", None)
    return render(
        request,
        "accounts/users_list.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "rows": rows,
            "tabs": [("student", "Students"), ("staff", "Staff"), ("contact", "Contacts"), ("", "All")],
            "columns": USER_LIST_COLUMNS,
        },
    )


_ANY_ID = "00000000-0000-0000-0000-000000000000"
# The Action column's links: (name, URL name, permission). Assessment Access and Info belong to the
# assessments app; a link whose URL does not exist is simply left out.
_ROW_LINKS = [
    ("edit", "user_edit", Perm.USERS_EDIT),
    ("delete", "user_delete", Perm.USERS_DELETE),
    ("access", "assessment_access", Perm.ASSESSMENTS_ACCESS),
    ("info", "progress_user", Perm.ASSESSMENTS_PROGRESS),
]


def _row_link_patterns(school, perms) -> dict[str, str]:
    """Each row link reversed once per page, not once per row (200 reverse() calls cost ~20 ms)."""
    patterns = {}
    for name, url_name, perm in _ROW_LINKS:
        if perm in perms:
            try:
                patterns[name] = reverse(url_name, args=[school.slug, _ANY_ID])
            except NoReverseMatch:
                continue
    return patterns


# (label, sort key or None): the columns of the list, in PRODUCT.md's order.
USER_LIST_COLUMNS = [
    ("User Name", "username"),
    ("MIS Code", "mis_code"),
    ("Family Name", "family_name"),
    ("Given Names", "given_name"),
    ("Email", "email"),
    ("Roles", None),
    # Approved, Locked Out, Override Network Authentication and Linked sign-ins as tags, only where a person
    # is the exception (not approved, locked out...): four True/False columns pushed Action off a 1280 px screen.
    ("Status", None),
]


@require_perm(Perm.USERS_ADD)
def user_add(request, school_slug):
    school = request.school
    grantable = selectors.grantable_roles(school=school, account=request.user)
    form = UserAddForm(request.POST or None, grantable=grantable)
    existing, possible = None, ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.account_add(
                school=school, actor=_actor(request), data=data, base_url=request.build_absolute_uri("/")
            )
        except services.PossibleMatchFound as exc:
            existing, possible = exc.account, str(exc.messages[0])  # the page asks: same person or different?
        except services.ExistingAccountFound as exc:
            existing = exc.account  # offered on the page: "Add this person to your school"
        except PermissionDenied as exc:  # a role this person may not grant
            add_service_error(form, exc, field="roles")
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return _added(request, membership, data)
    return render(request, "accounts/user_add.html", {"form": form, "existing": existing, "possible": possible})


def _added(request, membership: Membership, data):
    account = membership.account
    for warning in membership.warnings:
        messages.warning(request, warning)
    if membership.added_existing:
        messages.success(request, f"{account.full_name} ({account.username}) was added to your school.")
    elif membership.starter_code:
        # Shown on this response only: the code is never stored in plain text, so a reload cannot show it again.
        return render(request, "accounts/user_added_code.html", {"membership": membership, "account": account})
    elif data["password_method"] == services.PASSWORD_INVITATION:
        messages.success(request, f"{account.full_name} was added; an invitation was sent to {account.email}.")
    else:
        messages.success(request, f"{account.full_name} ({account.username}) was added.")
    return redirect(reverse("users_list", args=[request.school.slug]) + f"?q={account.username}")


@require_perm(Perm.USERS_EDIT)
def user_edit(request, school_slug, membership_id):
    school = request.school
    membership = _membership_or_404(request, membership_id)
    account = membership.account
    actor = _actor(request)
    grantable = selectors.grantable_roles(school=school, account=request.user)
    held = set(membership.role_assignments.values_list("role_id", flat=True))
    form = UserEditForm(request.POST or None, membership=membership, actor=actor, grantable=grantable, held=held)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # The field a refusal belongs beside: the step that raised it.
        step = "email" if data["email"] != account.email else "approved"
        try:
            with transaction.atomic():
                warnings = services.account_update(
                    actor=actor, account=account, school=school, **form.account_changes()
                )
                step = "mis_code"
                services.membership_update(
                    school=school, actor=actor, membership=membership, **form.membership_changes()
                )
                step = "roles"  # roles this person may not grant stay as they are
                services.membership_roles_set(
                    school=school,
                    actor=actor,
                    membership=membership,
                    role_codes=set(data["roles"]) | (held - grantable),
                )
                step, code = "password_method", None
                if data.get("password_method"):
                    code = services.account_credentials_reset(
                        school=school,
                        actor=actor,
                        account=account,
                        method=data["password_method"],
                        password=data.get("password") or None,
                        base_url=request.build_absolute_uri("/"),
                    )
        except (PermissionDenied, ValidationError) as exc:
            membership.refresh_from_db()
            account.refresh_from_db()
            add_service_error(form, exc, field=step)
        else:
            for warning in warnings:
                messages.warning(request, warning)
            if code:
                return render(
                    request,
                    "accounts/user_added_code.html",
                    {"membership": membership, "account": account, "reissued": True, "starter_code": code},
                )
            messages.success(request, f"{account.full_name} ({account.username}) was saved.")
            return redirect("users_list", school_slug=school.slug)
    return render(
        request,
        "accounts/user_edit.html",
        {
            "form": form,
            "membership": membership,
            "account": account,
            "other_roles": Role.objects.filter(code__in=held - grantable),
            "linked_signins": selectors.linked_signins(account=account),
            "history": selectors.account_history(school=school, account=account),
            # A contact's page says what the MIS sets for them: their students and the Parent portal access flag.
            "student_links": (
                membership.student_links.select_related("student__account").order_by("student__account__family_name")
                if membership.person_type == PersonType.CONTACT
                else None
            ),
        },
    )


@require_perm(Perm.USERS_DELETE)
def user_delete(request, school_slug, membership_id):
    school = request.school
    membership = _membership_or_404(request, membership_id)
    account = membership.account
    form = UserDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = f"{account.full_name} ({account.username})"
        try:
            erased = services.account_delete(school=school, actor=_actor(request), account=account)
        except (ValidationError, PermissionDenied) as exc:
            add_service_error(form, exc)
        else:
            if erased:
                messages.success(request, f"The account of {name} was deleted.")
            else:
                messages.success(
                    request, f"{name} was removed from your school; another school still holds their account."
                )
            return redirect("users_list", school_slug=school.slug)
    return render(request, "accounts/user_delete.html", {"form": form, "membership": membership, "account": account})


# --- API tokens: what a school gives its MIS agent and scripts ------------------------------------


_ISSUED_TOKEN = "api_token_issued"


@require_perm(Perm.API_TOKENS_MANAGE)
def api_tokens(request, school_slug):
    """The school's tokens, and a form to issue one. A new token waits in the session for the one page
    that shows it (post, redirect, get: a refresh issues nothing), and is gone from there once shown."""
    school = request.school
    scopes = services.api_token_scopes(school=school, account=request.user)
    errors, values = {}, {"name": "", "scope": services.MIS_AGENT}
    if request.method == "POST":
        values = {"name": request.POST.get("name", ""), "scope": request.POST.get("scope", "")}
        try:
            token, raw = services.api_token_create(school=school, account=request.user, **values)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            request.session[_ISSUED_TOKEN] = {"school": school.slug, "id": str(token.pk), "raw": raw}
            return redirect("api_tokens", school_slug)
    issued = request.session.pop(_ISSUED_TOKEN, None)
    if issued and issued["school"] != school.slug:
        issued = None
    tokens = list(tenancy_selectors.api_token_list(school=school))
    labels = {code: label for code, label in scopes} | {services.MIS_AGENT: "MIS agent"}
    for token in tokens:
        token.scope_label = ", ".join(labels.get(code, code) for code in token.role_codes)
        if issued and str(token.pk) == issued["id"]:
            issued["token"] = token
    context = {"tokens": tokens, "scopes": scopes, "issued": issued, "errors": errors, "values": values}
    return render(request, "accounts/api_tokens.html", context, status=400 if errors else 200)


@require_perm(Perm.API_TOKENS_MANAGE)
def api_token_revoke(request, school_slug, token_id):
    try:
        token = tenancy_selectors.api_token_get(school=request.school, token_id=token_id)
    except ApiToken.DoesNotExist as exc:
        raise Http404("No such token at this school.") from exc
    if request.method != "POST":
        return redirect("api_tokens", school_slug)
    services.api_token_withdraw(school=request.school, token=token, actor=request.user)
    messages.success(request, f"The token {token.name} ({token.prefix}…) was revoked; it no longer opens anything.")
    return redirect("api_tokens", school_slug)
