"""Files that name a deleted person go with them, and the other apps' records of them are erased.

Job reports, uploaded files and certificate zips belong to the apps above accounts (provisioning,
assessments), which accounts never imports: each registers, in its AppConfig.ready(), a function that
removes its files of the school that name the person. accounts.services.account_delete calls them all
before it blanks the person's names, so they can still be recognised.

What "names the person" means is decided here, once: a row (of a spreadsheet, or a zip's file names)
holding their username, email, UPN or one of their MIS codes at the school, or both their given and
family names. Conservative on purpose: a file wrongly taken for naming them is only removed early.

The same way, each app registers what it does once an account is erased (on_account_erased): assessments
revokes the person's certificates, provisioning blanks their sync records.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django_scopes import scope

from accounts.models import Account, Membership
from tenancy.models import School


@dataclass(frozen=True)
class PersonNamed:
    school: School
    account_id: object
    identifiers: frozenset[str]  # casefolded username, email, UPN, MIS codes
    given_name: str
    family_name: str

    def in_row(self, cells: Iterable) -> bool:
        """True when this row of a file names the person."""
        texts = {_text(cell) for cell in cells}
        if texts & self.identifiers:
            return True
        return bool(self.given_name and self.family_name) and {self.given_name, self.family_name} <= texts

    def in_text(self, text: str) -> bool:
        """True when a free text (a file name in a zip) names the person."""
        low = text.casefold()
        if any(identifier in low for identifier in self.identifiers if len(identifier) >= 3):
            return True
        full = f"{self.given_name} {self.family_name}".strip()
        return bool(self.given_name and self.family_name) and full in low


def _text(cell) -> str:
    # Our own exports once put a quote before formula-like text; the value is what follows it.
    return str(cell if cell is not None else "").strip().removeprefix("'").strip().casefold()


FileEraser = Callable[[PersonNamed], int]
_erasers: list[FileEraser] = []


def register(eraser: FileEraser) -> FileEraser:
    """Called from an AppConfig.ready(): eraser(person) removes that app's files naming the person."""
    if eraser not in _erasers:
        _erasers.append(eraser)
    return eraser


def person_named(*, school: School, account: Account) -> PersonNamed:
    with scope(school=school):
        codes = Membership.objects.filter(school=school, account=account).values_list("mis_code", flat=True)
        identifiers = {account.username, account.email, account.upn, *codes}
    return PersonNamed(
        school=school,
        account_id=account.pk,
        identifiers=frozenset(_text(i) for i in identifiers if i and str(i).strip()),
        given_name=_text(account.given_name),
        family_name=_text(account.family_name),
    )


def files_naming_erase(*, school: School, account: Account) -> int:
    """Every registered app removes its files of this school that name the person; how many went."""
    person = person_named(school=school, account=account)
    with scope(school=school):
        return sum(eraser(person) for eraser in _erasers)


AccountErased = Callable[..., object]  # hook(account=, actor=): the account is erased; actor may be None
_on_erased: list[AccountErased] = []


def on_account_erased(hook: AccountErased) -> AccountErased:
    """Called from an AppConfig.ready(): hook(account=, actor=) runs in the erasing transaction."""
    if hook not in _on_erased:
        _on_erased.append(hook)
    return hook


def account_erased(*, account: Account, actor: Account | None) -> None:
    """Every registered app lets go of what it holds about the erased account, in every school."""
    for hook in _on_erased:
        hook(account=account, actor=actor)
