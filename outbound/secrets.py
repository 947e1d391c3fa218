"""The services' SCIM bearer tokens, encrypted at rest (Fernet, with a key derived from SECRET_KEY).

Rollcall must send the token, so it cannot keep only a hash; encrypted, a copy of the database alone does not
give it away. A new SECRET_KEY makes the stored tokens unreadable: support enters them again (the push then
stops with "The SCIM token cannot be read" rather than sending a wrong one).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class TokenUnreadable(Exception):
    pass


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"rollcall.outbound.scim-token:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def token_encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode() if token else ""


def token_decrypt(stored: str) -> str:
    if not stored:
        return ""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise TokenUnreadable("The SCIM token cannot be read (the site's secret key changed): enter it again.") from exc
