"""Move the lock and the price snapshot forward: `make update-lock` runs this, then the suite.

1. The newest genai-prices on the package index becomes the pinned snapshot (pyproject.toml),
   and its publication day (the index's upload time, PEP 700) goes into catalog.yaml's
   price_snapshots table: the date every record prints as "true as of".
2. lock/test.txt and lock/demo.txt are compiled again with pip-tools (`pip-compile --upgrade
   --generate-hashes`), the demo lock constrained by the test lock so both agree; lock/build.txt
   (pip and the build backend, from lock/build.in) is compiled under the test lock too.

Needs the package index; nothing here runs at eval time. Review the diff, then commit it with
the regenerated demo record if its figures moved.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".venv-lock"
PIP_TOOLS = "pip-tools==7.6.2"
INDEX = "https://pypi.org/simple/"


def newest_release(name: str) -> tuple[str, str]:
    """(version, upload day) of the newest release, from the index's JSON API (PEP 691/700)."""
    req = urllib.request.Request(INDEX + name + "/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - a fixed https URL
        data = json.load(r)
    best: tuple[tuple[int, ...], str, str] | None = None
    for f in data["files"]:
        # final releases only (digits and dots): a pre-release is not a snapshot to ship
        m = re.match(rf"{name.replace('-', '_')}-(\d+(?:\.\d+)*)-py3-none-any\.whl$", f["filename"])
        if not m or f.get("yanked"):
            continue
        key = tuple(int(x) for x in m.group(1).split("."))
        if best is None or key > best[0]:
            best = (key, m.group(1), f["upload-time"][:10])
    if best is None:
        sys.exit(f"no release of {name} found on {INDEX}")
    return best[1], best[2]


def pin_snapshot(version: str, day: str) -> None:
    py = ROOT / "pyproject.toml"
    py.write_text(re.sub(r'"genai-prices==[^"]+"', f'"genai-prices=={version}"', py.read_text()))
    cat = ROOT / "modelsel" / "catalog.yaml"
    text = cat.read_text()
    if re.search(rf'^  "{re.escape(version)}":', text, re.M):
        return
    row = (f'  "{version}": {{as_of: "{day}", source: "upload time of genai-prices {version} on PyPI '
           f'(pypi.org/simple/genai-prices)"}}\n')
    cat.write_text(text.replace("price_snapshots:\n", "price_snapshots:\n" + row, 1))


def compile_locks() -> None:
    if not (TOOLS / "bin" / "pip-compile").exists():
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "--quiet", PIP_TOOLS], check=True)
    common = [str(TOOLS / "bin" / "pip-compile"), "--quiet", "--upgrade", "--generate-hashes", "--allow-unsafe",
              "--strip-extras", "--no-emit-index-url", "--no-emit-find-links"]
    subprocess.run(common + ["--all-extras", "-c", "lock/constraints.in", "-o", "lock/test.txt", "pyproject.toml"],
                   cwd=ROOT, check=True)
    subprocess.run(common + ["--extra", "local", "-c", "lock/test.txt", "-o", "lock/demo.txt", "pyproject.toml"],
                   cwd=ROOT, check=True)
    # pip and the build backend, installed first and hashed like the rest (the Makefile's .installed-build)
    subprocess.run(common + ["-c", "lock/test.txt", "-o", "lock/build.txt", "lock/build.in"], cwd=ROOT, check=True)


def main() -> None:
    version, day = newest_release("genai-prices")
    print(f"genai-prices {version}, published {day}")
    pin_snapshot(version, day)
    compile_locks()
    print("lock/test.txt, lock/demo.txt and lock/build.txt compiled; review `git diff`, run `make test` and `make demo`.")


if __name__ == "__main__":
    main()
