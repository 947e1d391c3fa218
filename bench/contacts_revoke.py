"""The sync's forecast of contacts moving into Ready to Revoke Access, for one school of 100,000 people on
PostgreSQL.

    python -m bench.contacts_revoke [--people 100000] [--repeat 7] [--json] [--profile]

Imports bench.sync's school once (password method "random": every contact holds a starter code), plans
bench.sync's 5% change + 2% leavers feed without applying it, and times contacts_moving_to_revoke on the
plan's items (what provisioning.sync.revoke_warning runs while every sync is planned), and on a plan with no
change. Each figure is the median of --repeat runs: wall time, and CPU time (this process and its
PostgreSQL backend; steadier than wall time on a busy machine). Uses its own database
(postgres://postgres@127.0.0.1:5432, created and dropped here). With --json the last line is one JSON
object with the figures. --profile adds a cProfile of one forecast (printed, not timed).
"""

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.sync import (
    analyze,
    bench_school,
    changed_people,
    create_database,
    csv_files,
    drop_database,
    log,
    make_people,
    one_sync,
    setup_django,
    zipped,
)

BUDGET_MS = 150  # of the ~1.9 s a 5% change re-sync may take


def _backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend has used (it runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(forecast, pid: int, repeat: int) -> tuple[float, float, list]:
    walls, cpus, movers = [], [], []
    for _ in range(repeat):
        backend, process, started = _backend_cpu(pid), time.process_time(), time.perf_counter()
        movers = forecast()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - process + _backend_cpu(pid) - backend)
    return statistics.median(walls), statistics.median(cpus), movers


def _plan_items(school, content: bytes) -> list[dict]:
    from provisioning.sync import sync_plan as planning
    from provisioning.sync.feeds import parse_feed
    from provisioning.sync.policy import policy_for

    feed = parse_feed(content, name="feed.zip", org_identifier=school.urn)
    return planning.make_plan(school=school, policy=policy_for(school), feed=feed).items


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    people = make_people(args.people)
    base = zipped(csv_files(people))
    changed = zipped(csv_files(changed_people(people)))
    db = create_database()
    workdir = Path(tempfile.mkdtemp(prefix="bench-revoke-"))
    try:
        setup_django(db, workdir)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django_scopes import scope, scopes_disabled

        from provisioning.sync.revoke_forecast import contacts_moving_to_revoke

        with scopes_disabled():
            school = bench_school()
        seconds, _ = one_sync(school, base, label="initial")
        log(f"initial import: {seconds:.1f} s")
        analyze()
        with scope(school=school), connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            change_items, same_items = _plan_items(school, changed), _plan_items(school, base)
            archives = sum(item["outcome"] == "archive" for item in change_items)
            log(f"5% change plan: {len(change_items)} items ({archives} archives); no-change plan: {len(same_items)}")

            def forecast(items):
                return lambda: contacts_moving_to_revoke(school=school, items=items)

            forecast(change_items)()  # warm caches, as the sync's earlier steps would
            with CaptureQueriesContext(connection) as queries:
                forecast(change_items)()
            wall, cpu, movers = _timed(forecast(change_items), pid, args.repeat)
            same_wall, same_cpu, _ = _timed(forecast(same_items), pid, args.repeat)
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(forecast(change_items))
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
                log(out.getvalue())

        result = {
            "people": args.people,
            "items": len(change_items),
            "movers": len(movers),
            "queries": len(queries),
            "change5_ms": round(wall * 1000, 1),
            "change5_cpu_ms": round(cpu * 1000, 1),
            "nochange_ms": round(same_wall * 1000, 2),
            "nochange_cpu_ms": round(same_cpu * 1000, 2),
            "budget_ms": BUDGET_MS,
            "load_average": round(os.getloadavg()[0], 2),
        }
        print(f"5% change plan ({result['items']} items): {result['change5_ms']:7.1f} ms wall, "
              f"{result['change5_cpu_ms']:6.1f} ms CPU (this process + PostgreSQL), {result['queries']} queries, "
              f"{result['movers']} contacts (budget {BUDGET_MS} ms)")  # fmt: skip
        print(f"no-change plan:            {result['nochange_ms']:7.2f} ms wall")
        print(f"load average {result['load_average']}")
        if args.json:
            print(json.dumps(result))
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(db)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
