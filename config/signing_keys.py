"""The RSA keys that sign Rollcall's ID tokens (signon/, django-oauth-toolkit's OIDC).

OIDC_RSA_PRIVATE_KEY holds the active key as PEM text (or OIDC_RSA_PRIVATE_KEY_FILE names a file holding it).
Rotation: the previous key goes into OIDC_RSA_PRIVATE_KEYS_INACTIVE (PEM blocks one after another), so the JWKS
keeps publishing it while ID tokens it signed are still valid (ID_TOKEN_EXPIRE_SECONDS); then it is dropped.

Without either setting a key is generated once into var/ (mode 600) and kept there: `make run` and the tests need
no set-up, and every process of one machine signs with the same key. A deployment with several machines sets the
environment variable, so they all publish one key.
"""

import functools
import os
import re
from pathlib import Path

from django.utils.functional import lazy

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


def pem_blocks(text: str) -> list[str]:
    """Each PEM private key in the text (an environment variable may hold several, one after another)."""
    return [block.strip() + "\n" for block in _PEM_BLOCK.findall(text.replace("\\n", "\n"))]


def _generated(path: Path) -> str:
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Written whole under a name of its own, then linked into place: link() fails when another process
        # got there first, so two processes starting at once both keep the first one's whole key.
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text()


def active_key(var_dir: Path) -> str:
    text = os.environ.get("OIDC_RSA_PRIVATE_KEY", "")
    if not text.strip() and os.environ.get("OIDC_RSA_PRIVATE_KEY_FILE"):
        text = Path(os.environ["OIDC_RSA_PRIVATE_KEY_FILE"]).read_text()
    blocks = pem_blocks(text)
    if blocks:
        return blocks[0]
    return _generated(var_dir / "oidc-signing-key.pem")


def active_key_setting(var_dir: Path):
    """The setting's value: the environment's key, or the generated one read (made, the first time) only when a
    token is signed or the JWKS served, so a worker or a management command never spends time on an RSA key."""
    blocks = pem_blocks(os.environ.get("OIDC_RSA_PRIVATE_KEY", ""))
    if blocks:
        return blocks[0]
    return lazy(functools.cache(lambda: active_key(var_dir)), str)()


def inactive_keys() -> list[str]:
    return pem_blocks(os.environ.get("OIDC_RSA_PRIVATE_KEYS_INACTIVE", ""))
