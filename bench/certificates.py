"""Certificate figures: PDF render time, and a zip of 500 stored certificates (time and peak memory).

    python -m bench.certificates [--renders 100] [--zip 500] [--json]

Runs against a throwaway SQLite database and media folder in a temporary directory, so it never
touches var/. With --json the last line printed is one JSON object:
pdf_median_ms, pdf_median_cpu_ms, zip500_s, zip500_peak_mb (plus details).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# Names a certificate must render: mostly Latin, as in a typical school, and every script we promise.
NAMES = [
    ("Amelia", "Smith"),
    ("Oliver", "Jones"),
    ("Zoë", "Ó'Brien"),
    ("Kwame", "Okafor"),
    ("محمد", "Khan"),
    ("Freya", "Nowak"),
    ("प्रिया", "Sharma"),
    ("Theo", "Walker"),
    ("王芳", "Wang"),
    ("Isla", "Hughes"),
]


def _setup(workdir: Path) -> None:
    os.environ["ROLLCALL_VAR_DIR"] = str(workdir)
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("DEBUG", "1")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    import logging

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_demo_assessments", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


def _fixtures():
    from django.utils import timezone

    from assessments.models import Assessment, Certificate
    from tenancy.models import Organisation, School

    org = Organisation.objects.create(name="Bench Trust", slug="bench-trust")
    school = School.objects.create(organisation=org, name="Bench Academy", slug="bench")
    assessment = Assessment.objects.get(code="invigilator-core-2026-27")
    marks = [
        {"title": s.title, "mark": s.questions.count(), "out_of": s.questions.count()}
        for s in assessment.sections.all()
    ]
    now = timezone.now()

    def certificate(n: int) -> Certificate:
        from assessments.certificates import new_verification_code

        given, family = NAMES[n % len(NAMES)]
        return Certificate(
            school=school,
            code=new_verification_code(),
            assessment=assessment,
            holder_name=f"{given} {family}",
            assessment_title=assessment.title,
            score=sum(m["mark"] for m in marks),
            out_of=sum(m["out_of"] for m in marks),
            section_marks=marks,
            issued_at=now,
            expires_at=now.replace(year=now.year + 1),
        )

    return school, certificate


def bench_render(certificate, renders: int) -> dict:
    from assessments.certificates import certificate_pdf_bytes
    from tenancy.pdf import harfbuzz_subset_available

    certificate_pdf_bytes(certificate(0))  # warm fontconfig and the template cache
    wall, cpu, by_script = [], [], {"latin": [], "other": []}
    for n in range(renders):
        c = certificate(n)
        t0, c0 = time.perf_counter(), time.process_time()
        certificate_pdf_bytes(c)
        w, p = time.perf_counter() - t0, time.process_time() - c0
        wall.append(w)
        cpu.append(p)
        by_script["latin" if c.holder_name.isascii() or "Zoë" in c.holder_name else "other"].append(w)
    return {
        "pdf_median_ms": round(statistics.median(wall) * 1000, 1),
        "pdf_median_cpu_ms": round(statistics.median(cpu) * 1000, 1),
        "pdf_p90_ms": round(sorted(wall)[int(len(wall) * 0.9) - 1] * 1000, 1),
        "pdf_median_latin_ms": round(statistics.median(by_script["latin"]) * 1000, 1),
        "pdf_median_arabic_devanagari_cjk_ms": round(statistics.median(by_script["other"]) * 1000, 1),
        "harfbuzz_subset": harfbuzz_subset_available(),
        "renders": renders,
    }


def bench_zip(school, certificate, count: int) -> dict:
    """Store `count` certificates with real PDFs, then zip them all the way the job does."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django_scopes import scopes_disabled

    from assessments.certificates import certificate_pdf_bytes
    from assessments.models import Certificate
    from assessments.selectors import certificates_for_zip
    from assessments.services import certificate_zip_write

    # Ten distinct renders, each stored as its own file per certificate: 500 real stored PDFs.
    samples = [certificate_pdf_bytes(certificate(n)) for n in range(len(NAMES))]
    rows = []
    for n in range(count):
        c = certificate(n)
        c.pdf.name = default_storage.save(f"certificates/bench/{c.code}.pdf", ContentFile(samples[n % len(samples)]))
        rows.append(c)
    with scopes_disabled():
        Certificate.objects.bulk_create(rows, batch_size=250)
    stored_mb = sum(len(samples[n % len(samples)]) for n in range(count)) / 2**20

    def run(trace: bool):
        with scopes_disabled():
            qs = certificates_for_zip(school=school)
            with tempfile.TemporaryFile() as out:
                if trace:
                    tracemalloc.start()
                t0 = time.perf_counter()
                counts = certificate_zip_write(certificates=qs.iterator(chunk_size=200), fileobj=out)
                elapsed = time.perf_counter() - t0
                peak = tracemalloc.get_traced_memory()[1] if trace else 0
                if trace:
                    tracemalloc.stop()
                size = out.seek(0, 2)
        return elapsed, peak, counts, size

    elapsed, _, counts, size = run(trace=False)
    _, peak, _, _ = run(trace=True)
    return {
        "zip500_s": round(elapsed, 2),
        "zip500_peak_mb": round(peak / 2**20, 2),
        "zip_certificates": counts["added"],
        "zip_size_mb": round(size / 2**20, 1),
        "stored_pdfs_mb": round(stored_mb, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=100)
    parser.add_argument("--zip", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="rollcall-bench-"))
    try:
        _setup(workdir)
        from django_scopes import scopes_disabled

        with scopes_disabled():
            school, certificate = _fixtures()
        result = bench_render(certificate, args.renders)
        print(
            f"PDF render: median {result['pdf_median_ms']} ms wall, {result['pdf_median_cpu_ms']} ms CPU "
            f"over {args.renders} (Latin {result['pdf_median_latin_ms']} ms, "
            f"Arabic/Devanagari/CJK {result['pdf_median_arabic_devanagari_cjk_ms']} ms; target <= 100 ms)"
        )
        result.update(bench_zip(school, certificate, args.zip))
        print(
            f"Zip of {result['zip_certificates']} stored certificates ({result['stored_pdfs_mb']} MB of PDFs): "
            f"{result['zip500_s']} s, peak Python memory {result['zip500_peak_mb']} MB"
        )
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        result["cpus"] = os.cpu_count()
        if args.json:
            print(json.dumps(result))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
