"""The benchmarks' fake provider: the test fake in its own process (tests/fakes/process.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.process import FakeProcess  # noqa: E402

__all__ = ["FakeProcess", "ROOT"]
