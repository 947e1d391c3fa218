"""Initial credentials, one mechanism for +Add, upload and sync alike.

- Starter codes: a short one-time code printed on a slip; stored as an HMAC keyed with the
  site's secret; single use; expiring (30 days by default); signing in with one forces the
  person to choose a password (hashed with argon2 then).
- Set-password links: a single-use, expiring URL emailed as an invitation or welcome email.
  Issuing a new one revokes the older ones, and no password is ever emailed.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.audit import audit_record, audit_record_many
from accounts.models import Account, SetPasswordLink, StarterCode
from tenancy.models import School

# No 0/O, 1/I/L: read off paper and typed by a child.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS, CODE_GROUP_LEN = 3, 4
STARTER_CODE_DAYS = 30
LINK_DAYS = 7


def _hmac_key(purpose: str) -> bytes:
    return hashlib.sha256(f"rollcall.{purpose}.{settings.SECRET_KEY}".encode()).digest()


def keyed_hash(value: str, *, purpose: str) -> str:
    return hmac.new(_hmac_key(purpose), value.encode(), hashlib.sha256).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_starter_code() -> str:
    return new_starter_codes(1)[0]


def new_starter_codes(n: int) -> list[str]:
    return _starter_codes(n)[0]


_CODE_LEN = CODE_GROUPS * CODE_GROUP_LEN
# Byte b reads as CODE_ALPHABET[b % 31]; bytes at or above 248 (8 x 31) are dropped, so every character
# is equally likely.
_CODE_LIMIT = 256 - 256 % len(CODE_ALPHABET)
_CODE_CHARS = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) if b < _CODE_LIMIT else 0 for b in range(256))
_CODE_DROP = bytes(range(_CODE_LIMIT, 256))


def _starter_codes(n: int) -> tuple[list[str], list[bytes]]:
    """n codes as printed (ABCD-EFGH-JKMN) and as hashed (normalised: ABCDEFGHJKMN), from one read of the
    OS's randomness mapped and laid out with whole-buffer operations: secrets.choice per character costs
    ~9 s for a 100,000-person import, and even a loop per code costs more than the COPY of the codes."""
    raw = b""
    while len(raw) < _CODE_LEN * n:
        raw += secrets.token_bytes(_CODE_LEN * n - len(raw) + 64).translate(_CODE_CHARS, _CODE_DROP)
    raw = raw[: _CODE_LEN * n]
    width = _CODE_LEN + CODE_GROUPS  # the groups, a dash after each but the last, and a line break
    printed = bytearray(b"-" * (width * n))
    for k in range(_CODE_LEN):
        printed[k + k // CODE_GROUP_LEN :: width] = raw[k::_CODE_LEN]
    printed[width - 1 :: width] = b"\n" * n
    codes = printed.decode("ascii").split("\n")[:n]
    return codes, [raw[i : i + _CODE_LEN] for i in range(0, _CODE_LEN * n, _CODE_LEN)]


def starter_code_hash(code: str) -> str:
    return keyed_hash(normalise_code(code), purpose="starter-code")


def starter_codes_build(
    *, school: School, accounts: list[Account], job=None, days: int = STARTER_CODE_DAYS
) -> tuple[list[StarterCode], dict]:
    """Unsaved StarterCode rows and {account_id: plain code}, for a caller that bulk-inserts them
    (sync and upload write thousands at once inside their own transaction)."""
    expires = timezone.now() + timedelta(days=days)
    plain, rows = {}, []
    for account_id, code, code_hash in starter_code_values([a.pk for a in accounts]):
        plain[account_id] = code
        rows.append(StarterCode(school=school, account_id=account_id, code_hash=code_hash, expires_at=expires, job=job))
    return rows, plain


def starter_code_values(account_ids: list) -> list[tuple]:
    """(account id, plain code, keyed hash) per account: the same codes and hashes as starter_codes_build,
    without building model objects, for a caller that COPYs 100,000 rows (the MIS sync).

    The hash is keyed_hash's HMAC-SHA256 spelled out (RFC 2104: H(key ^ opad, H(key ^ ipad, code))), from
    the two padded keys' hash states computed once and copied per code: half the cost of copying an hmac
    object per code."""
    key = _hmac_key("starter-code").ljust(hashlib.sha256().block_size, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    codes, normalised = _starter_codes(len(account_ids))
    out = []
    for account_id, code, raw in zip(account_ids, codes, normalised, strict=True):
        mac = inner.copy()
        mac.update(raw)
        digest = outer.copy()
        digest.update(mac.digest())
        out.append((account_id, code, digest.hexdigest()))
    return out


@transaction.atomic
def starter_code_issue(*, school: School, account: Account, actor=None, job=None) -> str:
    """Issue (or re-issue) one account's starter code; any older code stops working."""
    now = timezone.now()
    StarterCode.objects.filter(school=school, account=account, used_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
    rows, plain = starter_codes_build(school=school, accounts=[account], job=job)
    rows[0].save()
    if account.has_usable_password():
        account.set_unusable_password()
    account.must_change_password = True
    account.save(update_fields=["password", "must_change_password"])
    audit_record(
        action="accounts.starter_code.issued",
        actor=actor,
        school=school,
        target=account,
        job=job,
        changes={"starter_code": ["", "issued"], "expires_at": [None, rows[0].expires_at.isoformat()]},
    )
    return plain[account.pk]


def starter_code_redeem(*, account: Account, code: str, choose_password: bool = True) -> bool:
    """Spend a starter code: True once, for a valid unexpired code; the person must then choose a password,
    unless `choose_password` is False (their schools sign in with Microsoft 365 or Google only, where a
    Rollcall password would be refused: they link that sign-in instead).

    Sign-in has no school in scope, and a code belongs to the account whichever school issued it.
    """
    now = timezone.now()
    with scopes_disabled(), transaction.atomic():
        spent = StarterCode.objects.filter(
            account=account,
            code_hash=starter_code_hash(code),
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(used_at=now)
        if not spent:
            return False
        Account.objects.filter(pk=account.pk).update(must_change_password=choose_password)
        account.must_change_password = choose_password
        audit_record(
            action="accounts.starter_code.used",
            actor=account,
            school=account.home_school,
            target=account,
            changes={"starter_code": ["issued", "used"]},
        )
    return True


@transaction.atomic
def set_password_link_issue(
    *, school: School, account: Account, purpose: str, actor=None, job=None, days: int = LINK_DAYS
) -> str:
    """A new single-use link (its path); older unused links of the account stop working."""
    now = timezone.now()
    SetPasswordLink.objects.filter(
        school=school, account=account, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    SetPasswordLink.objects.create(
        school=school,
        account=account,
        token_hash=keyed_hash(token, purpose="set-password"),
        purpose=purpose,
        expires_at=now + timedelta(days=days),
        job=job,
    )
    audit_record(
        action=f"accounts.set_password_link.{purpose}",
        actor=actor,
        school=school,
        target=account,
        job=job,
        changes={"token": ["", "issued"]},
    )
    return reverse("set_password_from_link", kwargs={"token": token})


def set_password_links_issue_many(
    *, school: School, accounts: list[Account], purpose: str, actor=None, job=None, days: int = LINK_DAYS
) -> dict:
    """set_password_link_issue for a batch, in a fixed number of queries: {account_id: link path}.

    Same rules: older unused links of these accounts stop working; only a keyed hash is stored.
    """
    if not accounts:
        return {}
    now = timezone.now()
    with transaction.atomic():
        SetPasswordLink.objects.filter(
            school=school, account__in=accounts, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        paths, rows = {}, []
        for account in accounts:
            token = secrets.token_urlsafe(32)
            paths[account.pk] = reverse("set_password_from_link", kwargs={"token": token})
            rows.append(
                SetPasswordLink(
                    school=school,
                    account=account,
                    token_hash=keyed_hash(token, purpose="set-password"),
                    purpose=purpose,
                    expires_at=now + timedelta(days=days),
                    job=job,
                )
            )
        SetPasswordLink.objects.bulk_create(rows)
        audit_record_many(
            action=f"accounts.set_password_link.{purpose}",
            actor=actor,
            school=school,
            job=job,
            targets=[(account, {"token": ["", "issued"]}) for account in accounts],
        )
    return paths


def set_password_link_find(token: str) -> SetPasswordLink | None:
    with scopes_disabled():
        link = (
            SetPasswordLink.objects.select_related("account", "school")
            .filter(token_hash=keyed_hash(token, purpose="set-password"))
            .first()
        )
    return link if link is not None and link.is_usable else None


def set_password_link_use(*, link: SetPasswordLink, password: str) -> Account:
    """Spend the link and set the chosen password; a second use finds nothing."""
    now = timezone.now()
    with scopes_disabled(), transaction.atomic():
        spent = SetPasswordLink.objects.filter(pk=link.pk, used_at__isnull=True, revoked_at__isnull=True).update(
            used_at=now
        )
        if not spent:
            raise ValueError("This link has already been used.")
        account = link.account
        account.set_password(password)
        account.must_change_password = False
        account.email_verified = True
        account.save(update_fields=["password", "must_change_password", "email_verified"])
        audit_record(
            action="accounts.account.password_chosen",
            actor=account,
            school=link.school,
            target=account,
            changes={"password": ["", "chosen"], "token": ["issued", "used"]},
        )
    return account
