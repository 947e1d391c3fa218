"""PDF rendering with WeasyPrint, for every app that makes a PDF (certificates, starter-code slips).

WeasyPrint subsets fonts with HarfBuzz's libharfbuzz-subset; without it, it falls back to fontTools, which is
about ten times slower (and slower still with the CJK font needed for names such as 王芳).
"""

import ctypes.util

from django.conf import settings


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # loads pango and fonts: only in the processes that render

    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def harfbuzz_subset_available() -> bool:
    """True when WeasyPrint subsets fonts with HarfBuzz (its fast path), as weasyprint.pdf.fonts checks."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    return harfbuzz_subset is not None and bool(harfbuzz.hb_version_atleast(4, 1, 0))


def harfbuzz_subset_library() -> str | None:
    return ctypes.util.find_library("harfbuzz-subset")
