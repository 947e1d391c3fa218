"""The sync fleet: every school's night through real Celery workers on Redis and PostgreSQL.

    python -m bench.fleet [--schools 1000] [--people 500] [--workers 2] [--repeat 3] [--json] [--raw-sample 100]
                          [--profile]

Creates --schools schools of --people people each (students, staff, contacts and links in bench.sync's
proportions, each school its own codes, UPNs and emails), starts one Celery worker of --workers processes
(prefork) on Redis (db --redis-db) against a database of its own, and runs three nights through the real
path: the tick (provisioning.sync.nightly) sends each due school a task, whose worker runs the school's
sync job, leaver timers and purges and records the night (SchoolNightly). The nights:
- initial: every school's first feed (everyone created, with roles, links and starter codes),
- no-change: the same export pushed again,
- 5% change: 5% of people changed and 2% leavers (bench.sync.changed_people).
The no-change and 5% nights run --repeat times (a night putting the base exports back, untimed, before each
repeat after the first), and each figure is the median over the repeats; the initial night runs once.
Before each night every school's export is received (feed_intake, untimed: the MIS agent pushes during the
day). For each night: wall time (tick to the last school finished), the tick's own time, the per-school time
of the task (median and p95), and the CPU seconds of the worker processes and of the database's backends
serving them (read from /proc, so this needs PostgreSQL on this machine; other users' load inflates wall
time, not CPU time). After each night the raw baseline per school, for --raw-sample schools: COPY of that
school's export into unlogged staging tables plus one indexed read of its memberships, the least work any
sync must do (median). Ratios are per-school task time over that baseline.

england_minutes_16_workers projects a 5%-change night of England (24,000 schools x 1,000 people) on 16
worker processes from the measured CPU per school, workers' plus the database's, scaled linearly by people
(an upper bound: a school's fixed costs do not grow with its size), assuming the database has the cores to
keep up (docs/scale.md). The load average is printed beside every figure.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import sync as bench_sync
from bench.sync import HEADERS, changed_people, csv_files, drop_database, make_people, zipped

ENGLAND_SCHOOLS, ENGLAND_PEOPLE, ENGLAND_WORKERS = 24_000, 1_000, 16
CLK_TCK = os.sysconf("SC_CLK_TCK")
EMAIL_COLUMN = {"students": 4, "staff": 3, "contacts": 3}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


# --- the schools' exports ------------------------------------------------------------------------------


def school_people(base: dict, n: int) -> dict:
    """bench.sync's people made the school's own: codes, UPNs and emails carry the school's number, so no
    two schools share a person (no transfers, no username clashes)."""
    prefix = f"K{n:05d}"
    out = {}
    for kind in ("students", "staff", "contacts"):
        rows = []
        for row in base[kind]:
            row = list(row)
            row[0] = prefix + row[0]
            if kind == "students":
                row[1] = f"A{n:05d}{row[1][-7:]}"
            if row[EMAIL_COLUMN[kind]]:
                row[EMAIL_COLUMN[kind]] = f"k{n}.{row[EMAIL_COLUMN[kind]]}"
            rows.append(row)
        out[kind] = rows
    out["relationships"] = [[prefix + r[0], prefix + r[1], *r[2:]] for r in base["relationships"]]
    return out


# --- the database and the workers ------------------------------------------------------------------------


def create_database() -> str:
    return bench_sync.create_database("rollcall_fleet")


def environment(db: str, workdir: Path, redis_db: int) -> dict:
    env = {
        "ROLLCALL_VAR_DIR": str(workdir),
        "MEDIA_ROOT": str(workdir / "media"),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-" + "k" * 50),
        "ALLOWED_HOSTS": "localhost",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        # Connections kept, as in production (docker-compose.yml): and their backends' CPU can be read.
        "CONN_MAX_AGE": "3600",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    return env


def setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_workers(workers: int, workdir: Path) -> subprocess.Popen:
    logfile = open(workdir / "worker.log", "wb")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
               f"--concurrency={workers}", "--without-gossip", "--without-mingle", "--loglevel=WARNING"]  # fmt: skip
    worker = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1], env=os.environ.copy(),
                              stdout=logfile, stderr=subprocess.STDOUT)  # fmt: skip
    from config.celery import app

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped: see {workdir / 'worker.log'}")
        if app.control.ping(timeout=1.0):
            break
    else:
        raise SystemExit("the worker did not answer within 2 minutes")
    while len(descendants(worker.pid)) < workers:  # the prefork children are up
        time.sleep(0.2)
    return worker


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def database_backends(db: str) -> list[int]:
    """The database's backends serving the workers (not this process's own connection)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db])
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU seconds of the worker processes and of the database backends, between start() and stop()."""

    def __init__(self, worker: subprocess.Popen, db: str):
        self.worker, self.db = worker, db

    def _snapshot(self) -> tuple[dict, dict]:
        workers = {pid: cpu_seconds(pid) for pid in [self.worker.pid, *descendants(self.worker.pid)]}
        return workers, {pid: cpu_seconds(pid) for pid in database_backends(self.db)}

    def start(self) -> None:
        self.before = self._snapshot()

    def stop(self) -> tuple[float, float]:
        after = self._snapshot()
        self.backends = len(after[1])
        pairs = zip(after, self.before, strict=True)
        return tuple(sum(v - before.get(pid, 0.0) for pid, v in now.items()) for now, before in pairs)


# --- the schools and their nights ------------------------------------------------------------------------


def make_schools(count: int) -> list:
    """count schools, each past its first sync (a first sync is only ever a preview), syncing nightly from
    midnight, with bench.sync's policy (usernames from MIS codes, starter codes, no guard)."""
    from django_scopes import scope

    from bench.sync import bench_policy
    from provisioning.models import SyncRun
    from provisioning.sync.policy import policy_for
    from tenancy.models import Organisation, School

    org = Organisation.objects.create(name="Fleet Trust", slug="fleet")
    schools = School.objects.bulk_create(
        School(organisation=org, name=f"Fleet School {n:05d}", slug=f"fleet-{n:05d}", urn=f"{900000 + n}",
               email_domains="bench.sch.uk", time_zone="UTC")
        for n in range(count)
    )  # fmt: skip
    for school in schools:
        with scope(school=school):
            bench_policy(school)
            policy = policy_for(school)
            policy.nightly_enabled, policy.nightly_time = True, datetime.min.time()
            policy.save()
            SyncRun.objects.create(school=school, trigger="manual", state="applied", dry_run=False)
    return schools


