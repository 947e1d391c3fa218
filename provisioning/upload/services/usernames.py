"""Rows without a username (the User Name column left out, or a cell left blank).

A row for someone the school already holds is about that person: their username is filled in from the same MIS
code, else the same email and person type. A new person's username is made from the school's username policy
exactly as the MIS sync makes it (provisioning.sync.username_policy: the same stems, the same clash numbering,
never a name taken anywhere in Rollcall or held for someone else), so an uploaded teacher and a synced one are
named alike. Reads only, like the rest of the plan.
"""

import copy
from collections.abc import Callable

from provisioning.models import SyncPolicy
from provisioning.sync import username_policy
from provisioning.upload import selectors
from tenancy.models import School

Method = SyncPolicy.UsernameMethod
# When the policy's field is blank in this row (a staff list without MIS codes under the default "MIS code"
# policy), the name is made from the email's local part (what staff already type), else first.last.
FALLBACKS = (Method.EMAIL_LOCAL, Method.FIRST_LAST)
NAME_METHODS = (Method.INITIAL_SURNAME, Method.FIRST_LAST, Method.SURNAME_INITIAL)
MADE = "User name {name} made by your username policy ({method})."
MADE_INSTEAD = (
    "User name {name} made from {source}: your username policy ({method}) needs a value this row does not have."
)
SOURCES = {Method.EMAIL_LOCAL: "the email", Method.FIRST_LAST: "the names (first.last)"}
NO_NAME = "no user name could be made for this row from your username policy ({method}), the email or the names; " \
    "fill in User Name"  # fmt: skip
SEVERAL_HERE = "several people at your school have this email ({names}); fill in User Name to say which"

Fail = Callable[[object, str, str], None]  # (row, column key, message): the plan's way to refuse a row


def blank(row) -> bool:
    return not row.clean["username"]


def usernames_known(*, school: School, rows: list, fail: Fail) -> None:
    """Fill in the username of rows (without one) for people this school already holds: by MIS code, then by
    email and person type. Two queries at most, each batched over the whole file."""
    wanting = [row for row in rows if blank(row)]
    codes = {row.clean["mis_code"] for row in wanting if row.clean["mis_code"]}
    by_code = selectors.memberships_by_mis_code(school=school, codes=codes) if codes else {}
    rest = []
    for row in wanting:
        found = by_code.get((row.clean["person_type"], row.clean["mis_code"])) if row.clean["mis_code"] else None
        if found:
            row.clean["username"] = found["account__username"]
        elif row.clean["email"]:
            rest.append(row)
    if not rest:
        return
    by_email = selectors.memberships_by_email(school=school, emails={row.clean["email"].lower() for row in rest})
    for row in rest:
        found = by_email.get((row.clean["person_type"], row.clean["email"].lower()), [])
        if len(found) > 1:  # a family address shared by several contacts: the names tell them apart
            found = [m for m in found if _same_names(row.clean, m)] or found
        if len(found) == 1:
            row.clean["username"] = found[0]["account__username"]
        elif found:
            fail(row, "username", SEVERAL_HERE.format(names=", ".join(sorted(m["account__username"] for m in found))))


def _same_names(clean: dict, membership: dict) -> bool:
    given, family = (membership["account__given_name"] or "").lower(), (membership["account__family_name"] or "")
    return clean["given_name"].lower() == given and clean["family_name"].lower() == family.lower()


def policy_of(school: School) -> SyncPolicy:
    """The school's policy as saved, or its defaults when it has none yet (read only: a preview saves nothing)."""
    return SyncPolicy.objects.filter(school=school).first() or SyncPolicy(school=school)


def usernames_made(*, school: School, rows: list, names_in_file: set[str], fail: Fail) -> None:
    """Give each new person without a username one from the policy; clashes are numbered across Rollcall and
    against the names typed in the file (names_in_file, lower case), as a sync numbers them."""
    if not rows:
        return
    policy = policy_of(school)
    wanted, how = [], {}
    for row in rows:
        stem, method = stem_for(policy, row.clean)
        if not stem:
            fail(row, "username", NO_NAME.format(method=Method(policy.username_method).label))
            continue
        wanted.append((row.number, stem, None))
        how[row.number] = method
    chosen = username_policy.resolve(wanted, given=set(names_in_file))
    words = Method(policy.username_method).label
    for row in rows:
        if row.number not in chosen:
            continue
        name = row.clean["username"] = chosen[row.number]
        method = how[row.number]
        if method == policy.username_method:
            row.message = MADE.format(name=name, method=words)
        else:
            row.message = MADE_INSTEAD.format(name=name, source=SOURCES[method], method=words)


def stem_for(policy: SyncPolicy, clean: dict) -> tuple[str, str]:
    """The sync's stem for this row under the policy, else under each fallback method in turn: (stem, method)."""
    person = {k: clean[k] for k in ("mis_code", "email", "given_name", "family_name")}
    for method in (policy.username_method, *FALLBACKS):
        other = policy
        if method != policy.username_method:
            other = copy.copy(policy)  # the school's prefix, suffix and case, another method
            other.username_method = method
        stem = username_policy.username_stem(other, person)
        if _usable(stem, method):
            return stem, method
    return "", ""


def _usable(stem: str, method: str) -> bool:
    """A name made from names needs a letter (issue 19: 名01 姓01 became 01.01): digits alone name nobody."""
    return bool(stem) and (method not in NAME_METHODS or any(ch.isalpha() for ch in stem))
