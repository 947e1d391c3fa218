from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django_scopes import scope

from accounts import selectors
from tenancy.selectors import schools_of


@login_required
def profile(request):
    """Your own details, linked sign-ins, and (for a parent) the students linked to you."""
    linked = []
    for school in schools_of(request.user):
        with scope(school=school):
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
            "social_accounts": SocialAccount.objects.filter(user=request.user),
            "schools": schools_of(request.user),
        },
    )
