from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django_scopes import scope

from accounts import selectors
from tenancy.selectors import schools_of


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
        },
    )


def set_password_from_link(request, token):
    """The page an invitation or welcome email links to: choose a password, once."""
    from django.contrib.auth import login
    from django.contrib.auth.forms import SetPasswordForm

    from accounts.credentials import set_password_link_find, set_password_link_use

    link = set_password_link_find(token)
    if link is None:
        return render(request, "accounts/set_password_link_invalid.html", status=410)
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
