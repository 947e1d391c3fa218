"""+Upload Users figures on a 10,000-row workbook, against the readers and importers most Django sites use.

    python -m bench.upload [--rows 10000] [--runs 5] [--ie-runs 3] [--apply-runs 3] [--sync-runs 3]
                           [--database sqlite|postgres] [--profile] [--json]

In one run, on the same generated .xlsx (embedded SQLite in a temporary folder, migrated here; or, with
--database postgres, a PostgreSQL database of its own made and dropped with bench.sync's helpers):
- validate+preview: read the file (python-calamine, after the size/type/zip checks) and plan every row
  against the registry (set-based lookups), the work behind the preview page;
- a bare openpyxl read-only pass over the same file (load + iterate every row's values): the reader most
  Django code uses, doing nothing with the values;
- django-import-export's dry run with a ModelResource (the same rows, loaded with tablib, import_data
  dry_run=True): the peer most Django sites would use (needs `pip install -e '.[bench]'`);
- the apply: one job writing every row (accounts, memberships, roles, starter codes, audit events,
  the result workbook and the credentials sheet), its time, its query count and records (people) per second;
- beside it, on the same database in the same run, the MIS sync's initial import of as many new people
  (bench.sync's feed and path: feed received untimed, then plan, apply and commit timed, each run into a
  school of its own), taking turns with the applies, so `apply_vs_sync_per_person` compares the two like for
  like (target <= 2): wall clock, and `_cpu`, this process's CPU plus the database backends' (read from
  /proc on PostgreSQL), which other sessions' load on a shared machine does not stretch.
Each figure is the median of several runs, in wall-clock and in this process's CPU time (the headline
ratios use CPU time: SQLite runs in-process, and on a shared machine other processes' load stretches wall
time unevenly between phases; on PostgreSQL the database's own CPU is not counted, so compare wall time
there). Targets: validate+preview <= 0.5 x the openpyxl pass; >= 30x faster than import-export's dry run;
apply queries growing with batches, not rows; the apply within 2x the sync's initial import per person.
--profile prints a cProfile of one more apply (not timed).
With --json the last line is one JSON object with every figure.
"""

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

FIRST = ["Ann", "Bob", "Chloé", "Dev", "Eilidh", "Femi", "Grace", "Harry", "Isla", "Jack", "Zoë", "Łukasz"]
LAST = ["Smith", "Jones", "O'Brien", "Ødegård", "Patel", "Nguyen", "Williams", "Brown", "Taylor", "Khan"]
ROLES = ["INV", "INV", "INV", "SLT", "EO"]
HEADER = ["Username *", "Given Names *", "Family Name *", "Email", "Person Type", "Role", "MIS Code"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def rows_for(n: int, prefix: str = "u") -> list[list]:
    return [
        [
            f"{prefix}{i:05d}.x",
            FIRST[i % len(FIRST)],
            LAST[i % len(LAST)],
            f"{prefix}{i:05d}@bench.sch.uk",
            "Staff",
            ROLES[i % len(ROLES)],
            f"{prefix.upper()}{i:06d}",
        ]  # fmt: skip
        for i in range(n)
    ]


def xlsx(rows: list[list], header: list[str]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Users")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _setup(workdir: Path, database: str) -> str | None:
    """Django on a fresh database: embedded SQLite in workdir, or a PostgreSQL database of this run's own
    (returned, for dropping)."""
    if database == "postgres":
        from bench.sync import create_database, setup_django

        name = create_database("rollcall_bench_upload")
        setup_django(name, workdir)
        return name
    os.environ["ROLLCALL_VAR_DIR"] = str(workdir)
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("DEBUG", "1")
    os.environ.pop("DATABASE_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"  # the apply runs in this process, start to finish
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return None


def _fixtures(existing: int):
    """A school, its exams officer, and `existing` people already registered there (they come out unchanged)."""
    from accounts.models import Account, Membership, RoleAssignment
    from tenancy.models import Organisation, School

    org = Organisation.objects.create(name="Bench Trust", slug="bench-trust")
    school = School.objects.create(organisation=org, name="Bench Academy", slug="bench", email_domains="bench.sch.uk")
    eo = Account.objects.create_user("bench.eo", "x" * 12, email="eo@bench.sch.uk", given_name="E", family_name="O")
    membership = Membership.objects.create(school=school, account=eo, person_type="staff")
    RoleAssignment.objects.create(school=school, membership=membership, role_id="eo")
    people = rows_for(existing)
    accounts = [
        Account(username=r[0], given_name=r[1], family_name=r[2], email=r[3], password="!", home_school=school)
        for r in people
    ]
    Account.objects.bulk_create(accounts, batch_size=500)
    memberships = [
        Membership(school=school, account=a, person_type="staff", mis_code=r[6])
        for a, r in zip(accounts, people, strict=True)
    ]
    Membership.objects.bulk_create(memberships, batch_size=500)
    role_of = {"INV": "inv", "SLT": "slt", "EO": "eo"}
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(school=school, membership=m, role_id=role_of[r[5]])
            for m, r in zip(memberships, people, strict=True)
        ],
        batch_size=500,
    )
    return school, eo


CPU = {}  # label -> median process CPU seconds, beside the wall-clock medians


def _median(fn, runs: int, label: str = "") -> tuple[float, object]:
    """Median wall-clock seconds (and, in CPU[label], median CPU seconds of this process) over `runs`.

    SQLite runs inside this process, so CPU time covers the database work too; on a shared machine it is
    the fairer comparison, as other processes' load stretches wall-clock time unevenly between phases.
    """
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if label:
        CPU[label] = statistics.median(cpu)
    return statistics.median(times), result


def bench_openpyxl(data: bytes) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True)
    n = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return n