def receive_feeds(schools: list, feeds: list[bytes], label: str) -> None:
    from django_scopes import scope

    from provisioning.sync.feed_intake import feed_receive

    for school, content in zip(schools, feeds, strict=True):
        with scope(school=school):
            feed = feed_receive(school=school, actor=None, name=f"{label}.zip", content=content, source="api")
            assert feed.state == "valid", feed.errors[:3]


def database_writes(db: str) -> dict:
    """Rows inserted, updated and deleted in Rollcall's tables so far (not the raw baseline's staging tables,
    whose COPY this process's own backend may report late), and the database's size. An idle backend (the
    workers' kept connections, once the night is over) flushes these counts up to 10 s late (PostgreSQL 15's
    PGSTAT_IDLE_INTERVAL): read after a longer pause."""
    from django.db import connection

    time.sleep(11)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_del), 0)"
            " FROM pg_stat_user_tables WHERE relname NOT LIKE 'staging\\_%%'"
        )  # fmt: skip
        inserted, updated, deleted = (int(n) for n in cursor.fetchone())
        cursor.execute("SELECT xact_commit, pg_database_size(datname) FROM pg_stat_database WHERE datname = %s", [db])
        commits, size = cursor.fetchone()
    return {"inserted": inserted, "updated": updated, "deleted": deleted, "commits": commits, "bytes": size}


def run_night(night_now: datetime, meter: CpuMeter, schools: int, label: str) -> dict:
    """The tick, then wait until every school sent tonight has finished."""
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from provisioning.models import SchoolNightly, SyncRun
    from provisioning.sync import nightly

    writes_before = database_writes(meter.db)
    meter.start()
    started = time.perf_counter()
    sent = nightly.scheduled_tick(now=night_now)
    tick_s = time.perf_counter() - started
    assert sent == schools, (sent, schools)
    with scopes_disabled():
        tonight = SchoolNightly.objects.filter(night=night_now.date())
        while tonight.filter(state__in=["waiting", "running"]).exists():
            time.sleep(0.1)
        wall_s = time.perf_counter() - started
        worker_cpu, db_cpu = meter.stop()
        states = dict(tonight.values_list("state").annotate(n=Count("pk")))
        seconds = list(tonight.values_list("seconds", flat=True))
        runs = SyncRun.objects.filter(trigger="scheduled", feed__file_name=f"{label}.zip")
        plan_apply = list(runs.values_list("plan_seconds", "apply_seconds"))
        plan_apply = [(p or 0.0, a or 0.0) for p, a in plan_apply]
        counts: dict = {}
        for run_counts in runs.values_list("counts", flat=True):
            for key, value in run_counts.items():
                counts[key] = counts.get(key, 0) + value
    assert states == {"done": schools}, states
    writes_after = database_writes(meter.db)
    writes = {k: writes_after[k] - writes_before[k] for k in ("inserted", "updated", "deleted", "commits")}
    return {
        "writes": writes, "database_bytes": writes_after["bytes"],
        "wall_s": wall_s, "tick_s": tick_s, "worker_cpu_s": worker_cpu, "db_cpu_s": db_cpu,
        "per_school_ms": statistics.median(seconds) * 1000, "p95_ms": p95(seconds) * 1000,
        "plan_ms": statistics.median(p for p, _ in plan_apply) * 1000 if plan_apply else 0.0,
        "apply_ms": statistics.median(a for _, a in plan_apply) * 1000 if plan_apply else 0.0,
        "counts": counts,
    }  # fmt: skip


