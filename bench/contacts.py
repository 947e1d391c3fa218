"""Contact lifecycle figures for 10,000 contacts: the Account Manager's states, Send Welcome Email to a
local SMTP server, and Revoke Access for all.

    python -m bench.contacts [--contacts 10000] [--sqlite] [--json]

Uses its own PostgreSQL database (postgres://postgres@127.0.0.1:5432, created and dropped here) or, when
PostgreSQL is down or --sqlite is given, a throwaway SQLite file. Emails go to an aiosmtpd server on
127.0.0.1 started here. With --json the last line printed is one JSON object with emails_per_s and the
other figures.
"""

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The SMTP server runs in its own process, as a real one would: in this process it would compete with
# the sender for the GIL and the figure would measure Python threads, not the job.
SMTP_SERVER = """
import asyncio, json, logging, sys
from aiosmtpd.controller import Controller
logging.disable(logging.CRITICAL)

class Counter:
    messages = connections = 0
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        Counter.connections += 1
        return responses
    async def handle_DATA(self, server, session, envelope):
        Counter.messages += len(envelope.rcpt_tos)
        return "250 OK"

controller = Controller(Counter(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()  # until the bench closes our stdin
controller.stop()
print(json.dumps({"messages": Counter.messages, "connections": Counter.connections}), flush=True)
"""


class SmtpServer:
    def __init__(self):
        import subprocess

        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SMTP_SERVER, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> dict:
        out, _ = self.process.communicate("", timeout=30)
        return json.loads(out.strip().splitlines()[-1])


def _postgres_database() -> str | None:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception:  # noqa: BLE001 - PostgreSQL down: fall back to SQLite
        return None
    name = f"bench_contacts_{os.getpid()}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return name


