"""Starter-code slips: the "Prepare starter codes" job for one school, from codes to zip, through real workers.

    python -m bench.slips [--people 2000] [--workers 2] [--repeat 3] [--json] [--redis-db 12]

Stores a sync run's codes file of --people people (students in forms of years 7 to 13, staff and contacts
in bench.sync's proportions; one name in ten in Arabic, Devanagari or CJK, as the slips promise) and runs
the job the Download starter codes button starts (provisioning.sync.starter_slips), --repeat times on a
fresh run each, timing from the press (the job recorded, its task sent) to the job succeeded with its zip
stored. With --workers N (N >= 1) the job runs on one real Celery worker of N processes (prefork, as
bench.fleet starts them) on Redis 127.0.0.1:6379 (db --redis-db) and PostgreSQL (a database of its own,
created and dropped here); --workers 0 runs it in this process, tasks eager (the one-process figure).
Each figure is the median over the repeats, with the CPU seconds of the worker processes beside it (read
from /proc), and the load average printed beside every figure: the machine is shared.

With --json the last line is one JSON object: people, workers, wall_s, slips_per_s, cpu_ms_per_slip, the
target (2,000 slips in <= 20 s) and the load average.
"""

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench import fleet
from bench.sync import FIRST, LAST, SHARES, create_database, drop_database

TARGET_PEOPLE, TARGET_S = 2000, 20.0
OTHER_SCRIPTS = [("芳", "王"), ("محمد", "Khan"), ("प्रिया", "Sharma")]
FORM_SIZE = 28


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def codes_rows(n: int) -> list[list[str]]:
    """The rows services._store_credentials writes: person type, year, form, family, given, user name, code."""
    n_students, n_staff = int(n * SHARES["student"]), int(n * SHARES["staff"])
    forms = max(1, n_students // FORM_SIZE)
    rows = []
    for i in range(n):
        given, family = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        if i % 10 == 9:
            given, family = OTHER_SCRIPTS[(i // 10) % len(OTHER_SCRIPTS)]
        code = f"{i % 10000:04d}-BENC-{(i * 7919) % 10000:04d}".replace("0", "Q").replace("1", "R")
        if i < n_students:
            form = i % forms
            year = str(7 + form % 7)
            rows.append(["student", year, f"{year}{'ABCDEFGH'[form // 7 % 8]}{form // 56 or ''}", family, given,
                         f"s{i}", code])  # fmt: skip
        elif i < n_students + n_staff:
            rows.append(["staff", "", "", family, given, f"t{i}", code])
        else:
            rows.append(["contact", "", "", family, given, f"c{i}", code])
    return rows


def stored_run(school, rows):
    """A sync run whose codes file holds these rows, as an applied run leaves it."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from provisioning.models import SyncRun

    run = SyncRun.objects.create(school=school, trigger="manual", state="applied", applied_at=timezone.now())
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    run.credentials.save(f"{run.pk}.csv", ContentFile(out.getvalue().encode()), save=False)
    run.credentials_expire_at = timezone.now() + timedelta(hours=24)
    run.save()
    return run


def prepare_once(school, rows, worker) -> dict:
    """Press the button on a fresh run and wait for the zip."""
    from provisioning.sync import starter_slips
    from tenancy.models import Job

    run = stored_run(school, rows)
    pids = workers_of(worker)
    cpu_before = {pid: fleet.cpu_seconds(pid) for pid in pids}
    started, cpu0 = time.perf_counter(), time.process_time()
    job = starter_slips.credentials_prepare_start(
        school=school, actor=None, run=run, base_url="https://rollcall.example.org"
    )
    while True:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    cpu = (time.process_time() - cpu0) if worker is None else 0.0
    # Per worker process: the parts are spread over them when each has a share.
    shares = sorted((fleet.cpu_seconds(pid) - before for pid, before in cpu_before.items()), reverse=True)
    cpu += sum(shares)
    if job.state != Job.State.SUCCEEDED or job.counts.get("slips") != len(rows):
        raise SystemExit(f"the job did not make every slip: {job.state} {job.error} {job.counts}")
    size = starter_slips._storage().size(job.params["zip"])
    return {"wall_s": wall, "cpu_s": cpu, "cpu_by_process": shares, "pdfs": job.counts["pdfs"], "zip_bytes": size}


def workers_of(worker) -> list[int]:
    return [] if worker is None else [worker.pid, *fleet.descendants(worker.pid)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=TARGET_PEOPLE)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes; 0: in this process")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    rows = codes_rows(args.people)
    db = create_database("rollcall_bench_slips")
    workdir = Path(tempfile.mkdtemp(prefix="bench-slips-"))
    worker = None
    try:
        fleet.environment(db, workdir, args.redis_db)
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0" if args.workers else "1"
        fleet.setup_django()
        import logging

        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        from django_scopes import scope

        from tenancy.models import Organisation, School

        org = Organisation.objects.create(name="Bench Trust", slug="bench-trust")
        school = School.objects.create(organisation=org, name="Bench Academy", slug="bench")
        if args.workers:
            import redis

            redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
            worker = fleet.start_workers(args.workers, workdir)
        where = f"{args.workers} worker processes (prefork, Redis)" if args.workers else "this process (eager)"
        log(f"{args.people} people, {len({tuple(r[:3]) for r in rows})} groups; {where}; {load()}")
        runs = []
        with scope(school=school):
            prepare_once(school, rows[: min(len(rows), 50)], worker)  # warm fonts and templates, untimed
            for n in range(args.repeat):
                run = prepare_once(school, rows, worker)
                runs.append(run)
                log(f"run {n + 1}: {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU of the workers, "
                    f"({' + '.join(f'{c:.1f}' for c in run['cpu_by_process'])} by process), {run['pdfs']} PDFs, "
                    f"zip {run['zip_bytes'] / 1e6:.1f} MB; {load()}")  # fmt: skip
        wall = statistics.median(r["wall_s"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        result = {
            "people": args.people,
            "workers": args.workers,
            "celery": "prefork workers on Redis" if args.workers else "eager, in process",
            "repeat": args.repeat,
            "wall_s": round(wall, 2),
            "slips_per_s": round(args.people / wall, 1),
            "cpu_ms_per_slip": round(cpu / args.people * 1000, 2),
            "pdfs": runs[0]["pdfs"],
            "zip_mb": round(runs[0]["zip_bytes"] / 1e6, 2),
            "target": {"people": TARGET_PEOPLE, "wall_s": TARGET_S},
            "target_met": wall * TARGET_PEOPLE / args.people <= TARGET_S,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
        print(
            f"{args.people} slips in {result['wall_s']} s (median of {args.repeat}) = {result['slips_per_s']} slips/s "
            f"on {where}; {result['cpu_ms_per_slip']} ms CPU per slip; target {TARGET_PEOPLE} in <= {TARGET_S:.0f} s; "
            f"{load()}"
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
