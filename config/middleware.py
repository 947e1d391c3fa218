"""Project-wide response headers."""

from django.http import FileResponse
from django.utils.cache import patch_cache_control

NO_STORE = "no-store"


class NoStoreMiddleware:
    """`Cache-Control: no-store` on what Rollcall answers, so no browser, proxy or shared computer keeps it.

    Nearly every answer names people (school pages, the profile, job reports, starter codes, certificates,
    the API). A response to a signed-in person, to an API token, or carrying a file is always no-store,
    whatever the view set; any other answer is no-store unless its view chose a Cache-Control of its own.
    Static files never get here: WhiteNoise, above this middleware, serves them with its own long caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        current = response.get("Cache-Control", "")
        if NO_STORE in current:
            return response
        if _personal(request, response):
            if current:
                del response["Cache-Control"]
            patch_cache_control(response, no_store=True, private=True)
        elif not current:
            patch_cache_control(response, no_store=True)
        return response


def _personal(request, response) -> bool:
    user = getattr(request, "user", None)  # DRF sets it on this request too, for a token
    return bool(
        (user is not None and user.is_authenticated)
        or request.headers.get("Authorization")
        or isinstance(response, FileResponse)
        or response.has_header("Content-Disposition")
    )
