"""A test-only URLconf: the real routes plus views that forget the school, for the probe to catch."""

from django.http import HttpResponse
from django.urls import path
from django_scopes import scopes_disabled

from accounts.models import Membership, OrganisationRole
from config.urls import urlpatterns as real_urlpatterns
from tenancy.models import School


def leaky_membership(request, school_slug, membership_id):
    # The mistake the probe exists for: looking the row up by bare id instead of through request.school.
    with scopes_disabled():
        membership = Membership.objects.select_related("account").get(id=membership_id)
    return HttpResponse(f"<p>{membership.account.username}</p>")


def leaky_archive(request, school_slug):
    # Ids taken from the form and used without the school: another school's people get archived.
    with scopes_disabled():
        Membership.objects.filter(id__in=request.POST.getlist("ids")).update(status="archived")
    return HttpResponse("Archived.")


def widget(request, school_slug, widget_id):
    return HttpResponse("a route with a kwarg the probe has never heard of")


def leaky_everyone(request):
    # A global page that lists every school's name to anyone.
    return HttpResponse(", ".join(School.objects.values_list("name", flat=True)))


def leaky_trust_schools(request, org_slug):
    # A console view that forgets its organisation: every organisation's schools, to a Trust Viewer of one.
    return HttpResponse(", ".join(School.objects.values_list("name", flat=True)))


def leaky_trust_take_back(request, org_slug):
    # A console form that takes a grant's id without its organisation: another trust's grant taken back.
    OrganisationRole.objects.filter(id__in=request.POST.getlist("id")).delete()
    return HttpResponse("Taken back.")


urlpatterns = [
    path("t/<slug:org_slug>/leaky-schools/", leaky_trust_schools),
    path("t/<slug:org_slug>/leaky-take-back/", leaky_trust_take_back),
    path("s/<slug:school_slug>/leaky/<uuid:membership_id>/", leaky_membership),
    path("s/<slug:school_slug>/widgets/<uuid:widget_id>/", widget),
    path("s/<slug:school_slug>/leaky-archive/", leaky_archive),
    path("leaky-everyone/", leaky_everyone),
    *real_urlpatterns,
]