def bench_import_export(data: bytes, runs: int) -> float | None:
    if runs <= 0:
        return None
    try:
        import tablib
        from import_export import resources
    except ImportError:
        log("django-import-export is not installed (pip install -e '.[bench]'): skipping that comparison")
        return None
    from accounts.models import Account

    class AccountResource(resources.ModelResource):
        class Meta:
            model = Account
            fields = ("username", "given_name", "family_name", "email")
            import_id_fields = ("username",)

    def dry_run():
        dataset = tablib.Dataset().load(io.BytesIO(data), format="xlsx")
        result = AccountResource().import_data(dataset, dry_run=True)
        assert not result.has_errors(), result.row_errors()[:3]
        return result.totals

    seconds, totals = _median(dry_run, runs, "import_export")
    log(f"  import-export totals: {dict(totals)}")
    return seconds


def _profile_apply(school, eo, n: int) -> None:
    import cProfile
    import pstats

    from provisioning.upload import services

    batch = services.upload_receive(school=school, actor=eo, file_name="profile.xlsx",
                                    data=xlsx(rows_for(n, prefix="pr"), HEADER))  # fmt: skip
    profiler = cProfile.Profile()
    profiler.enable()
    services.upload_apply_start(school=school, actor=eo, batch=batch, mode="add_new",
                                password_method="starter_codes", add_existing=True, consent=True)  # fmt: skip
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    log("\n--- profile: apply ---\n" + out.getvalue())


class _Clock:
    """Wall clock, this process's CPU, and (on PostgreSQL) the CPU of the database's backends serving this
    run, read from /proc as bench.fleet does: on a shared machine other sessions' load stretches wall time
    unevenly between phases, while CPU seconds, the server's included, stay each phase's own work."""

    def __init__(self):
        from django.db import connection

        self.postgres = connection.vendor == "postgresql"

    def _db_cpu(self) -> float:
        if not self.postgres:
            return 0.0  # SQLite runs inside this process: its work is in process_time already
        from django.db import connection

        from bench.fleet import cpu_seconds

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return sum(cpu_seconds(pid) for (pid,) in cursor.fetchall())

    def __enter__(self):
        self.db_start = self._db_cpu()
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.start
        self.cpu = time.process_time() - self.cpu_start
        self.db_cpu = self._db_cpu() - self.db_start
        return False


