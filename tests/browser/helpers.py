"""Steps browser tests share."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.factories import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

# The sign-in page, with or without ?next=...
LOGIN_PAGE = re.compile(r"/accounts/login/(\?.*)?$")


def sign_in(page: Page, username, password: str = PASSWORD) -> None:
    """Sign in through the real allauth form. `username` may be an Account or its username.

    Waits until the browser has left the sign-in page, so the next step starts signed in.
    """
    from playwright.sync_api import expect

    username = getattr(username, "username", username)
    page.goto("/accounts/login/")
    page.fill("input[name='login']", username)
    page.fill("input[name='password']", password)
    page.locator("form:has(input[name='login']) [type='submit']").click()
    expect(page).not_to_have_url(LOGIN_PAGE)


def sign_out(page: Page) -> None:
    """The Sign out button in the top bar."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(LOGIN_PAGE)