def _drop_postgres(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _setup(workdir: Path, use_sqlite: bool, smtp_port: int) -> str | None:
    pg = None if use_sqlite else _postgres_database()
    os.environ["ROLLCALL_VAR_DIR"] = str(workdir)
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["CELERY_FS_DIR"] = str(workdir / "broker")
    os.environ.setdefault("DEBUG", "1")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"
    os.environ["EMAIL_HOST"], os.environ["EMAIL_PORT"] = "127.0.0.1", str(smtp_port)
    if pg:
        os.environ["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{pg}"
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return pg


def _fixtures(n: int):
    """n contacts, each linked to a current student with the flags on; half have chosen a password."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Account, ContactLink, Membership, Role, RoleAssignment
    from tenancy.models import Organisation, School

    org = Organisation.objects.create(name="Bench Trust", slug="bench-trust")
    school = School.objects.create(organisation=org, name="Bench Academy", slug="bench")
    chosen = make_password("a-long-bench-passphrase")
    admin = Account.objects.create(username="bench.nc", email="nc@bench.example", password=chosen)
    staff = Membership.objects.create(school=school, account=admin, person_type="staff")
    RoleAssignment.objects.create(school=school, membership=staff, role=Role.objects.get(code="nominated_contact"))
    students = Account.objects.bulk_create(
        [Account(username=f"s{i:05d}", given_name="Stu", family_name=f"Dent{i}", password="!") for i in range(n)],
        batch_size=2000,
    )
    student_m = Membership.objects.bulk_create(
        [
            Membership(school=school, account=a, person_type="student", mis_code=f"S{i:05d}")
            for i, a in enumerate(students)
        ],
        batch_size=2000,
    )
    parents = Account.objects.bulk_create(
        [
            Account(
                username=f"p{i:05d}",
                given_name="Pat",
                family_name=f"Parent{i}",
                email=f"p{i:05d}@families.example",
                password=chosen if i % 2 else "!",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    contacts = Membership.objects.bulk_create(
        [
            Membership(school=school, account=a, person_type="contact", mis_code=f"C{i:05d}", portal_access=True)
            for i, a in enumerate(parents)
        ],
        batch_size=2000,
    )
    ContactLink.objects.bulk_create(
        [ContactLink(school=school, contact=c, student=s) for c, s in zip(contacts, student_m, strict=True)],
        batch_size=2000,
    )
    return school, admin


CPU = {}


def _timed(fn):
    """(result, wall seconds, queries); this process's CPU seconds go in CPU[fn.__name__]."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        elapsed = time.perf_counter() - started
    CPU[fn.__name__] = round(time.process_time() - cpu, 3)
    return result, round(elapsed, 3), len(queries)


def run(n: int, use_sqlite: bool) -> dict:
    smtp = SmtpServer()
    workdir = Path(tempfile.mkdtemp(prefix="bench-contacts-"))
    received = {}
    try:
        pg = _setup(workdir, use_sqlite, smtp.port)
        try:
            figures = _measure(n, pg)
        finally:
            if pg:
                _drop_postgres(pg)
    finally:
        received = smtp.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    figures["emails_received"] = received.get("messages")
    figures["smtp_connections"] = received.get("connections")
    return figures


def _measure(n: int, pg: str | None) -> dict:
    from django.db import connection, transaction
    from django.test import Client
    from django_scopes import scope

    from accounts.models import ContactLink
    from provisioning.contacts import selectors, services
    from provisioning.models import ContactJobItem

    started = time.perf_counter()
    school, admin = _fixtures(n)
    if pg:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would have by the time anyone opens the screen
    figures = {
        "database": "postgresql" if pg else "sqlite",
        "contacts": n,
        "fixtures_s": round(time.perf_counter() - started, 1),
        # The figures are wall-clock; on a shared machine the CPU seconds say what the work itself costs.
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    with scope(school=school):
        counts, figures["states_counts_s"], figures["states_counts_queries"] = _timed(
            lambda: selectors.contact_state_counts(school=school)
        )
        assert counts[selectors.ContactStatus.ACTIVE] == n // 2, counts
        _, figures["states_all_rows_s"], figures["states_all_rows_queries"] = _timed(
            lambda: len(list(selectors.contact_list(school=school)))
        )
        client = Client(HTTP_HOST="localhost")
        client.force_login(admin)

        def screen():
            return client.get("/s/bench/account-manager/?type=contact&status=ready_to_provision")

        client.get("/s/bench/")  # the first request imports the URLconf and templates: not the screen's cost
        response, figures["screen_s"], figures["screen_queries"] = _timed(screen)
        figures["screen_cpu_s"] = CPU["screen"]
        assert response.status_code == 200, response.status_code

        everyone = list(selectors.contact_list(school=school))

        def welcome():
            with transaction.atomic():  # the job's task runs (eagerly) when this commits
                return services.welcome_email_start(
                    school=school, actor=admin, memberships=everyone, base_url="http://localhost:8000"
                )

        job, figures["welcome_s"], figures["welcome_queries"] = _timed(welcome)
        # The job ran on commit (eager): time it from start to finish as the job row recorded it.
        figures["welcome_cpu_s"] = CPU["welcome"]
        job.refresh_from_db()
        figures["welcome_job_s"] = round((job.finished_at - job.started_at).total_seconds(), 3)
        sent = ContactJobItem.objects.filter(job=job, outcome="sent").count()
        figures.update(
            emails_sent=sent,
            emails_per_s=round(sent / figures["welcome_job_s"], 1),
        )

        # An MIS change turns the contact type's flag off: every contact becomes Ready to Revoke Access.
        ContactLink.objects.filter(school=school).update(portal_access=False)
        counts = selectors.contact_state_counts(school=school)
        assert counts[selectors.ContactStatus.READY_TO_REVOKE] == n, counts
        revoking = list(selectors.contact_list(school=school, state=selectors.ContactStatus.READY_TO_REVOKE))

        def revoke():
            with transaction.atomic():
                return services.revoke_start(school=school, actor=admin, memberships=revoking, confirm_count=n)

        job, figures["revoke_all_s"], figures["revoke_all_queries"] = _timed(revoke)
        figures["revoke_all_cpu_s"] = CPU["revoke"]
        figures["revoked"] = ContactJobItem.objects.filter(job=job, outcome="revoked").count()
        figures["revoke_per_s"] = round(figures["revoked"] / figures["revoke_all_s"], 1)
        figures["batch_size"] = services.BATCH_SIZE
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--sqlite", action="store_true", help="use SQLite even if PostgreSQL is up")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.contacts, args.sqlite)
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