def raw_per_school(schools: list, files: list[dict], sample: int) -> float:
    """The least work a school's sync must do: COPY its export into unlogged staging tables, then one indexed
    read of its memberships. Median over the sample, in seconds."""
    from django.db import connection

    step = max(1, len(schools) // sample)
    times = []
    with connection.cursor() as cursor:
        for name, header in HEADERS.items():
            cols = ", ".join(f"{c} text" for c in header)
            cursor.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS staging_{name} ({cols})")
        for school, school_files in list(zip(schools, files, strict=True))[::step][:sample]:
            for name in HEADERS:
                cursor.execute(f"TRUNCATE staging_{name}")
            started = time.perf_counter()
            for name, data in school_files.items():
                with cursor.cursor.copy(f"COPY staging_{name} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                    copy.write(data)
            cursor.execute(
                "SELECT id, account_id, person_type, mis_code, status, year_group, form FROM accounts_membership"
                " WHERE school_id = %s", [school.pk]
            )  # fmt: skip
            cursor.fetchall()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def profile_one(school, content: bytes, night_now: datetime, label: str) -> None:
    """cProfile of one school's nightly task, run in this process (printed, not timed)."""
    import cProfile
    import io
    import pstats

    from django_scopes import scope

    from provisioning.sync import nightly
    from provisioning.sync.feed_intake import feed_receive

    with scope(school=school):
        feed_receive(school=school, actor=None, name=f"{label}.zip", content=content, source="api")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        profiler.enable()
        nightly.school_nightly_run(school_id=school.pk, now=night_now)
        profiler.disable()
    log(f"\n--- queries: one school's {label} night: {len(queries)} ---")
    for query in queries.captured_queries:
        log(f"{query['time']:>6} {query['sql'][:150]}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    log(f"\n--- profile: one school's {label} night ---\n" + out.getvalue())


def median_night(nights: list[dict]) -> dict:
    """The median of each figure over the repeats of one kind of night."""
    out = dict(nights[0])
    for key, value in nights[0].items():
        if isinstance(value, int | float):
            out[key] = statistics.median(n[key] for n in nights)
    out["writes"] = {k: statistics.median(n["writes"][k] for n in nights) for k in nights[0]["writes"]}
    return out


def rows_written(night: dict) -> int:
    return night["writes"]["inserted"] + night["writes"]["updated"] + night["writes"]["deleted"]


# --- the run ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--raw-sample", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="no-change and 5%% nights each, reported as medians")
    args = parser.parse_args(argv)

    base_people, base_changed = make_people(args.people), None
    base_changed = changed_people(base_people)
    files = [csv_files(school_people(base_people, n)) for n in range(args.schools)]
    changed_files = [csv_files(school_people(base_changed, n)) for n in range(args.schools)]
    feeds, changed = [zipped(f) for f in files], [zipped(f) for f in changed_files]
    log(f"{args.schools} schools x {args.people} people; {', '.join(f'{k} {len(v)}' for k, v in base_people.items())}"
        f" each; {len(feeds[0]) / 1e3:.0f} kB per export; {load()}")  # fmt: skip

    db = create_database()
    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    worker = None
    try:
        environment(db, workdir, args.redis_db)
        setup_django()
        import redis
        from django_scopes import scopes_disabled

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
        with scopes_disabled():
            started = time.perf_counter()
            schools = make_schools(args.schools)
            log(f"schools made in {time.perf_counter() - started:.1f} s; {load()}")
        worker = start_workers(args.workers, workdir)
        meter = CpuMeter(worker, db)
        first_night = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0) + timedelta(days=1)

        # Each repeat: a no-change night, then a 5% night; from the second on, a night putting the base
        # exports back first (untimed), so each no-change night starts from the same state.
        schedule = [("initial", feeds, files)]
        for rep in range(args.repeat):
            schedule += [("restore", feeds, files)] if rep else []
            schedule += [("nochange", feeds, files), ("change5", changed, changed_files)]
        runs: dict[str, list] = {}
        raws: dict[str, list] = {}
        for n, (label, night_feeds, night_files) in enumerate(schedule):
            name = f"{label}-{n}"
            with scopes_disabled():
                started = time.perf_counter()
                receive_feeds(schools, night_feeds, name)
                log(f"{label}: exports received in {time.perf_counter() - started:.1f} s (untimed); {load()}")
                night = run_night(first_night + timedelta(days=n), meter, args.schools, name)
                if label == "restore":
                    continue
                runs.setdefault(label, []).append(night)
                from django.db import connection

                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
                raw = raw_per_school(schools, night_files, args.raw_sample)
                raws.setdefault(label, []).append(raw)
            log(f"{label:9s} night: wall {night['wall_s']:.1f} s (tick {night['tick_s']:.2f} s); per school median "
                f"{night['per_school_ms']:.0f} ms, p95 {night['p95_ms']:.0f} ms (plan {night['plan_ms']:.0f} ms, "
                f"apply {night['apply_ms']:.0f} ms); CPU workers {night['worker_cpu_s']:.1f} s, database "
                f"{night['db_cpu_s']:.1f} s ({meter.backends} backends); raw per school {raw * 1000:.1f} ms; "
                f"{night['counts']}; rows written {night['writes']}, database {night['database_bytes'] / 1e6:.0f} MB; "
                f"{load()}")  # fmt: skip
        nights = {label: median_night(each) for label, each in runs.items()}
        if args.profile:
            with scopes_disabled():
                # The last night applied the changed exports: the same again is a no-change night, the base
                # exports a night of about 5% changes (back).
                profile_one(schools[0], changed[0], first_night + timedelta(days=len(schedule)), "nochange")
                profile_one(schools[1], feeds[1], first_night + timedelta(days=len(schedule) + 1), "change5")

        s, people = args.schools, args.people
        raw_ms = statistics.median(r for each in raws.values() for r in each) * 1000
        change5 = nights["change5"]
        cpu_per_school = (change5["worker_cpu_s"] + change5["db_cpu_s"]) / s
        england_cpu_per_school = cpu_per_school * ENGLAND_PEOPLE / people
        result = {
            "schools": s, "people": people, "workers": args.workers, "repeat": args.repeat,
            "initial_wall_s": round(nights["initial"]["wall_s"], 2),
            "nochange_wall_s": round(nights["nochange"]["wall_s"], 2),
            "change5_wall_s": round(change5["wall_s"], 2),
            "tick_ms_per_school": round(change5["tick_s"] / s * 1000, 3),
            "initial_per_school_ms": round(nights["initial"]["per_school_ms"], 1),
            "nochange_per_school_ms": round(nights["nochange"]["per_school_ms"], 1),
            "change5_per_school_ms": round(change5["per_school_ms"], 1),
            "nochange_p95_ms": round(nights["nochange"]["p95_ms"], 1),
            "change5_p95_ms": round(change5["p95_ms"], 1),
            "raw_per_school_ms": round(raw_ms, 2),
            "nochange_vs_raw": round(nights["nochange"]["per_school_ms"] / raw_ms, 1),
            "change5_vs_raw": round(change5["per_school_ms"] / raw_ms, 1),
            "initial_vs_raw": round(nights["initial"]["per_school_ms"] / raw_ms, 1),
            "change5_cpu_ms_per_school": {
                "workers": round(change5["worker_cpu_s"] / s * 1000, 1),
                "database": round(change5["db_cpu_s"] / s * 1000, 1),
            },
            "nochange_cpu_ms_per_school": {
                "workers": round(nights["nochange"]["worker_cpu_s"] / s * 1000, 1),
                "database": round(nights["nochange"]["db_cpu_s"] / s * 1000, 1),
            },
            "database_mb": round(change5["database_bytes"] / 1e6, 1),
            "change5_rows_written_per_school": round(rows_written(change5) / s),
            "nochange_rows_written_per_school": round(rows_written(nights["nochange"]) / s),
            "england_minutes_16_workers": round(ENGLAND_SCHOOLS * england_cpu_per_school / ENGLAND_WORKERS / 60, 1),
            "targets": {"nochange_vs_raw": 5, "change5_vs_raw": 15, "england_minutes_16_workers": 5},
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }  # fmt: skip
        for label in ("initial", "nochange", "change5"):
            wall, per_school = result[f"{label}_wall_s"], result[f"{label}_per_school_ms"]
            print(f"{label:9s} night: {wall:8.1f} s wall, {per_school:7.1f} ms per school (median), "
                  f"{result[f'{label}_vs_raw']:5.1f}x raw; {load()}")  # fmt: skip
        print(f"raw per school (COPY + one indexed read): {result['raw_per_school_ms']} ms; {load()}")
        print(
            f"England, 5% night, 16 workers: {result['england_minutes_16_workers']} min (target <= 5), from "
            f"{cpu_per_school * 1000:.0f} ms CPU per school of {people} (workers + database); {load()}"
        )
        if args.json:
            print(json.dumps(result))
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        from django.db import connections

        connections.close_all()
        drop_database(db)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
