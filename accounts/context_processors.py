from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.selectors import organisation_roles_of, schools_of


def _support_contact(school, user, organisation=None) -> str:
    """The organisation's support contact: the school's in view (or the trust console's organisation), else the
    person's home or first school's."""
    if school is None and organisation is not None and organisation.support_contact:
        return organisation.support_contact
    if school is None and user is not None and user.is_authenticated:
        school = user.home_school or next(iter(schools_of(user)), None)
    if school is not None and school.organisation.support_contact:
        return school.organisation.support_contact
    return settings.ROLLCALL_SUPPORT_CONTACT


def school_context(request):
    school = getattr(request, "school", None)
    user = getattr(request, "user", None)
    # Pages outside any school that still belong to one (the welcome link, a certificate's verification page)
    # name it as request.support_school, so their footer gives that organisation's support contact.
    support_school = school or getattr(request, "support_school", None)
    return {
        "school": school,
        "perms_here": getattr(request, "school_perms", frozenset()) if school else frozenset(),
        "my_schools": (lambda: schools_of(user, to_switch_to=True)) if user is not None else (lambda: []),
        # The trust console's menu: the organisations where the person holds Trust Admin or Trust Viewer.
        "my_organisation_roles": SimpleLazyObject(lambda: organisation_roles_of(user) if user is not None else []),
        "organisation": getattr(request, "organisation", None),
        "org_perms": getattr(request, "organisation_perms", frozenset()),
        "support_contact": SimpleLazyObject(
            lambda: _support_contact(support_school, user, getattr(request, "organisation", None))
        ),
    }
