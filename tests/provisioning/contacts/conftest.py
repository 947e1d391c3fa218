"""Contacts and a real SMTP server (aiosmtpd) for the Account Manager tests."""

import socket

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from tests.factories import ContactLinkFactory, MembershipFactory, RoleAssignmentFactory


def make_student(school, *, status="active", **account):
    return MembershipFactory(
        school=school,
        person_type="student",
        status=status,
        account__home_school=school,
        **{f"account__{k}": v for k, v in account.items()},
    )


def make_contact(
    school, *, students=(), portal_access=True, link_portal=True, activated=True, status="active", **account
):
    """A contact (parent) linked to `students`; activated = has chosen a password."""
    contact = MembershipFactory(
        school=school,
        person_type="contact",
        portal_access=portal_access,
        status=status,
        account__home_school=school,
        **{f"account__{k}": v for k, v in account.items()},
    )
    if not activated:
        contact.account.set_unusable_password()
        contact.account.save(update_fields=["password"])
    RoleAssignmentFactory(membership=contact, role_id="parent")
    for student in students:
        ContactLinkFactory(school=school, contact=contact, student=student, portal_access=link_portal)
    return contact


class Inbox:
    """What the SMTP server received, and over how many connections."""

    def __init__(self):
        self.messages, self.refuse, self.connections = [], set(), 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.connections += 1  # Django's SMTP backend says EHLO once per connection
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"to": list(envelope.rcpt_tos), "data": envelope.content.decode("utf-8", "replace")})
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if address in m["to"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; Django's SMTP backend points at it for the test."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_TIMEOUT=10,
        ):
            yield inbox
    finally:
        controller.stop()
