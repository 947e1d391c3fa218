"""Usernames from a sync policy, and collision handling that never reuses a taken or held name.

Collisions are resolved for a whole run at once: one query per batch of candidate names, then a few rounds
of exact lookups of numbered names, so the number of queries grows with batches, not people. Whether a name
is taken is the accounts rule (accounts.services.usernames: usernames_taken, username_free_for), the same
one +Add, upload and the API ask.
"""

import re
import unicodedata
from collections import defaultdict

from anyascii import anyascii

from accounts.services.usernames import username_free_for, username_normalise, usernames_taken
from provisioning.sync.plan_item import Outcome

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]+")


def _ascii(text: str) -> str:
    """Zoë -> Zoe, Łukasz -> Lukasz, さくら -> sakura, Дмитрий -> Dmitriy (anyascii's tables); symbols and
    emoji are dropped first (anyascii would spell ♥ as ":hearts:"), then anything that is not a letter,
    digit, dot, dash or underscore, because usernames are typed on school keyboards."""
    if text.isascii() and text.isalnum():
        return text
    kept = "".join(ch for ch in text if ch in "._-" or unicodedata.category(ch)[0] in "LNM")
    return _NOT_ALLOWED.sub("", anyascii(kept))


def _usable(part: str) -> bool:
    """A name part a username can be made from: at least one letter (digits alone name nobody)."""
    return any(ch.isalpha() for ch in part)


def _from_names(method: str, given: str, family: str) -> str:
    if method == "initial_surname":
        return given[:1] + family
    if method == "first_last":
        return f"{given}.{family}"
    return family + given[:1]


def username_stem(policy, person: dict) -> str:
    """The username the policy gives this person before any collision counter, or "" when nothing usable is
    left (then no account is created).

    A name-based method (or the email's local part) that leaves no letter once transliterated (名01 姓01 is
    fine, "★" or "01" is not) falls back to the MIS code, made username-safe: never an empty or
    digits-only name."""
    method = policy.username_method
    code = _ascii(person.get("mis_code", ""))
    if method == "mis_code":
        base = code
    elif method == "email_local":
        email = person.get("email", "")
        local = _ascii(email.split("@", 1)[0]) if "@" in email else ""
        base = local if _usable(local) else code
    elif method in ("initial_surname", "first_last", "surname_initial"):
        given, family = _ascii(person.get("given_name", "")), _ascii(person.get("family_name", ""))
        base = _from_names(method, given, family) if _usable(given) and _usable(family) else code
    else:
        raise ValueError(f"Unknown username method {method}")
    if not base:
        return ""
    if policy.prepend_text or policy.postpend_text:
        base = f"{_ascii(policy.prepend_text)}{base}{_ascii(policy.postpend_text)}"
    name = username_normalise(base[:140])  # the one spelling every way in gives (ASCII here already)
    return name.lower() if policy.lowercase else name


def rename_stem(policy, row: dict, person: dict) -> str:
    """The stem an account this school runs is renamed to, or "" when it keeps its username.

    row: the account as held (username, names, email); person: its line in the feed. A username is changed
    only where it no longer fits the person's stem and
    - the school asked, once, to rename existing accounts to the pattern (rename_existing), or
    - Keep existing usernames is off and the username was the policy's own for the person as held: it
      follows a change of name (asmith -> ajones). A username made otherwise (by +Add, an upload, another
      school before a transfer, or an earlier method) is the person's and stays."""
    stem = username_stem(policy, person)
    if not stem or fits_stem(row["username"], stem):
        return ""
    if policy.rename_existing:
        return stem
    if policy.keep_usernames:
        return ""
    held = {
        "mis_code": person["mis_code"],
        "given_name": row["given_name"] or "",
        "family_name": row["family_name"] or "",
        "email": row["email"] or "",
    }
    before = username_stem(policy, held)
    return stem if before and fits_stem(row["username"], before) else ""


def fits_stem(username: str, stem: str) -> bool:
    """Is this existing username what the policy would give (perhaps with a counter)?"""
    low, stem = username.lower(), stem.lower()
    return low == stem or (low.startswith(stem) and low[len(stem) :].isdigit())


def resolve(wanted: list[tuple[object, str, object]], *, given: set[str] | None = None) -> dict[object, str]:
    """wanted: (key, stem, account id or None). Returns {key: username}, stems kept where free,
    else the stem with the lowest free counter (asmith2, asmith3...), never a name taken by another
    account anywhere, held for someone else, or given to someone earlier in this same run.

    `given` holds the run's names given so far (lower case), by an earlier call for its newcomers or its
    renames; the names given here are added to it."""
    names = sorted({stem.lower() for _, stem, _ in wanted})
    taken = usernames_taken(names)
    result: dict[object, str] = {}
    used: set[str] = given if given is not None else set()
    clashing: list[tuple[object, str, object]] = []
    for key, stem, account_id in wanted:
        low = stem.lower()
        if low not in used and username_free_for(taken, low, account_id):
            result[key] = stem
            used.add(low)
        else:
            clashing.append((key, stem, account_id))
    if not clashing:
        return result
    _number_clashes(clashing, used, result)
    return result


def _number_clashes(clashing: list[tuple[object, str, object]], used: set[str], result: dict) -> None:
    """The lowest free counter per stem, looked up by exact name a window of counters at a time (one query
    a round, an index lookup a name), so a run where every stem clashes costs a few rounds, not a scan of
    every account per batch of stems."""
    next_counter: dict[str, int] = defaultdict(lambda: 2)
    widths: dict[str, int] = defaultdict(lambda: 1)  # doubles for a stem each round it finds no room
    pending = clashing
    while pending:
        wanted: dict[str, int] = defaultdict(int)
        for _key, stem, _account_id in pending:
            wanted[stem.lower()] += 1
        window = {low: range(next_counter[low], next_counter[low] + n + widths[low]) for low, n in wanted.items()}
        taken = usernames_taken(sorted(f"{low}{n}" for low, counters in window.items() for n in counters))
        left = []
        for key, stem, account_id in pending:
            low = stem.lower()
            free = next((n for n in window[low] if n >= next_counter[low] and f"{low}{n}" not in taken
                         and f"{low}{n}" not in used), None)  # fmt: skip
            if free is None:
                next_counter[low], widths[low] = window[low].stop, widths[low] * 2
                left.append((key, stem, account_id))
                continue
            next_counter[low] = free + 1
            used.add(f"{low}{free}")
            result[key] = f"{stem}{free}"
        pending = left


def planned_names_taken(items: list[dict]) -> list[str]:
    """The usernames a stored plan gives (new accounts, renames) that another account took, or a hold now
    keeps, since the plan was made: another school's +Add, upload or sync may take one at any time, and no
    fingerprint of this school sees it. Such a plan is stale."""
    given = []
    for item in items:
        if item["entity"] != "person":
            continue
        after = item["after"]
        if item["outcome"] == Outcome.CREATE and not after.get("existing_account"):
            given.append((item["username"], None))
        elif item["outcome"] in (Outcome.UPDATE, Outcome.REACTIVATE) and "username" in after:
            given.append((after["username"], item["account_id"]))
    if not given:
        return []
    taken = usernames_taken(sorted({name.lower() for name, _ in given}))
    return sorted(name for name, account_id in given if not username_free_for(taken, name.lower(), account_id))
