"""The one rule for the address Rollcall gives people (links in emails, starter-code slips, certificate QR codes).

settings.ROLLCALL_BASE_URL, when set, is the public address: every email, slip and certificate says the same
one, whoever started the work and from which address. Without it (development), the address the person starting
the work used (a request's), else the development server's. Slips once preferred the setting and emails the
request, so a slip said "Sign in at http://localhost:8000" beside an email at the real host.
"""

from django.conf import settings

DEVELOPMENT_URL = "http://localhost:8000"


def public_base_url(base_url: str = "") -> str:
    return (getattr(settings, "ROLLCALL_BASE_URL", "") or base_url or DEVELOPMENT_URL).rstrip("/")


def public_url(path: str, base_url: str = "") -> str:
    return public_base_url(base_url) + path
