"""Certificate rendering: one HTML template serves the web view and the PDF.

The PDF is made once, at issue, by a background job, and then served from storage; tenancy.pdf renders it.
"""

import secrets
from functools import lru_cache

import segno
from django.template.loader import render_to_string
from django.urls import reverse

from tenancy.pdf import render_pdf
from tenancy.public_url import public_url

# Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper is not misread.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_verification_code() -> str:
    """RC-XXXX-XXXX-XXXX: 60 random bits, unguessable, short enough to type."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"RC-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    """What a person typed, as stored: upper case, no spaces, Crockford's look-alikes mapped."""
    code = code.strip().upper().replace(" ", "")
    head, _, rest = code.partition("-")
    return head + "-" + rest.translate(str.maketrans({"O": "0", "I": "1", "L": "1"})) if rest else code


def verify_url(certificate, base_url: str = "") -> str:
    return public_url(reverse("certificate_verify", kwargs={"code": certificate.code}), base_url)


@lru_cache(maxsize=256)
def qr_svg_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#1d2433")


def certificate_context(certificate, *, base_url: str = "", show_name: bool = True) -> dict:
    url = verify_url(certificate, base_url)
    return {
        "certificate": certificate,
        "holder_name": certificate.holder_name if show_name else "",
        "verify_url": url,
        "qr_data_uri": qr_svg_data_uri(url),
    }


def certificate_html(certificate, *, base_url: str = "") -> str:
    return render_to_string(
        "assessments/certificate_document.html", certificate_context(certificate, base_url=base_url)
    )


def certificate_pdf_bytes(certificate, *, base_url: str = "") -> bytes:
    return render_pdf(certificate_html(certificate, base_url=base_url))
