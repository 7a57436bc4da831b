"""What moved since the lock: every package pinned in a lock file whose installed version differs,
as a Markdown table (for the drift job's summary). Exit 0 always: drift is news, not a failure.

    python lock/drift.py lock/test.txt >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", lock.read_text(), re.M))


def main(lock: str) -> None:
    moved = []
    for name, pinned in sorted(pins(Path(lock)).items()):
        try:
            now = version(name)
        except PackageNotFoundError:
            now = "not installed"
        if now != pinned:
            moved.append((name, pinned, now))
    print(f"### Packages that moved since {lock}\n")
    if not moved:
        print("None: the newest allowed versions are the locked ones.")
        return
    print("| package | locked | installed now |\n|---|---|---|")
    for name, pinned, now in moved:
        print(f"| {name} | {pinned} | {now} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lock/test.txt")
