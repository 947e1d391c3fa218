"""One list of Debian packages (system-packages.txt) for the Makefile, CI and the Docker image.

The image lacked the CJK fonts certificates need while the Makefile and CI installed them: three lists had
drifted apart. Now each reads the one file, and none names a package itself.
"""

import re
import subprocess

from django.conf import settings

ROOT = settings.BASE_DIR
READERS = ["Makefile", ".ci/run", "Dockerfile"]


def _listed() -> dict[str, bool]:
    """package -> only for tests"""
    out = {}
    for line in (ROOT / "system-packages.txt").read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            out[words[0]] = words[1:2] == ["test"]
    return out


def test_the_list_holds_what_certificates_and_browser_tests_need():
    packages = _listed()
    for needed in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-noto-core", "fonts-noto-cjk"):
        assert packages.get(needed) is False, f"{needed} must be in the list, for production too"
    assert packages.get("chromium") is True


def test_the_makefile_ci_and_dockerfile_each_read_the_list_and_name_no_package_themselves():
    packages = _listed()
    for reader in READERS:
        text = (ROOT / reader).read_text()
        assert "system-packages.txt" in text, reader
        named = [p for p in packages if re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", text)]
        assert named == [], f"{reader} names {named} itself: add packages to system-packages.txt only"


def test_the_makefile_installs_every_listed_package():
    result = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            "print-system-packages: ; @echo $(SYSTEM_PACKAGES)",
            "print-system-packages",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.split() == list(_listed()), result.stderr


def test_the_docker_image_installs_every_package_but_those_for_tests():
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = re.search(r"\$\((sed [^)]*system-packages\.txt[^)]*)\)", dockerfile).group(1)
    command = command.replace("/tmp/system-packages.txt", "system-packages.txt")
    result = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.stdout.split() == [p for p, test_only in _listed().items() if not test_only]
    assert "COPY system-packages.txt" in dockerfile
