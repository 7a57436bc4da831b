"""The HTML report in a real browser: headless Chromium loads it from disk, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, anthropic_cand, cli, openai_cand, oracle, write_req
from tests.test_reports import HOSTILE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--hide-scrollbars"]


def _chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "profile"
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                         timeout=120)
    return res.stdout


def test_report_renders_and_model_output_does_not_run(fake, keys, tmp_path: Path) -> None:
    fake.script("evil", answer=lambda p: HOSTILE if "charged" in p else oracle(p), latency_ms=20)
    fake.script("good", answer=oracle, latency_ms=60)
    out = tmp_path / "run"
    cli("eval", write_req(tmp_path, [openai_cand(fake, "evil"), anthropic_cand(fake, "good")]), "--out", out)
    url = (out / "report.html").resolve().as_uri()
    dom = _chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", url)
    assert "<title>modelsel: Ticket triage test</title>" in dom  # our title; a script from output would change it
    assert "pwned" not in dom.split("<body")[0]
    body = dom.split('id="drill-body">')[1].split("</tbody>")[0]
    assert body.count("<tr>") == 12  # the drill-down rendered, row by row, by our script
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in body  # the answer is shown as text
    assert "<img" not in body and "onerror" not in body.replace("onerror=\\", "").split("&lt;img")[0]
    assert 'id="chart-cost"' in dom and dom.count("<svg") >= 3
    assert 'id="cmp"' in dom and "CHOSEN" in dom
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    _chromium(tmp_path, "--window-size=1280,2600", f"--screenshot={shot}", url)
    assert shot.exists() and shot.stat().st_size > 20_000