class SyncImports:
    """The MIS sync's initial import of n new people, as bench.sync times it (its feed, its policy; the feed
    received untimed, then plan, apply and commit timed), each run into a new school with codes of its own
    (bench.fleet's school_people), run between the applies so both see the same load."""

    def __init__(self, n: int):
        from django_scopes import scopes_disabled

        from bench.sync import make_people
        from tenancy.models import Organisation

        self.n, self.base, self.clocks = n, make_people(n), []
        with scopes_disabled():
            self.org = Organisation.objects.create(name="Sync Trust", slug="sync-trust")

    def run(self) -> None:
        from django_scopes import scope, scopes_disabled

        from bench.fleet import school_people
        from bench.sync import bench_policy, csv_files, zipped
        from provisioning.models import SyncRun
        from provisioning.sync import services as sync_services
        from provisioning.sync.feed_intake import feed_receive
        from tenancy.models import School

        number = len(self.clocks)
        content = zipped(csv_files(school_people(self.base, number)))
        with scopes_disabled():
            school = School.objects.create(organisation=self.org, name=f"Sync Academy {number}",
                                           slug=f"sync-{number}", urn=f"{990000 + number}",
                                           email_domains="bench.sch.uk")  # fmt: skip
            bench_policy(school)
        with scope(school=school):
            feed = feed_receive(school=school, actor=None, name="initial.zip", content=content, source="api")
            assert feed.state == "valid", feed.errors[:5]
            sync_run = SyncRun.objects.create(school=school, feed=feed, trigger="scheduled", dry_run=False)
            with _Clock() as clock:
                sync_services.sync_plan(run=sync_run)
            assert sync_run.state == "applied", (sync_run.state, sync_run.message)
            assert sync_run.counts.get("create") == self.n, sync_run.counts
        self.clocks.append(clock)
        log(f"  sync initial import {number + 1}: {clock.wall:.3f} s (CPU: this process {clock.cpu:.3f} s, "
            f"database {clock.db_cpu:.3f} s) {dict(sync_run.counts)}")  # fmt: skip


def _medians(clocks: list) -> tuple[float, float, float]:
    return tuple(statistics.median(getattr(c, a) for c in clocks) for a in ("wall", "cpu", "db_cpu"))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--existing", type=int, default=500, help="rows already registered (come out unchanged)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ie-runs", type=int, default=3)
    parser.add_argument("--apply-runs", type=int, default=3)
    parser.add_argument("--sync-runs", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="rollcall-bench-upload-") as tmp:
        pg_name = _setup(Path(tmp), args.database)
        try:
            figures = _run(args)
        finally:
            if pg_name:
                from django.db import connections

                from bench.sync import drop_database

                connections.close_all()
                drop_database(pg_name)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return figures


