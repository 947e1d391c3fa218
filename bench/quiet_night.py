"""One school's no-change night, repeated in one process: what a quiet school's night costs beyond its rows.

    python -m bench.quiet_night [--people 500] [--nights 30] [--queries] [--profile] [--changed]

Makes one school as bench.fleet makes each of its schools (past its first sync, syncing nightly from
midnight), applies its export once, then receives the same export again before each of --nights nights and
runs the school's nightly work (provisioning.sync.nightly.school_nightly_run) in this process, without Celery.
Prints the median wall time and CPU time of this process per night, the mean CPU of its PostgreSQL backend
(read from /proc: PostgreSQL on this machine), the run's plan and apply seconds, and the queries of one more
night (listed with --queries). With --changed, each timed night is bench.fleet's 5% night instead (its
changed export, bench.sync.changed_people), after an untimed night putting the base export back. --profile
prints where the nights' time went (pyinstrument, sampled; `pip install pyinstrument` first: not one of
Rollcall's requirements). Compare two commits back to back, alternating: other users' load moves both.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import fleet
from bench import sync as bench_sync

CLK_TCK = os.sysconf("SC_CLK_TCK")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--queries", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--changed", action="store_true")
    args = parser.parse_args(argv)

    db = bench_sync.create_database("rollcall_quiet_night")
    try:
        bench_sync.setup_django(db, Path(tempfile.mkdtemp(prefix="bench-quiet-")))
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django_scopes import scope, scopes_disabled

        from provisioning.sync import nightly
        from provisioning.sync.feed_intake import feed_receive

        with scopes_disabled():
            (school,) = fleet.make_schools(1)
        people = bench_sync.make_people(args.people)
        content = bench_sync.zipped(bench_sync.csv_files(fleet.school_people(people, 0)))
        changed = bench_sync.zipped(bench_sync.csv_files(fleet.school_people(bench_sync.changed_people(people), 0)))
        first = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0) + timedelta(days=1)

        def receive(n: int, export: bytes = content) -> None:  # the MIS agent's push during the day: not timed
            with scopes_disabled(), scope(school=school):
                feed_receive(school=school, actor=None, name=f"night-{n}.zip", content=export, source="api")

        def night(n: int):
            with scopes_disabled():
                return nightly.school_nightly_run(school_id=school.pk, now=first + timedelta(days=n))

        def backend_cpu() -> float:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK

        receive(0)
        night(0)  # everyone created
        walls, cpus, database, plans, applies = [], [], [], [], []
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
        kind = "5%-change" if args.changed else "no-change"
        day = 0  # a night a day: the next night's
        for _ in range(args.nights):
            day += 1
            if args.changed:  # the base export back, untimed; then the changed one
                receive(day)
                night(day)
                day += 1
                receive(day, changed)
            else:
                receive(day)
            db_before, cpu_before, wall_before = backend_cpu(), time.process_time(), time.perf_counter()
            if profiler:
                profiler.start()
            run = night(day)
            if profiler:
                profiler.stop()
            walls.append(time.perf_counter() - wall_before)
            cpus.append(time.process_time() - cpu_before)
            database.append(backend_cpu() - db_before)
            assert run.state == "applied", (run.state, run.message)
            plans.append(run.plan_seconds or 0.0)
            applies.append(run.apply_seconds or 0.0)
        receive(day + 1)
        with CaptureQueriesContext(connection) as queries:
            night(day + 1)

        def ms(values):
            return statistics.median(values) * 1000

        print(f"{args.nights} {kind} nights of {args.people} people: wall {ms(walls):.1f} ms, CPU {ms(cpus):.1f} ms "
              f"(this process, median), PostgreSQL backend {statistics.mean(database) * 1000:.1f} ms (mean); "
              f"plan {ms(plans):.1f} ms, apply {ms(applies):.1f} ms; {len(queries)} queries; "
              f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
        if profiler:
            print(profiler.output_text(unicode=True, show_all=False, short_mode=False))
        if args.queries:
            for query in queries.captured_queries:
                print(f"{query['time']:>6} {query['sql'][:150]}")
    finally:
        from django.db import connections

        connections.close_all()
        bench_sync.drop_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
