from django.conf import settings

from tenancy.selectors import schools_of


def school_context(request):
    school = getattr(request, "school", None)
    user = getattr(request, "user", None)
    support = settings.ROLLCALL_SUPPORT_CONTACT
    if school is not None and school.organisation.support_contact:
        support = school.organisation.support_contact
    return {
        "school": school,
        "perms_here": getattr(request, "school_perms", frozenset()) if school else frozenset(),
        "my_schools": (lambda: schools_of(user)) if user is not None else (lambda: []),
        "support_contact": support,
    }