def _run(args) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scope

    from provisioning.upload import services
    from provisioning.upload.reader import read_upload

    school, eo = _fixtures(args.existing)
    rows = rows_for(args.rows)
    data = xlsx(rows, HEADER)
    log(f"{args.rows:,} rows, {len(data) / 1024:.0f} KB .xlsx; {args.existing} already registered")

    with scope(school=school):

        def preview():
            table = read_upload(data, "UserUploadTemplate.xlsx")
            return services.upload_plan(school=school, account=eo, table=table, mode="add_update")

        preview_s, plan = _median(preview, args.runs, "preview")
        counts = plan.counts
        assert counts["create"] == args.rows - args.existing and counts["unchanged"] == args.existing, counts
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as ctx:
            preview()
        preview_queries = len(ctx.captured_queries)
        openpyxl_s, n = _median(lambda: bench_openpyxl(data), args.runs, "openpyxl")
        assert n == args.rows + 1
        ratio = preview_s / openpyxl_s
        log(f"validate+preview {preview_s:.3f} s ({preview_queries} queries); openpyxl read-only pass "
            f"{openpyxl_s:.3f} s; ratio {ratio:.3f} (target <= 0.5)")  # fmt: skip

        ie_data = xlsx([r[:4] for r in rows], ["username", "given_name", "family_name", "email"])
        ie_s = bench_import_export(ie_data, args.ie_runs)
        speedup = ie_s / preview_s if ie_s else None
        if ie_s:
            log(f"import-export dry run {ie_s:.3f} s; validate+preview is {speedup:.1f}x faster (target >= 30x)")

        # The applies and the sync's imports take turns, so a shared machine's changing load falls on both.
        syncs, apply_clocks, apply_queries = SyncImports(args.rows), [], []
        for run in range(max(args.apply_runs, args.sync_runs)):
            if run < args.apply_runs:
                fresh = xlsx(rows_for(args.rows, prefix=f"a{run}r"), HEADER)
                batch = services.upload_receive(school=school, actor=eo, file_name="apply.xlsx", data=fresh)
                connection.queries_log.clear()  # the import-export run filled the 9,000-query log
                with _Clock() as clock, CaptureQueriesContext(connection) as ctx:
                    job = services.upload_apply_start(school=school, actor=eo, batch=batch, mode="add_new",
                                                      password_method="starter_codes", add_existing=True,
                                                      consent=True)  # fmt: skip
                apply_clocks.append(clock)
                apply_queries.append(len(ctx.captured_queries))
                job.refresh_from_db()
                assert job.state == "succeeded", job.error
                assert job.counts == {"Created": args.rows}, job.counts
                log(f"  apply {run + 1}: {clock.wall:.3f} s (CPU: this process {clock.cpu:.3f} s, "
                    f"database {clock.db_cpu:.3f} s)")  # fmt: skip
            if run < args.sync_runs:
                syncs.run()
        apply_s, apply_cpu, apply_db_cpu = _medians(apply_clocks)
        sync_s, sync_cpu, sync_db_cpu = _medians(syncs.clocks)
        log(f"apply {apply_s:.3f} s, {statistics.median(apply_queries)} queries for {args.rows:,} new people")
        if args.profile:
            _profile_apply(school, eo, args.rows)

    per_person = apply_s / sync_s
    per_person_cpu = (apply_cpu + apply_db_cpu) / (sync_cpu + sync_db_cpu)
    log(f"sync initial import {sync_s:.3f} s for {args.rows:,} new people; the apply takes {per_person:.2f}x "
        f"its time per person, {per_person_cpu:.2f}x its CPU (target <= 2)")  # fmt: skip

    cpu_ratio = CPU["preview"] / CPU["openpyxl"]
    cpu_speedup = CPU["import_export"] / CPU["preview"] if "import_export" in CPU else None
    log(f"CPU time: validate+preview {CPU['preview']:.3f} s, openpyxl {CPU['openpyxl']:.3f} s, ratio {cpu_ratio:.3f}"
        + (f"; import-export {CPU['import_export']:.3f} s, {cpu_speedup:.1f}x" if cpu_speedup else ""))  # fmt: skip
    figures = {
        "rows": args.rows,
        "clock": "ratio_to_openpyxl and speedup_vs_import_export use process CPU time (medians); *_wall use wall clock",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "file_kb": round(len(data) / 1024),
        "validate_preview_s": round(preview_s, 4),
        "validate_preview_queries": preview_queries,
        "openpyxl_read_only_s": round(openpyxl_s, 4),
        "validate_preview_cpu_s": round(CPU["preview"], 4),
        "openpyxl_read_only_cpu_s": round(CPU["openpyxl"], 4),
        "ratio_to_openpyxl": round(cpu_ratio, 4),
        "ratio_to_openpyxl_wall": round(ratio, 4),
        "ratio_target": 0.5,
        "ratio_met": cpu_ratio <= 0.5,
        "import_export_dry_run_s": round(ie_s, 3) if ie_s else None,
        "import_export_dry_run_cpu_s": round(CPU["import_export"], 3) if ie_s else None,
        "speedup_vs_import_export": round(cpu_speedup, 1) if cpu_speedup else None,
        "speedup_vs_import_export_wall": round(speedup, 1) if speedup else None,
        "speedup_target": 30,
        "speedup_met": bool(cpu_speedup and cpu_speedup >= 30),
        "apply_s": round(apply_s, 3),
        "apply_cpu_s": round(apply_cpu, 3),
        "apply_db_cpu_s": round(apply_db_cpu, 3),
        "apply_queries": statistics.median(apply_queries),
        "apply_records_per_s": round(args.rows / apply_s),
        "apply_cpu_records_per_s": round(args.rows / (apply_cpu + apply_db_cpu)),
        # The sync's initial import of as many new people, on the same database, runs interleaved with the
        # applies. *_cpu: this process's CPU plus (PostgreSQL) the database backends', medians of the runs.
        "database": args.database,
        "sync_import_s": round(sync_s, 3),
        "sync_import_cpu_s": round(sync_cpu, 3),
        "sync_import_db_cpu_s": round(sync_db_cpu, 3),
        "sync_import_records_per_s": round(args.rows / sync_s),
        "sync_import_cpu_records_per_s": round(args.rows / (sync_cpu + sync_db_cpu)),
        "apply_vs_sync_per_person": round(per_person, 2),
        "apply_vs_sync_per_person_cpu": round(per_person_cpu, 2),
        "apply_vs_sync_target": 2,
        "apply_vs_sync_met": per_person <= 2,
        "runs": args.runs,
        "ie_runs": args.ie_runs,
        "apply_runs": args.apply_runs,
        "sync_runs": args.sync_runs,
    }
    return figures


if __name__ == "__main__":
    main()
