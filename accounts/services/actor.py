"""Who is acting on an account: every service takes one."""

from dataclasses import dataclass

from accounts.models import Account
from accounts.permissions import Perm
from accounts.selectors import permissions_for
from tenancy.models import School


@dataclass(frozen=True)
class Actor:
    """Who is acting and in which capacity: a person at a school, support staff, or a job."""

    account: Account | None
    school: School | None = None
    job: object | None = None

    @property
    def is_support(self) -> bool:
        return bool(self.account and self.account.is_staff)

    def perms(self) -> frozenset[Perm]:
        if self.account is None or self.school is None:
            return frozenset()
        return permissions_for(school=self.school, account=self.account)
