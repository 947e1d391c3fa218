"""A Centre Admin's page of the SCIM pushes: read-only (support sets them up in the support admin)."""

from django.shortcuts import render

from accounts.decorators import require_perm
from accounts.permissions import Perm
from outbound import selectors


@require_perm(Perm.SERVICES_MANAGE)
def school_pushes(request, school_slug):
    return render(request, "outbound/school_pushes.html", {"rows": selectors.pushes_for_school(school=request.school)})
