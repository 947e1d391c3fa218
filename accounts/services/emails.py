"""The one email that gives a person a set-password link, whoever sends it: +Add and the API (invitation),
a password reset, upload (invitation) and the contacts' Welcome Email (welcome, or its reminder).

Templates: accounts/email/set_password{_subject.txt,.txt,.html}, one per part, a branch per purpose.
Callers issue the link and send the message: one at a time on commit, or a batch over one connection.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.credentials import LINK_DAYS
from accounts.models import Account
from accounts.services.signin import password_signin_refusal
from tenancy.models import School
from tenancy.public_url import public_url


def site_url(path: str, base_url: str = "") -> str:
    """An absolute address on this site: settings.ROLLCALL_BASE_URL when set, else the address the person
    starting it used (base_url, from the request), as every slip and certificate (tenancy.public_url)."""
    return public_url(path, base_url)


def set_password_email(
    *, school: School, account: Account, purpose: str, url: str, base_url: str = "", reminder: bool = False
) -> EmailMultiAlternatives:
    """The email (HTML and text, never a password) carrying a set-password link `url` to `account`.

    purpose: SetPasswordLink.Purpose (invitation, reset, welcome); a welcome `reminder` tells an active
    contact how to sign in instead.

    Someone whose schools sign in with Microsoft 365 or Google only (password_signin_refusal) is sent no link,
    which the page would refuse anyway: the email tells them to use that button. Asked only at such a
    school, so a batch elsewhere costs no query."""
    microsoft_google_only = school.sign_in_microsoft_google_only and password_signin_refusal(account) is not None
    if microsoft_google_only:
        url = ""
    context = {
        "microsoft_google_only": microsoft_google_only,
        "account": account,
        "school": school,
        "purpose": purpose,
        "reminder": reminder,
        "url": url,
        "sign_in_url": site_url("/accounts/login/", base_url),
        "days": LINK_DAYS,
        "privacy_notice": school.organisation.privacy_notice,
    }
    message = EmailMultiAlternatives(
        subject=render_to_string("accounts/email/set_password_subject.txt", context).strip(),
        body=render_to_string("accounts/email/set_password.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[account.email],
    )
    message.attach_alternative(render_to_string("accounts/email/set_password.html", context), "text/html")
    return message
